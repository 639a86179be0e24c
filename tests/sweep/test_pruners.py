"""Pruner construction from the sweeper config."""

from __future__ import annotations

import optuna
import pytest

from bertlab.sweep.errors import SweepError
from bertlab.sweep.study import make_pruner


def test_none_ignores_the_default_pruners_settings():
    cfg = {"name": "none", "n_startup_trials": 3, "n_warmup_steps": 1}
    assert isinstance(make_pruner(cfg), optuna.pruners.NopPruner)


def test_median_gets_its_settings():
    pruner = make_pruner({"name": "median", "n_startup_trials": 7, "n_warmup_steps": 2})
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    assert pruner._n_startup_trials == 7 and pruner._n_warmup_steps == 2


def test_unknown_pruner_names_the_choices():
    with pytest.raises(SweepError, match="median"):
        make_pruner({"name": "oracle"})
