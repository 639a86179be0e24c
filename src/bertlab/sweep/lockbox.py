"""The test-set lockbox: sweeps select on validation only; the test set is opened once.

Inside sweep trials the override ``test_after_fit=false`` is forced, so the pipeline never
builds the test dataloader; the objective must be a ``val/`` metric. Only
``python -m bertlab.sweep.final`` opens the test set, and it records each opening in
``<sweep_dir>/lockbox.json``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import socket
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bertlab.sweep.errors import SweepError
from bertlab.sweep.space import SearchSpace
from bertlab.train.run_dir import RunDir
from bertlab.utils.io import atomic_write_json

log = logging.getLogger(__name__)

LOCK_KEY = "test_after_fit"
LOCK_OVERRIDE = f"{LOCK_KEY}=false"
RECORD = "lockbox.json"
DIRECTIONS = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}


class LockboxWarning(UserWarning):
    """The test set of a sweep is being opened again."""


def sweep_objective(config: DictConfig, conf: Mapping[str, Any]) -> tuple[str, str]:
    """The sweep's objective metric and Optuna direction, checked against the lockbox.

    The metric is ``objective.metric`` of the task config (what the job returns); the
    direction is ``hydra.sweeper.direction`` or else ``objective.mode``.

    Raises:
        SweepError: No objective, a non-validation metric, or a bad direction.
    """
    metric = OmegaConf.select(config, "objective.metric", default=None) or conf.get("metric")
    if not metric:
        raise SweepError("A sweep needs objective.metric (e.g. val/acc) to optimise.")
    if conf.get("metric") and conf["metric"] != metric:
        raise SweepError(
            f"hydra.sweeper.metric={conf['metric']} but the job returns objective.metric={metric}."
        )
    if not str(metric).startswith("val/"):
        raise SweepError(
            f"Refusing to sweep on {metric!r}: a sweep selects on validation metrics only "
            "(name starting with 'val/'). The test set stays locked until "
            "`python -m bertlab.sweep.final <sweep_dir>`."
        )
    mode = conf.get("direction") or OmegaConf.select(config, "objective.mode", default="max")
    if str(mode).lower() not in DIRECTIONS:
        raise SweepError(f"Unknown direction {mode!r}: use max/maximize or min/minimize.")
    if LOCK_KEY not in config:  # present, even as null (= "not in a multirun")
        raise SweepError(f"The task config has no {LOCK_KEY!r} key for the lockbox to force off.")
    return str(metric), DIRECTIONS[str(mode).lower()]


def lock_space(space: SearchSpace) -> SearchSpace:
    """Drop user overrides of ``test_after_fit`` (the sweeper forces it off).

    Raises:
        SweepError: When ``test_after_fit`` is part of the search space.
    """
    if LOCK_KEY in space.params:
        raise SweepError(f"{LOCK_KEY} cannot be swept: trials never see the test set.")
    kept = [o for o in space.fixed if o.split("=", 1)[0].lstrip("+~") != LOCK_KEY]
    if len(kept) != len(space.fixed):
        log.warning("Ignoring %s override: sweep trials never evaluate the test set.", LOCK_KEY)
    return replace(space, fixed=kept)


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """The run's ``metrics.json`` as a dict ({} when missing; a damaged one raises RunDirError)."""
    return RunDir(run_dir).metrics()


def openings(sweep_dir: Path) -> list[dict[str, Any]]:
    """Earlier test-set openings recorded for this sweep."""
    path = Path(sweep_dir) / RECORD
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("openings", []))


def open_lockbox(sweep_dir: Path, entry: dict[str, Any], warn: bool = True) -> int:
    """Record that the test set is being opened, warning loudly if it was opened before
    (unless not `warn`: a comparison's store, whose every rerun tests its new runs).

    Returns:
        The index of this opening in ``lockbox.json`` (0 for the first).
    """
    past = openings(sweep_dir)
    if past and warn:
        when = ", ".join(o.get("opened_at", "?") for o in past)
        msg = (
            f"THE TEST SET OF THIS SWEEP WAS ALREADY OPENED {len(past)} TIME(S) ({when}). "
            "Any choice made after seeing those numbers leaks the test set into model selection."
        )
        _shout(msg)
        warnings.warn(msg, LockboxWarning, stacklevel=2)
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    who = {"opened_at": stamp, "user": _user(), "host": socket.gethostname()}
    past.append({**who, **entry, "status": "opened"})
    atomic_write_json(Path(sweep_dir) / RECORD, {"openings": past})
    return len(past) - 1


def close_lockbox(sweep_dir: Path, index: int, result: dict[str, Any]) -> None:
    """Add the final result to the opening ``index`` of ``lockbox.json``."""
    past = openings(sweep_dir)
    past[index].update(result, status="done")
    atomic_write_json(Path(sweep_dir) / RECORD, {"openings": past})


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


def _shout(msg: str) -> None:
    from rich.console import Console
    from rich.panel import Panel

    Console(stderr=True).print(Panel(msg, title="LOCKBOX", style="bold red"))
