"""``GET /`` in a real headless Chromium against a real uvicorn on 127.0.0.1: the page reads /metadata and
offers the run's inputs. (Uploading a file through the page is not driven here.)"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import httpx
import pytest
import uvicorn

from layerlab.serve.predictor import Predictor
from layerlab.serve.server import create_app


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture
def live_server(digits_run):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Predictor.from_run(digits_run)), host="127.0.0.1", port=port,
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
