"""Sweeps of the real train.py on the tiny random BERT and toy data, then the lockbox opening."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.runs import ROOT, run_python, sweep_overrides

TEST_LOADER_LOG = "Building the test dataloader"  # logged by the DataModule when it does


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python <args>` in a subprocess, which must succeed."""
    proc = run_python(*args, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def tiny(model: Path, data: Path, cache: Path, sweep_dir: Path) -> list[str]:
    """A fast multirun on the tiny model, fp32 (deterministic trial values for the pruning
    checks), without loggers, LR monitor or early stopping."""
    return [
        *sweep_overrides(model, data, cache, sweep_dir),
        "~logger",
        "~callbacks.lr_monitor",
        "~callbacks.early_stopping",
    ]


@pytest.fixture(scope="module")
def optuna_sweep(tiny_model_dir, tiny_csv, tmp_path_factory) -> tuple[Path, str]:
    """Six TPE trials of two epochs on val/loss, with a pruner that keeps only the top 10%."""
    tmp = tmp_path_factory.mktemp("optuna")
    out = tmp / "train" / "sweeps" / "sweep"  # the config's own sweep dir, under paths.log_dir
    overrides = [
        o
        for o in tiny(tiny_model_dir, tiny_csv, tmp / "cache", out)
        if not o.startswith("hydra.sweep.dir=")
    ]
    proc = run(
        str(ROOT / "train.py"),
        "-m",
        "hparams_search=optuna",
        *overrides,
        f"paths.log_dir={tmp}",
        "hydra.sweeper.study_name=sweep",
        "hydra.sweeper.n_trials=6",
        "trainer.max_epochs=2",
        "objective.metric=val/loss",
        "objective.mode=min",
        "hydra.sweeper.pruner.name=percentile",
        "+hydra.sweeper.pruner.percentile=10",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        "test_after_fit=true",  # ignored: trials never open the test set
        cwd=tmp,
    )
    return out, proc.stdout


@pytest.mark.slow
def test_optuna_sweep_of_train_py(optuna_sweep):
    out, stdout = optuna_sweep
    with (out / "sweep_summary.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in table] == list(range(6))
    states = [r["state"] for r in table]
    assert "PRUNED" in states and "COMPLETE" in states, states
    for r in table:
        run_dir = out / r["run_dir"]  # relative to the sweep dir
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert "test" not in metrics
        assert metrics["status"] == r["state"]  # COMPLETE or PRUNED, as the HParams row says
        assert TEST_LOADER_LOG not in (run_dir / "train.log").read_text()
        assert (
            yaml.safe_load((run_dir / ".hydra/config.yaml").read_text())["test_after_fit"] is False
        )
        assert (out / r["checkpoint"]).is_file()
        if r["state"] == "PRUNED":
            assert metrics["epochs_run"] == 1  # stopped after its first validation
    params = {k for k in table[0] if k.startswith("param:")}
    assert params == {
        "param:model.optimizer.lr",
        "param:data.batch_size",
        "param:model.scheduler.warmup_fraction",
        "param:model.optimizer.weight_decay",
        "param:model.dropout",
    }  # trainer.max_epochs is fixed by the command line
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert table[best["trial"]]["state"] == "COMPLETE"
    assert "model.optimizer.lr=" in " ".join(best["overrides"])
    assert "Sweep sweep" in stdout
    assert not (out / "lockbox.json").exists()


@pytest.mark.slow
def test_final_evaluation_opens_the_test_set_once_with_two_seeds(optuna_sweep):
    out, _ = optuna_sweep
    proc = run("-m", "bertlab.sweep.final", str(out), "--seeds", "2", cwd=out.parent)
    assert "mean ± std" in proc.stdout and "test/acc" in proc.stdout
    [opening] = json.loads((out / "lockbox.json").read_text())["openings"]
    assert (
        opening["status"] == "done"
        and opening["trial"] == yaml.safe_load((out / "best.yaml").read_text())["trial"]
    )
    assert len(opening["seeds"]) == 2 and len(opening["test"]["test/acc"]) == 2
    assert set(opening["mean"]) == set(opening["std"]) >= {"test/acc", "test/loss"}
    for seed in opening["seeds"]:
        run_dir = out / "final" / "0" / f"seed_{seed}"
        assert "test" in json.loads((run_dir / "metrics.json").read_text())
        manifest = json.loads((run_dir / "split_manifest.json").read_text())
        trial_manifest = json.loads((out / "0" / "split_manifest.json").read_text())
        assert manifest["splits"]["test"] == trial_manifest["splits"]["test"]  # same held-out set


@pytest.mark.slow
def test_grid_multirun_runs_each_combination_in_its_own_dir(tiny_model_dir, tiny_csv, tmp_path):
    out = tmp_path / "grid"
    run(
        str(ROOT / "train.py"),
        "-m",
        "model.optimizer.lr=1e-5,3e-5,5e-5",
        "data.batch_size=16,32",
        *tiny(tiny_model_dir, tiny_csv, tmp_path / "cache", out),
        "trainer.max_epochs=1",
        "~callbacks.model_checkpoint",
        cwd=tmp_path,
    )
    combos = set()
    for job in range(6):
        overrides = yaml.safe_load((out / str(job) / ".hydra/overrides.yaml").read_text())
        combos.add(
            tuple(o for o in overrides if o.startswith(("model.optimizer.lr", "data.batch")))
        )
        metrics = json.loads((out / str(job) / "metrics.json").read_text())
        assert "test" not in metrics  # multirun jobs never open the test set by default
    assert not (out / "6").exists()
    assert combos == {
        (f"model.optimizer.lr={lr}", f"data.batch_size={bs}")
        for lr in ("1e-05", "3e-05", "5e-05")
        for bs in (16, 32)
    }
