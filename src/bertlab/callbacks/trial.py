"""The Optuna trial of the job running in this process, and how a training loop reports to it.

It sits below `train/` and `sweep/` (the pruning callback, the pipeline and cross-validation
read it; the sweeper sets it), so that imports point one way.

The sweeper sets the trial before it launches a job in-process (Hydra's basic launcher) and
clears it afterwards. It also names the trial in the environment variable ``BERTLAB_TRIAL``,
so a job started elsewhere (a SLURM node through hydra-submitit-launcher, or the extra ranks
of a DDP run) finds the same trial through the shared storage. The pipeline asks
``bertlab.callbacks.pruning.trial_callbacks(monitor)`` for Lightning callbacks; outside a
sweep the answer is ``[]``.
Other loops may call ``current().report(value, epoch)`` themselves.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bertlab.utils.jobs import job_is_multirun

if TYPE_CHECKING:
    import optuna

ENV = "BERTLAB_TRIAL"
OPENER = "bertlab.sweep.study:storage_for"  # opens a study storage URL or journal file
PRUNED_AT = "pruned_at_epoch"  # user attribute set on a trial when the pruner stops it


@dataclass
class TrialRecord:
    """The active trial and what was reported to it; read by the sweeper afterwards.

    Attributes:
        trial: The active Optuna trial.
        pruned: True once the pruner asked the trial to stop.
        values: Reported objective per step (validation epoch).
    """

    trial: optuna.Trial
    pruned: bool = False
    values: dict[int, float] = field(default_factory=dict)

    def report(self, value: Any, step: int, last: bool = False) -> bool:
        """Report the objective at ``step``; return True when the trial should stop.

        Non-finite values are skipped. A step reported twice (several validations in one
        epoch) moves to the next free step. The ``last`` report (the final epoch) is never
        pruned: stopping saves nothing then, and the trial counts as COMPLETE.
        """
        number = as_float(value)
        if number is None or self.pruned:
            return self.pruned
        if step in self.values:
            step = max(self.values) + 1
        self.values[step] = number
        self.trial.report(number, step)
        if not last and self.trial.should_prune():
            self.pruned = True
            self.trial.set_user_attr(PRUNED_AT, step)
        return self.pruned


_ACTIVE: TrialRecord | None = None


def current() -> TrialRecord | None:
    """Return the record of the active trial, or None outside a sweep trial.

    In a process the sweeper did not start, each call re-opens the trial named by
    ``BERTLAB_TRIAL`` (a fresh record).
    """
    if _ACTIVE is None and os.environ.get(ENV):
        return _from_env(os.environ[ENV])
    return _ACTIVE


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


def trial_env(storage: str, study_name: str, trial_id: int, opener: str = OPENER) -> str:
    """The ``BERTLAB_TRIAL`` value naming a trial for a job in another process.

    Args:
        opener: ``module:function`` that opens ``storage`` (the sweeper's, which knows journal
            files); named rather than imported, so this layer needs nothing from `sweep/`.
    """
    spec = {"storage": storage, "study": study_name, "trial_id": trial_id, "opener": opener}
    return json.dumps(spec)


def _from_env(value: str) -> TrialRecord:
    """Re-open the trial named by ``BERTLAB_TRIAL`` from its shared storage."""
    import importlib

    import optuna

    spec = json.loads(value)
    module, name = spec.get("opener", OPENER).split(":")
    storage_for = getattr(importlib.import_module(module), name)
    study = optuna.load_study(study_name=spec["study"], storage=storage_for(spec["storage"]))
    return TrialRecord(optuna.trial.Trial(study, int(spec["trial_id"])))


def in_sweep_trial() -> bool:
    """Whether this job is a sweep trial: a Hydra multirun job, or an active Optuna trial."""
    return job_is_multirun() or current() is not None


def as_float(value: Any) -> float | None:
    """Convert a logged metric (tensor or number) to a finite float, else None."""
    if value is None:
        return None
    out = float(value.item() if hasattr(value, "item") else value)
    return out if math.isfinite(out) else None
