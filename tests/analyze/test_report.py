"""The run report: written at the end of every run and by `layerlab report`, self-contained, and
loaded by a real headless Chromium without console errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from layerlab.analyze import html
from layerlab.analyze.report import SECTIONS, ReportContext, Section
from layerlab.cli import main

CLASSIFICATION_SECTIONS = ("Summary", "Data", "Training", "Gradients and activations", "Classes",
                           "ROC and precision-recall", "Calibration", "Most confidently wrong", "Recipe")


def section_titles(page: str) -> list[str]:
    return re.findall(r"<section id=\"[^\"]*\"><h2>([^<]*)</h2>", page)


def assert_classification_sections(page: str) -> None:
    """The classification sections in order; other tests may have added explanations and audits."""
    titles = [t for t in section_titles(page) if t not in ("Explanations", "Audits")]
    assert titles == list(CLASSIFICATION_SECTIONS)


def assert_self_contained(page: str) -> None:
    # every image is inlined, and nothing is fetched from anywhere (no scripts, links or remote sources)
    sources = re.findall(r"(?:src|href)=\"([^\"]*)\"", page)
    assert sources, "the page has no images"
    assert all(s.startswith(("data:", "#")) for s in sources), [s[:40] for s in sources if not s.startswith("data:")]
    assert "<script" not in page and "(failed)" not in page


def test_classification_run_writes_its_report(digits_run):
    page = (digits_run / "report.html").read_text(encoding="utf-8")
    assert_classification_sections(page)
    assert_self_contained(page)
    assert page.count("data:image/png;base64,") >= 10
    for png in ("samples", "gradient_flow", "gradient_norms", "activations", "confusion", "roc_pr",
                "reliability", "reliability_raw", "confidently_wrong"):
        assert (digits_run / "report" / f"{png}.png").stat().st_size > 5000, png
    # the temperature the run fitted is reported, with the test ECE before and after
    calibration = json.loads((digits_run / "summary.json").read_text())["calibration"]
    assert f"T = {calibration['temperature']:.3f}" in page
    assert "test ECE" in page


def test_report_command_rewrites_the_report(digits_run, tmp_path, capsys):
    copy = shutil.copytree(digits_run, tmp_path / "moved")
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert str(copy / "report.html") in capsys.readouterr().out
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert_classification_sections(page)
    assert_self_contained(page)


def test_regression_report(diabetes_run):
    page = (diabetes_run / "report.html").read_text(encoding="utf-8")
    titles = section_titles(page)
    assert titles == ["Summary", "Data", "Training", "Gradients and activations", "Predictions", "Recipe"]
    assert_self_contained(page)
    assert "The largest errors" in page and "r2" in page
    assert (diabetes_run / "report" / "regression.png").exists()


def test_a_task_adds_its_own_sections(digits_run, monkeypatch):
    """The hook other tasks use: a function registered under the task's name adds sections."""
    from layerlab.analyze.report import write_report
    from layerlab.api import load_run

    calls = []

    def extra(ctx: ReportContext) -> list[Section]:
        calls.append(ctx.task.name)
        return [Section("Samples of the task", [html.preformatted("generated <text> & more")])]

    loaded = load_run(digits_run)
    monkeypatch.setattr(loaded.task, "name", "toy_task")
    SECTIONS.add("toy_task", extra)
    try:
        ctx = ReportContext(loaded.run, loaded.recipe, loaded.task, loaded.model, loaded.info, loaded.preprocessor,
                            None, loaded.device, {"status": "finished"}, [])
        page = write_report(ctx).read_text(encoding="utf-8")
    finally:
        SECTIONS._entries.pop("toy_task")
    assert calls == ["toy_task"]
    assert "Samples of the task" in section_titles(page)
    assert "generated &lt;text&gt; &amp; more" in page  # escaped


def test_a_failing_section_does_not_cost_the_report(digits_run, monkeypatch, caplog):
    from layerlab.analyze.report import write_report
    from layerlab.api import load_run

    def broken(ctx: ReportContext) -> list[Section]:
        raise ValueError("no such thing")

    loaded = load_run(digits_run)
    monkeypatch.setattr(loaded.task, "name", "broken_task")
    SECTIONS.add("broken_task", broken)
    try:
        ctx = ReportContext(loaded.run, loaded.recipe, loaded.task, loaded.model, loaded.info, loaded.preprocessor,
                            None, loaded.device, {"status": "finished"}, [])
        page = write_report(ctx).read_text(encoding="utf-8")
    finally:
        SECTIONS._entries.pop("broken_task")
    assert "Sections for broken_task (failed)" in section_titles(page)
    assert "ValueError: no such thing" in page
    assert "Recipe" in section_titles(page)


# ------------------------------------------------------------------------------------------ Chromium
def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_chromium_loads_the_report_without_console_errors(digits_run, tmp_path):
    shot = tmp_path / "report.png"
    page = digits_run / "report.html"
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}",
               "--window-size=1280,4000", f"--screenshot={shot}", page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # Chromium logs every console message of the page as "CONSOLE(...)"; also any failed resource load
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "ERR_FILE_NOT_FOUND" in line
               or "Failed to load resource" in line]
    assert console == [], console
    assert shot.exists() and shot.stat().st_size > 50_000  # a blank page is a few kB

    # the page really is rendered: the screenshot is mostly not one colour
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.std() > 0.05


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_chromium_reports_a_console_error_when_there_is_one(tmp_path):
    """The check above can fail: a page with a broken script gives a CONSOLE line."""
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); nosuch();</script></body></html>")
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
               f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={tmp_path / 'b.png'}", broken.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert any("CONSOLE" in line and "boom" in line for line in done.stderr.splitlines()), done.stderr[-2000:]


def test_report_needs_a_run_directory(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_html_fragments_escape_text():
    assert html.table(["a<b"], [["<i>", 1.23456789]]) == (
        '<table><thead><tr><th class="text">a&lt;b</th></tr></thead>'
        '<tbody><tr><td class="text">&lt;i&gt;</td><td>1.235</td></tr></tbody></table>')
    assert 'title="+0.5000"' in html.highlighted_tokens(["good"], [0.5])
    assert Path  # keep the import for type hints in helpers above
