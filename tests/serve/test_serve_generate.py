"""A VAE run: its decoder exported (noise in, images out) and ``POST /generate`` serving base64 PNGs."""

from __future__ import annotations

import asyncio
import base64
import io

import httpx
import numpy as np
from PIL import Image

from layerlab.api import run
from layerlab.serve.export import export
from layerlab.serve.predictor import Predictor
from layerlab.serve.server import create_app


async def _post_all(app, path, bodies):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        return await asyncio.gather(*[client.post(path, json=body) for body in bodies])


def test_vae_decoder_exports_and_generate_serves_its_images(fashion_dir, tmp_path, digits_run):
    vae = run("fashion-vae", ["data.limit=500", "train.epochs=1", "train.report=false"], out=tmp_path / "vae").run_dir
    result = export(vae, format="onnx", out=tmp_path / "decoder.onnx", limit=100)
    assert result.spec["exported"] == "the VAE's decoder" and result.spec["input"]["kind"] == "noise"
    assert result.check.passed and result.spec["output"]["kind"] == "images"
    predictor = Predictor.from_export(result.path)
    app = create_app(predictor)
    first, again, other, too_many = asyncio.run(_post_all(app, "/generate", [
        {"n": 3, "seed": 7}, {"n": 3, "seed": 7}, {"n": 3, "seed": 8}, {"n": 1000}]))
    assert first.status_code == 200 and first.json()["shape"] == [1, 28, 28]
    assert first.json()["images"] == again.json()["images"] != other.json()["images"]
    pixels = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(b)))) for b in first.json()["images"]])
    z = np.random.default_rng(7).standard_normal((3, *predictor.input_shape)).astype(np.float32)
    assert np.abs(pixels / 255 - predictor.run(z)[:, 0]).max() <= 0.5 / 255 + 1e-6  # the PNG is the decoder's output
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "n"
    (not_generative,) = asyncio.run(_post_all(create_app(Predictor.from_run(digits_run)), "/generate", [{"n": 1}]))
    assert not_generative.status_code == 422 and "does not generate" in not_generative.json()["error"]["message"]
