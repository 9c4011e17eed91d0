"""``GET /`` in a real headless Chromium against a real uvicorn on 127.0.0.1: the page reads /metadata and
offers the run's inputs, and a PNG put into its file picker comes back as the model's prediction on the page
(driven over the DevTools protocol on a pipe: ``tests/serve/devtools.py``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image
from sklearn.datasets import load_digits

from layerlab.serve.predictor import Predictor
from layerlab.serve.server import create_app
from tests.serve.devtools import DevTools


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture
def live_server(digits_run):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Predictor.from_run(digits_run, runtime="onnx")), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_real_uvicorn_serves_the_page_and_predictions(live_server):
    page = httpx.get(live_server + "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"] and "/predict" in page.text
    answer = httpx.post(live_server + "/predict", json={"inputs": [[[[0.0] * 8] * 8]]})
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_chromium_renders_the_page_from_the_metadata(live_server, tmp_path):
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", live_server + "/"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "digits-cnn (classification)" in done.stdout  # the title the page's script set from /metadata
    assert "10 classes" in done.stdout
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Failed to load resource" in line]
    assert console == [], console


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_an_image_dropped_on_the_page_shows_the_models_prediction(live_server, digits_run, tmp_path):
    digit = load_digits().images[7]  # a 7, as an 8-bit grey PNG the user picks
    path = tmp_path / "seven.png"
    Image.fromarray((digit / 16 * 255).round().astype(np.uint8)).save(path)
    expected = Predictor.from_run(digits_run, runtime="onnx")([str(path)])[0]
    with DevTools(chromium(), tmp_path / "profile") as browser:
        browser.open(live_server + "/")
        browser.wait("!document.getElementById('files').hidden")  # the page has read /metadata
        browser.set_files("#picker", [path])
        rows = browser.wait("(() => { const t = document.querySelector('#result table.prediction');"
                            " return t && [...t.rows].map((r) => [r.cells[0].textContent, r.cells[1].textContent]); })()")
        error = browser.evaluate("document.querySelector('#result .error')?.textContent ?? null")
    assert error is None
    assert rows[0] == [expected["label"], f"{100 * expected['probability']:.1f} %"]
    assert [name for name, _ in rows] == [name for name, _ in expected["top"]]
