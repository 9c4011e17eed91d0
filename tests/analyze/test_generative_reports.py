"""Reports of a language-model run and a GAN run: the common sections, plus what each task adds."""

from __future__ import annotations

import re

import pytest

import layerlab


def titles(page: str) -> list[str]:
    return re.findall(r"<h2>([^<]*)</h2>", page)


@pytest.mark.slow
def test_language_model_report_shows_generated_text(shared_data, tmp_path):  # tiny-shakespeare
    run = tmp_path / "lm"
    layerlab.run("shakespeare-rnn", ["train.epochs=1", "data.limit=20000", "model.hidden=32", "model.layers=1",
                                     "model.embed_dim=16", "data.max_length=32", "train.diagnostics_every=5"], out=run)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert titles(page) == ["Summary", "Data", "Training", "Gradients and activations", "Generated text", "Recipe"]
    assert "(failed)" not in page and "perplexity" in page
    assert "Sample training inputs, decoded" in page
    assert "sampled at temperature 0.8" in page


@pytest.mark.slow
def test_gan_report_shows_generated_images(fashion_dir, tmp_path):
    run = tmp_path / "gan"
    layerlab.run("fashion-dcgan", ["train.epochs=1", "data.limit=512", "model.width=8", "model.d_width=8",
                                   "model.latent=8", "train.precision=fp32"], out=run)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert titles(page) == ["Summary", "Data", "Training", "Gradients and activations", "Generated images", "Recipe"]
    assert "(failed)" not in page
    assert (run / "report" / "generated.png").stat().st_size > 2000
