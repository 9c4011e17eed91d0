"""Logs a run to MLflow: the flattened recipe as parameters, every epoch's metrics, the test metrics,
the run directory's files as artifacts, and the model.

    track:
      mlflow: true                        # SQLite store mlflow.db beside the run directory
      mlflow: http://mlflow.example:5000  # or a tracking server, or {uri, experiment, ...}

The model is logged as LayerLab saves it (``model/``: model.safetensors, model.json, recipe.yaml), which
``layerlab.load_run`` reads back after ``mlflow artifacts download``; nothing is pickled. A resumed run
logs to the MLflow run it started (its id is kept in RUN/mlflow.json).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab.errors import LayerLabError
from layerlab.track.index import flatten
from layerlab.track.tracker import Tracker

if TYPE_CHECKING:
    from layerlab.recipe import Recipe
    from layerlab.rundir import RunDir
    from layerlab.track.config import MLflowConfig
    from layerlab.train.trainer import Trainer

log = logging.getLogger(__name__)

STATE_FILE = "mlflow.json"  # in the run directory: which MLflow run this one logs to
ARTIFACTS = ("recipe.yaml", "summary.json", "history.csv", "curves.png", "confusion.png", "report.html")
MODEL_FILES = ("model.safetensors", "model.json", "recipe.yaml")
PARAM_VALUE_CHARS = 6000  # MLflow's limit on a parameter's value
CONNECT_SECONDS = 3.0  # how long the tracking server has to accept a connection before the run is refused
STATUS = {"finished": "FINISHED", "stopped": "FINISHED", "interrupted": "KILLED", "nan": "FAILED"}


def default_uri(run_dir: Path) -> str:
    """A SQLite store beside the run directory: ``sqlite:////abs/runs/mlflow.db``."""
    return f"sqlite:///{(run_dir.resolve().parent / 'mlflow.db').as_posix()}"


def check_reachable(uri: str, timeout: float = CONNECT_SECONDS) -> None:
    """Raise LayerLabError at once when the tracking server of an http(s) ``uri`` cannot be reached.

    MLflow's client retries a dead address with back-off for minutes before it says anything; a plain
    TCP connection tells in ``timeout`` seconds. Skipped behind a proxy, which only the client goes through.
    """
    import socket
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    try:
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range, or not a number
        raise LayerLabError(f"track.mlflow: {uri}: not a valid address ({exc})") from None
    if not host or (urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(host)):
        return
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc) or type(exc).__name__)
        raise LayerLabError(f"track.mlflow: cannot reach the MLflow server at {host}:{port} ({reason} within "
                            f"{timeout:g} s); start it, correct the address, or leave track.mlflow out") from None


class MLflowTracker(Tracker):
    name = "mlflow"

    def __init__(self, cfg: MLflowConfig, recipe: Recipe, rundir: RunDir):
        self.uri = cfg.uri or default_uri(rundir.path)
        check_reachable(self.uri)
        self.experiment = cfg.experiment or recipe.name
        self.cfg, self.recipe, self.rundir = cfg, recipe, rundir
        self.client: Any = None
        self.run_id: str | None = None

    # ------------------------------------------------------------------------------- callbacks
    def on_fit_start(self, trainer: Trainer) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.uri)
        state_path = self.rundir.path / STATE_FILE
        if state_path.is_file():
            saved = json.loads(state_path.read_text(encoding="utf-8"))
            if saved.get("uri") == self.uri:  # a resumed run continues its MLflow run
                self.run_id = saved["run_id"]
                self._call(self.client.update_run, self.run_id, status="RUNNING")
                return
        experiment_id = self._experiment_id()
        run = self._call(self.client.create_run, experiment_id, run_name=self.rundir.path.name,
                         tags={"layerlab.run_dir": str(self.rundir.path.resolve()), "layerlab.recipe": self.recipe.name})
        self.run_id = run.info.run_id
        state_path.write_text(json.dumps({"uri": self.uri, "run_id": self.run_id}) + "\n", encoding="utf-8")
        flat = flatten({k: v for k, v in self.recipe.to_dict().items() if k not in ("tune", "track")})
        params = [Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in flat.items()]
        params = [Param(p.key, p.value[:PARAM_VALUE_CHARS]) for p in params]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 parameters a call
            self._call(self.client.log_batch, self.run_id, params=params[start:start + 100])

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        step = int(row["epoch"])
        metrics = [Metric(k, float(v), stamp, step) for k, v in row.items() if k not in ("epoch", "partial")]
        try:
            self.client.log_batch(self.run_id, metrics=metrics)
        except Exception as exc:  # noqa: BLE001 - a tracking hiccup must not end the training
            log.warning("MLflow: could not log epoch %d (%s)", step, exc)

    # ------------------------------------------------------------------------ after the summary
    def finish(self, summary: dict[str, Any]) -> None:
        """Test metrics, artifacts and the model, then the MLflow run's final status."""
        from mlflow.entities import Metric

        if self.run_id is None:
            return
        stamp = int(time.time() * 1000)
        step = int(summary.get("epochs") or 0)
        metrics = [Metric(f"test_{k}", float(v), stamp, step) for k, v in (summary.get("test") or {}).items()
                   if isinstance(v, (int, float))]
        if metrics:
            self._call(self.client.log_batch, self.run_id, metrics=metrics)
        path = self.rundir.path
        if self.cfg.artifacts:
            for name in ARTIFACTS:
                if (path / name).is_file():
                    self._call(self.client.log_artifact, self.run_id, str(path / name))
        if self.cfg.log_model:
            for name in MODEL_FILES:
                if (path / name).is_file():
                    self._call(self.client.log_artifact, self.run_id, str(path / name), "model")
        self._call(self.client.set_terminated, self.run_id, STATUS.get(summary.get("status", ""), "FINISHED"))

    def fail(self, error: BaseException) -> None:
        if self.run_id is None:
            return
        message = f"{type(error).__name__}: {error}"[:PARAM_VALUE_CHARS]
        self.client.set_tag(self.run_id, "layerlab.error", message)
        self.client.set_terminated(self.run_id, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")

    # --------------------------------------------------------------------------------- helpers
    def _experiment_id(self) -> str:
        existing = self._call(self.client.get_experiment_by_name, self.experiment)
        if existing is not None:
            return existing.experiment_id
        location = None
        if self.uri.startswith("sqlite:///"):  # artifacts beside the store, not in the working directory
            store = Path(self.uri[len("sqlite:///"):])
            location = (store.parent / "mlartifacts" / self.experiment).resolve().as_uri()
        try:
            return self.client.create_experiment(self.experiment, artifact_location=location)
        except Exception:  # noqa: BLE001 - another worker created it first
            existing = self._call(self.client.get_experiment_by_name, self.experiment)
            if existing is None:
                raise
            return existing.experiment_id

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; the user needs the store and the cause
            raise LayerLabError(f"track.mlflow: {self.uri}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
