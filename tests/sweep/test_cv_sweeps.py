"""An Optuna sweep whose trials cross-validate, then the lockbox opening on the normal split."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from helpers.runs import run_python, run_train, sweep_overrides

TEST_LOADER_LOG = "Building the test dataloader"  # logged by the DataModule when it does


@pytest.fixture(scope="module")
def cv_sweep(tiny_model_dir, tiny_csv, tmp_path_factory) -> Path:
    """Two TPE trials of 2-fold cross-validation, one short epoch per fold, on val/loss."""
    tmp = tmp_path_factory.mktemp("cv_sweep")
    out = tmp / "sweep"
    proc = run_train(
        "-m",
        "hparams_search=optuna",
        "cv=kfold",
        "cv.k=2",
        *sweep_overrides(tiny_model_dir, tiny_csv, tmp / "cache", out),
        "hydra.sweeper.n_trials=2",
        "~logger",
        "~callbacks.lr_monitor",
        "~callbacks.tensorboard_figures",
        "trainer.max_epochs=1",
        "objective.metric=val/loss",
        "objective.mode=min",
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.mark.slow
def test_each_trial_value_is_its_kfold_mean(cv_sweep):
    with (cv_sweep / "sweep_summary.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["state"] for r in table] == ["COMPLETE", "COMPLETE"]
    for row in table:
        run_dir = cv_sweep / row["run_dir"]  # relative to the sweep dir
        with (run_dir / "cv_summary.csv").open() as f:
            folds = {r["fold"]: r for r in csv.DictReader(f)}
        assert list(folds) == ["0", "1", "mean", "std"]
        assert float(row["objective"]) == pytest.approx(float(folds["mean"]["val/loss"]))
        assert TEST_LOADER_LOG not in (run_dir / "train.log").read_text()
        assert "test" not in json.loads((run_dir / "metrics.json").read_text())
    best = yaml.safe_load((cv_sweep / "best.yaml").read_text())
    assert "cv=kfold" in best["overrides"] and "cv.k=2" in best["overrides"]


@pytest.mark.slow
def test_final_retrains_a_cv_trial_on_the_normal_split_and_tests_it(cv_sweep):
    done = run_python("-m", "bertlab.sweep.final", str(cv_sweep), cwd=cv_sweep.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    best = yaml.safe_load((cv_sweep / "best.yaml").read_text())
    [opening] = json.loads((cv_sweep / "lockbox.json").read_text())["openings"]
    [seed] = opening["seeds"]
    run_dir = cv_sweep / "final" / "0" / f"seed_{seed}"
    assert "test/loss" in json.loads((run_dir / "metrics.json").read_text())["test"]
    assert not list(run_dir.glob("fold_*")) and not (run_dir / "cv_summary.csv").exists()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config.get("cv") is None and config["data"]["fold"] is None
    trial = json.loads((cv_sweep / best["run_dir"] / "split_manifest.json").read_text())
    final = json.loads((run_dir / "split_manifest.json").read_text())
    assert final["splits"] == trial["splits"]  # the sweep's own train/validation/test split
