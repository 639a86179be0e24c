"""The Optuna trial of the job running in this process, and its pruning callback.

The sweeper sets the trial before it launches a job in-process (Hydra's basic launcher) and
clears it afterwards. It also names the trial in the environment variable ``BERTLAB_TRIAL``,
so a job started elsewhere (a SLURM node through hydra-submitit-launcher, or the extra ranks
of a DDP run) finds the same trial through the shared storage. The pipeline asks
``trial_callbacks(monitor)`` for callbacks; outside a sweep the answer is ``[]``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import lightning as L

if TYPE_CHECKING:
    import optuna


@dataclass
class TrialRecord:
    """What the pruning callback saw during one trial; read by the sweeper afterwards.

    Attributes:
        trial: The active Optuna trial.
        pruned: True once the pruner asked the trial to stop.
        values: Reported objective per validation epoch (epoch -> value).
    """

    trial: optuna.Trial
    pruned: bool = False
    values: dict[int, float] = field(default_factory=dict)


ENV = "BERTLAB_TRIAL"
PRUNED_AT = "pruned_at_epoch"  # user attribute set on a trial when the pruner stops it
_ACTIVE: TrialRecord | None = None


def current() -> TrialRecord | None:
    """Return the record of the active trial, or None outside a sweep trial."""
    if _ACTIVE is None and os.environ.get(ENV):
        return _from_env(os.environ[ENV])
    return _ACTIVE


def trial_env(storage: str, study_name: str, trial_id: int) -> str:
    """The ``BERTLAB_TRIAL`` value naming a trial for a job in another process."""
    return json.dumps({"storage": storage, "study": study_name, "trial_id": trial_id})


def _from_env(value: str) -> TrialRecord:
    """Re-open the trial named by ``BERTLAB_TRIAL`` from its shared storage."""
    import optuna

    from bertlab.sweep.study import storage_for

    spec = json.loads(value)
    storage = storage_for(spec["storage"])
    study = optuna.load_study(study_name=spec["study"], storage=storage)
    return TrialRecord(optuna.trial.Trial(study, int(spec["trial_id"])))


@contextmanager
def active_trial(trial: optuna.Trial) -> Iterator[TrialRecord]:
    """Make ``trial`` the active trial of this process for the duration of the block."""
    global _ACTIVE
    if _ACTIVE is not None:
        raise RuntimeError("A trial is already active in this process.")
    _ACTIVE = TrialRecord(trial)
    try:
        yield _ACTIVE
    finally:
        _ACTIVE = None


class OptunaPruningCallback(L.Callback):
    """Report ``monitor`` to the trial after each validation epoch; stop if pruned.

    Stopping sets ``trainer.should_stop`` so the fit ends cleanly (checkpoints and
    metrics of the epochs run so far are kept); the sweeper then marks the trial PRUNED.
    Under DDP only rank 0 talks to Optuna; its decision is broadcast to the other ranks.

    Args:
        record: The active trial's record.
        monitor: Logged metric to report, e.g. ``val/acc``.
    """

    def __init__(self, record: TrialRecord, monitor: str) -> None:
        self.record = record
        self.monitor = monitor

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Report the epoch's objective and ask the pruner whether to go on."""
        if trainer.sanity_checking or self.record.pruned:
            return
        prune = trainer.is_global_zero and self._report(trainer)
        if trainer.world_size > 1:
            prune = trainer.strategy.broadcast(prune, src=0)
        if prune:
            self.record.pruned = True
            trainer.should_stop = True

    def _report(self, trainer: L.Trainer) -> bool:
        """Report this validation's value; return the pruner's verdict."""
        value = _as_float(trainer.callback_metrics.get(self.monitor))
        if value is None:
            return False
        step = trainer.current_epoch
        if step in self.record.values:  # several validations in one epoch: next free step
            step = max(self.record.values) + 1
        self.record.values[step] = value
        trial = self.record.trial
        trial.report(value, step)
        if not trial.should_prune():
            return False
        trial.set_user_attr(PRUNED_AT, step)
        return True


def _as_float(value: Any) -> float | None:
    """Convert a logged metric (tensor or number) to a finite float, else None."""
    if value is None:
        return None
    out = float(value.item() if hasattr(value, "item") else value)
    return out if math.isfinite(out) else None


def trial_callbacks(monitor: str) -> list[L.Callback]:
    """Callbacks the pipeline adds to its Trainer.

    Args:
        monitor: The objective metric name (``cfg.objective.metric``).

    Returns:
        ``[]`` when no sweep trial is active, else a pruning callback bound to the trial.
    """
    record = current()
    return [] if record is None else [OptunaPruningCallback(record, monitor)]
