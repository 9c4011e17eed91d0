"""``layerlab serve``'s application, through httpx's ASGI transport (no sockets): micro-batched answers
equal one-by-one answers, bad requests are 4xx with the field named, and the server keeps answering."""

from __future__ import annotations

import asyncio
import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from layerlab.serve.predictor import Predictor
from layerlab.serve.server import create_app


@pytest.fixture(scope="module")
def predictors(digits_run):
    return {"torch": Predictor.from_run(digits_run), "onnx": Predictor.from_run(digits_run, runtime="onnx")}


def pixels(n: int) -> np.ndarray:
    return (load_digits().images[:n, None] / 16).astype(np.float32)


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((image[0] * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


async def _post_all(app, bodies):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        return await asyncio.gather(*[client.post("/predict", **body) for body in bodies])


def probabilities(response) -> list[float]:
    return [p["probability"] for p in response.json()["predictions"]]


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_concurrent_requests_are_batched_and_answered_as_alone(predictors, runtime):
    predictor = predictors[runtime]
    x = pixels(48)
    app = create_app(predictor, max_batch=16, max_wait_ms=50)
    responses = asyncio.run(_post_all(app, [{"json": {"inputs": [x[i].tolist()]}} for i in range(48)]))
    alone = [predictor(x[i]) for i in range(48)]
    assert all(r.status_code == 200 for r in responses)
    for response, single in zip(responses, alone):
        got = response.json()["predictions"][0]
        assert got == single[0]  # the same bits: PyTorch at fixed batch shapes, ONNX Runtime as it is
    batches = [line for line in asyncio.run(_get(app, "/metrics")).text.splitlines()
               if line.startswith("layerlab_batch_size_count")]
    assert int(batches[0].split()[-1]) < 48  # some requests shared a forward pass


async def _get(app, path):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        return await client.get(path)


def test_files_and_base64_images_give_the_predictors_answer(predictors):
    predictor = predictors["torch"]
    x = pixels(3)
    images = [png(image) for image in x]
    expected = [p["label"] for p in predictor((np.stack([np.asarray(Image.open(io.BytesIO(b)))[None] for b in images])
                                               / 255).astype(np.float32))]
    app = create_app(predictor)
    files = [("files", (f"{i}.png", b, "image/png")) for i, b in enumerate(images)]
    encoded = [base64.b64encode(b).decode() for b in images]
    by_files, by_json = asyncio.run(_post_all(app, [{"files": files}, {"json": {"images": encoded}}]))
    assert [p["label"] for p in by_files.json()["predictions"]] == expected
    assert [p["label"] for p in by_json.json()["predictions"]] == expected
    big = Image.fromarray((x[0, 0] * 255).astype(np.uint8)).convert("RGB").resize((32, 32))  # resized, converted
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG")
    (response,) = asyncio.run(_post_all(app, [{"files": {"files": ("big.jpg", buffer.getvalue(), "image/jpeg")}}]))
    assert response.status_code == 200 and len(response.json()["predictions"]) == 1


async def _chunks(parts: list[bytes]):
    for part in parts:
        yield part


BAD = [
    ({"content": b"1,2,3", "headers": {"content-type": "text/csv"}}, 415, "content-type"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "body"),
    ({"json": {"inputs": [[0.5] * 64]}}, 422, "inputs"),  # flat, not (1, 8, 8)
    ({"json": {"inputs": [[[0.1, 0.2], [0.3]]]}}, 422, "inputs"),  # ragged
    ({"json": {"images": ["not base64 at all!"]}}, 422, "images[0]"),
    ({"json": {"images": [base64.b64encode(b"GIF89a broken").decode()]}}, 422, "images[0]"),
    ({"json": {"sentences": ["a digit?"]}}, 422, "sentences"),
    ({"json": {"rows": [{"a": 1}]}}, 422, "rows"),
    ({"json": {"audio": ["AAAA"]}}, 422, "audio"),
    ({"json": {"inputs": [], "rows": []}}, 422, "body"),
    ({"json": {"inputs": [[[[0.0] * 8] * 8]] * 9}}, 422, "inputs"),  # more items than max_items
    ({"files": {"files": ("x.png", b"\x89PNG\r\n\x1a\n truncated", "image/png")}}, 422, "files[0]"),
    ({"files": {"files": ("empty.png", b"", "image/png")}}, 422, "files[0]"),
    ({"content": b"x" * 5000, "headers": {"content-type": "application/json"}}, 413, "body"),
    ({"content": _chunks([b"[", b"0," * 2500, b"0]"]), "headers": {"content-type": "application/json"}},
     413, "body"),  # sent in chunks, without a Content-Length: measured once read
    ({"content": b"", "headers": {}}, 415, "content-type"),  # no content type at all
    ({"content": b'{"inputs": [[[' + b",".join([b"[" + b",".join([b"NaN"] * 8) + b"]"] * 8) + b"]]]}",
      "headers": {"content-type": "application/json"}}, 422, "inputs"),  # Python's JSON reads NaN
    ({"json": {"inputs": "0.5"}}, 422, "inputs"),  # not a list
    ({"json": [[0.5]]}, 422, "body"),  # not an object
    ({"files": [("files", (f"{i}.png", b"\x89PNG", "image/png")) for i in range(9)]}, 422, "files"),  # > max_items
]


def test_a_burst_of_bad_requests_between_good_ones_leaves_every_good_answer_correct(predictors):
    predictor = predictors["onnx"]
    x = pixels(len(BAD) + 1)
    alone = [predictor(x[i])[0]["top"] for i in range(len(x))]
    app = create_app(predictor, max_batch=8, max_wait_ms=20, max_items=8, max_body_bytes=4096)
    bodies = []
    for i, (bad, _, _) in enumerate(BAD):
        bodies += [{"json": {"inputs": [x[i].tolist()]}}, bad]
    bodies.append({"json": {"inputs": [x[len(BAD)].tolist()]}})
    responses = asyncio.run(_post_all(app, bodies))
    good, bad = responses[0::2], responses[1::2]
    assert [r.json()["predictions"][0]["top"] for r in good] == alone
    for response, (_, status, field) in zip(bad, BAD):
        assert response.status_code == status, response.text
        assert response.json()["error"]["field"] == field, response.json()
    assert 'status="500"' not in asyncio.run(_get(app, "/metrics")).text


def test_health_metadata_metrics_and_docs(predictors):
    app = create_app(predictors["torch"], max_batch=4)
    asyncio.run(_post_all(app, [{"json": {"inputs": [pixels(1)[0].tolist()]}},
                                {"content": b"", "headers": {"content-type": "text/plain"}}]))
    assert asyncio.run(_get(app, "/health")).json()["status"] == "ok"
    assert asyncio.run(_get(app, "/wp-admin/x")).status_code == 404
    meta = asyncio.run(_get(app, "/metadata")).json()
    assert meta["task"] == "classification" and meta["recipe"] == "digits-cnn" and len(meta["classes"]) == 10
    assert meta["input"]["shape"] == ["batch", 1, 8, 8] and "accuracy" in meta["metrics"]
    assert meta["serving"]["max_batch"] == 4 and "preprocessor" not in meta["input"]
    metrics = asyncio.run(_get(app, "/metrics")).text
    assert 'layerlab_requests_total{path="/predict",status="200"} 1' in metrics
    assert 'layerlab_requests_total{path="/predict",status="415"} 1' in metrics
    assert 'layerlab_request_seconds_bucket{path="/predict",le="+Inf"} 2' in metrics
    assert "layerlab_batch_size_sum 1.000000" in metrics
    assert 'layerlab_requests_total{path="other",status="404"} 1' in metrics and "wp-admin" not in metrics
    schema = asyncio.run(_get(app, "/openapi.json")).json()
    assert "/predict" in schema["paths"] and "multipart/form-data" in str(schema["paths"]["/predict"])
    assert asyncio.run(_get(app, "/docs")).status_code == 200


def test_table_rows_and_csv_files_missing_columns_named(table_run, wine):
    predictor = Predictor.from_run(table_run)
    header, rows = wine
    app = create_app(predictor)
    good_rows = [dict(zip(header[:-1], r[:-1])) for r in rows[:5]]
    csv_text = "\n".join([",".join(header[:-1])] + [",".join(r[:-1]) for r in rows[:5]]).encode()
    missing = dict(good_rows[0])
    del missing["colour"]
    by_rows, by_csv, bad_row, bad_csv, bad_number = asyncio.run(_post_all(app, [
        {"json": {"rows": good_rows}},
        {"files": {"files": ("rows.csv", csv_text, "text/csv")}},
        {"json": {"rows": [good_rows[1], missing]}},
        {"files": {"files": ("rows.csv", b"alcohol,ash\n1,2\n", "text/csv")}},
        {"json": {"rows": [{**good_rows[0], "ash": "lots"}]}},
    ]))
    expected = [p["label"] for p in predictor.rows(good_rows)]
    assert [p["label"] for p in by_rows.json()["predictions"]] == expected
    assert [p["label"] for p in by_csv.json()["predictions"]] == expected
    assert bad_row.status_code == 422 and bad_row.json()["error"]["field"] == "rows[1]"
    assert "colour" in bad_row.json()["error"]["message"]
    assert bad_csv.status_code == 422 and bad_csv.json()["error"]["field"] == "files[0]"
    assert "missing column" in bad_csv.json()["error"]["message"]
    assert bad_number.status_code == 422 and "ash" in bad_number.json()["error"]["message"]
    (too_many,) = asyncio.run(_post_all(create_app(predictor, max_items=3),
                                        [{"files": {"files": ("rows.csv", csv_text, "text/csv")}}]))
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "files"
    assert "5 examples" in too_many.json()["error"]["message"]


def test_the_serve_command_serves_a_run_or_an_exported_file(digits_run, tmp_path, monkeypatch):
    from layerlab.cli import main
    from layerlab.serve import launch
    from layerlab.serve.export import export

    served = []
    monkeypatch.setattr(launch, "serve", lambda app, **options: served.append((app, options)))
    exported = export(digits_run, format="onnx", out=tmp_path / "d.onnx", limit=50).path
    assert main(["serve", str(exported), "--port", "8123", "--max-batch", "4", "--max-wait-ms", "1"]) == 0
    assert main(["serve", str(digits_run), "--runtime", "torch"]) == 0
    (from_file, options), (from_run, defaults) = served
    assert options == {"host": "127.0.0.1", "port": 8123} and defaults["port"] == 8000
    file_meta, run_meta = asyncio.run(_get(from_file, "/metadata")).json(), asyncio.run(_get(from_run, "/metadata")).json()
    assert file_meta["format"] == "onnx" and file_meta["serving"]["max_batch"] == 4
    assert file_meta["serving"]["max_wait_ms"] == 1.0
    assert run_meta["format"] == "torch" and run_meta["serving"]["max_batch"] == 32
    body = [{"json": {"inputs": pixels(5).tolist()}}]
    (a,), (b,) = asyncio.run(_post_all(from_file, body)), asyncio.run(_post_all(from_run, body))
    assert [p["label"] for p in a.json()["predictions"]] == [p["label"] for p in b.json()["predictions"]]
