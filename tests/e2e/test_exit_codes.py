"""Issue 20's error list through train.py: exit 2 and one message, also under `-m` with
Hydra's basic sweeper (it printed a traceback and exited 1); MLflow checked before the data."""

from __future__ import annotations

import pytest

from bertlab.errors import ConfigError
from helpers.inprocess import train_in_process
from helpers.runs import run_train, tiny_overrides


def test_bad_input_under_the_basic_sweeper_exits_2(tiny_model_dir, tiny_csv, tmp_path):
    overrides = [
        o
        for o in tiny_overrides(tiny_model_dir, tiny_csv, tmp_path / "run", tmp_path / "cache")
        if not o.startswith("hydra.run.dir")
    ]
    proc = run_train(
        "-m", *overrides, "cv=kfold", "cv.k=1", f"hydra.sweep.dir={tmp_path / 'sweep'}"
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-3000:]
    assert "cv.k=1: k-fold cross-validation needs a whole number >= 2" in output
    assert "Traceback" not in output
    assert not (tmp_path / "cache").exists()  # refused before any data work


def test_an_unusable_mlflow_store_is_refused_before_the_data(tiny_model_dir, tiny_csv, tmp_path):
    overrides = tiny_overrides(tiny_model_dir, tiny_csv, tmp_path / "run", tmp_path / "cache")
    with pytest.raises(ConfigError, match=r"logger\.mlflow\.tracking_uri=file:"):
        train_in_process(
            *overrides, "logger=mlflow", f"logger.mlflow.tracking_uri=file://{tmp_path}"
        )
    assert not (tmp_path / "cache").exists()
    assert (tmp_path / "run" / "FAILED.txt").is_file()
