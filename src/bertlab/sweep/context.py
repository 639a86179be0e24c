"""The active trial (moved to `bertlab.callbacks.trial`, below `train/` and `sweep/`); the
sweeper's names for it."""

from __future__ import annotations

from bertlab.callbacks.trial import (
    ENV,
    PRUNED_AT,
    TrialRecord,
    active_trial,
    as_float,
    current,
    trial_env,
)

__all__ = ["ENV", "PRUNED_AT", "TrialRecord", "active_trial", "as_float", "current", "trial_env"]
