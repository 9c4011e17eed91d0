"""Strings at the edge, Optuna objects inside: ``tune.strategy`` → a sampler, ``tune.pruner`` → a pruner,
``--storage`` → an Optuna storage.

Grid search is run by enqueuing grid points (``layerlab.tune.study``), so that keys under a choice's
``when`` give exactly the grid's points; its sampler is never asked for a value.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from layerlab.errors import UsageError

if TYPE_CHECKING:
    import optuna

    from layerlab.tune.config import TuneConfig

# Seconds between a running trial's heartbeats, and after which a silent one (its worker was killed)
# is failed so that the study's count goes on without it.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
_URL = re.compile(r"^(sqlite|postgresql|postgresql\+\w+|mysql|mysql\+\w+)://")


def make_sampler(cfg: TuneConfig, seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    builders: dict[str, Callable[[], optuna.samplers.BaseSampler]] = {
        "grid": lambda: optuna.samplers.RandomSampler(seed=seed),  # every grid trial comes enqueued
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        # group=True: keys under a choice's `when` form their own groups; constant_liar: parallel
        # workers do not all sample next to the same running trial.
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.startup_trials, multivariate=True,
                                                  group=True, constant_liar=True),
        "gp": lambda: _gp(seed, cfg.startup_trials),
        "cmaes": lambda: _cmaes(seed, cfg.startup_trials),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return builders[cfg.strategy]()


def _gp(seed: int, startup: int) -> optuna.samplers.BaseSampler:
    import optuna

    try:
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    except ImportError as exc:
        raise UsageError(f"tune.strategy: gp needs {exc.name or 'scipy'} (pip install scipy); or use tpe") from None


def _cmaes(seed: int, startup: int) -> optuna.samplers.BaseSampler:
    import importlib.util

    import optuna

    if importlib.util.find_spec("cmaes") is None:
        raise UsageError("tune.strategy: cmaes needs the package cmaes (pip install cmaes); or use tpe")
    # CMA-ES samples numbers; choices (and keys under them) are drawn at random.
    return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup, warn_independent_sampling=False)


def make_pruner(cfg: TuneConfig, epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    builders: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
        "none": optuna.pruners.NopPruner,
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=cfg.prune_startup,
                                                      n_warmup_steps=cfg.prune_warmup),
        "halving": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1),
                                                            reduction_factor=3),
    }
    return builders[cfg.pruner]()


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for a database URL (sqlite:///path.db, postgresql://user@host/db, mysql://...).

    Workers keep a heartbeat, so the trial of a worker that was killed is failed after a minute and
    does not hold up the study. Raises UsageError for a URL that is not a database or cannot be reached.
    """
    import optuna
    import sqlalchemy.exc

    if not _URL.match(url):
        raise UsageError(f"--storage: '{redact(url)}' is not a database URL; expected e.g. "
                         "postgresql://user:password@host:5432/db or sqlite:///path/study.db")
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    given, url = url, _with_driver(url)
    last: Exception | None = None
    for attempt in range(4):  # workers starting together on a fresh database race to create its tables
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                                  heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            last = exc
            time.sleep(0.5 * (attempt + 1))
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ArgumentError, ImportError) as exc:
            raise UsageError(f"--storage: cannot open {redact(given)}: {_first_line(exc)}") from None
    raise UsageError(f"--storage: cannot open {redact(given)}: {_first_line(last)}")


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg (3) to SQLAlchemy 2.1; use psycopg2 when only that one is installed."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _first_line(exc: BaseException | None) -> str:
    text = str(getattr(exc, "orig", None) or exc or "")
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
