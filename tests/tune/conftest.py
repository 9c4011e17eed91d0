"""Tiny recipes for searches (a trial trains in about a second) and a real PostgreSQL server."""

from __future__ import annotations

import copy
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

# scikit-learn's 8x8 digits, 300 examples, a one-layer MLP: a good learning rate reaches ~0.9 validation
# accuracy in two epochs, a tiny one stays near chance (0.1).
TINY = {
    "name": "tiny",
    "data": {"name": "digits", "limit": 300, "val_fraction": 0.2},
    "model": {"name": "mlp", "hidden": [32]},
    "train": {"epochs": 2, "batch_size": 64, "lr": 0.01, "diagnostics_every": 0, "report": False},
}


@pytest.fixture
def tiny() -> dict:
    return copy.deepcopy(TINY)


@pytest.fixture
def with_space():
    """``with_space({"train.lr": {...}}, strategy="grid")``: the tiny recipe with a tune section."""

    def make(space: dict, **tune) -> dict:
        recipe = copy.deepcopy(TINY)
        recipe["tune"] = {"space": space, **tune}
        return recipe

    return make


# ---------------------------------------------------------------------------------- PostgreSQL
def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))  # Debian's postgresql package
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL server on a free localhost port; its URL. The server refuses to run as
    root, so as root it runs as the 'postgres' user (or 'nobody') from a folder that user owns."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    base = Path(tempfile.mkdtemp(prefix="layerlab-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = next((u for u in ("postgres", "nobody") if _user_exists(u)), None)
        if user is None or shutil.which("runuser") is None:
            pytest.skip("running as root, with no unprivileged user (postgres, nobody) or runuser to start PostgreSQL")
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    data, port = base / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], cwd=base, check=True, capture_output=True, timeout=120)

    run(initdb, "-D", str(data), "-U", "layerlab", "--auth=trust", "-E", "UTF8", "--no-sync")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    run(pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "server.log"), "-w", "-t", "60", "start")
    try:
        yield f"postgresql://layerlab@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], cwd=base,
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
