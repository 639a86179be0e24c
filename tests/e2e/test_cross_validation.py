"""`train.py -m cv=kfold`: k fits in one job on the tiny model; the test split stays closed."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
import yaml

from helpers.inprocess import run_here
from helpers.runs import ROOT, run_train, sweep_overrides

TEST_LOADER_LOG = "Building the test dataloader"  # logged by the DataModule when it does


def cv_overrides(model: Path, data: Path, cache: Path, sweep_dir: Path) -> list[str]:
    """A fast multirun job on the tiny model: one short epoch per fold."""
    return [
        *sweep_overrides(model, data, cache, sweep_dir),
        "trainer.max_epochs=1",
        "objective.metric=val/loss",
        "objective.mode=min",
    ]


def read_summary(run_dir: Path) -> dict[str, dict[str, str]]:
    """`cv_summary.csv` keyed by its fold column (0, 1, ..., mean, std)."""
    with (run_dir / "cv_summary.csv").open() as f:
        return {row["fold"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_kfold_multirun_writes_fold_runs_and_their_mean(tiny_model_dir, tiny_csv, tmp_path):
    out = tmp_path / "cv"
    proc = run_train(
        "-m",
        "cv=kfold",
        "cv.k=3",
        *cv_overrides(tiny_model_dir, tiny_csv, tmp_path / "cache", out),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    job = out / "0"
    assert not (out / "1").exists()  # one job: the folds run inside it
    summary = read_summary(job)
    assert list(summary) == ["0", "1", "2", "mean", "std"]
    folds = [json.loads((job / f"fold_{i}" / "metrics.json").read_text()) for i in range(3)]
    metrics = [k for k in summary["mean"] if k.startswith("val/")]
    assert {"val/loss", "val/acc", "val/f1"} <= set(metrics)
    for name in metrics:
        values = [fold["best_val"][name] for fold in folds]
        assert float(summary["mean"][name]) == pytest.approx(statistics.fmean(values))
        assert float(summary["std"][name]) == pytest.approx(statistics.stdev(values))
        assert [float(summary[str(i)][name]) for i in range(3)] == pytest.approx(values)
    record = json.loads((job / "metrics.json").read_text())
    losses = [fold["best_value"] for fold in folds]
    assert record["best_value"] == pytest.approx(statistics.fmean(losses))
    assert record["cv"]["k"] == 3 and len(record["cv"]["per_fold"]) == 3

    # The test split is never opened, and the folds partition train+validation.
    assert TEST_LOADER_LOG not in (job / "train.log").read_text()
    assert "test" not in record and not any("test" in fold for fold in folds)
    base = json.loads((job / "split_manifest.json").read_text())["splits"]
    pool = base["train"]["size"] + base["validation"]["size"]
    sizes = []
    for i in range(3):
        fold_dir = job / f"fold_{i}"
        splits = json.loads((fold_dir / "split_manifest.json").read_text())["splits"]
        assert splits["test"] == base["test"]
        assert splits["train"]["size"] + splits["validation"]["size"] == pool
        sizes.append(splits["validation"]["size"])
        assert yaml.safe_load((fold_dir / "config.yaml").read_text())["data"]["fold"] == [i, 3]
        assert list((fold_dir / "checkpoints").glob("*.ckpt"))
        assert list(fold_dir.glob("events.out.tfevents.*"))
    assert sum(sizes) == pool and max(sizes) - min(sizes) <= 1


def test_kfold_refuses_test_after_fit(tiny_model_dir, tiny_csv, tmp_path):
    proc = run_here(
        ROOT / "train.py",
        "cv=kfold",
        "test_after_fit=true",
        *cv_overrides(tiny_model_dir, tiny_csv, tmp_path / "cache", tmp_path / "cv"),
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "test_after_fit=true with cv=kfold" in proc.stderr + proc.stdout
    assert not (tmp_path / "run" / "config.yaml").exists()  # refused before writing
