"""Cross-validation driver: settings refused, fold configs, summary, pruning, final's overrides."""

from __future__ import annotations

import csv
import json
import math

import pytest
from omegaconf import DictConfig, OmegaConf

from bertlab.errors import ConfigError
from bertlab.sweep.final import final_overrides
from bertlab.train import cv


def config(tmp_path, **extra) -> DictConfig:
    return OmegaConf.create(
        {
            "seed": 1,
            "test_after_fit": None,
            "resume": None,
            "ckpt_path": None,
            "objective": {"metric": "val/loss", "mode": "min"},
            "paths": {"output_dir": str(tmp_path)},
            "data": {"split_seed": 9},
            "cv": {"k": 3, "seed": "${data.split_seed}"},
            **extra,
        }
    )


def fake_fit(losses: list[float]):
    """A fit whose fold i has best val/loss losses[i]; records the configs it saw."""
    seen: list[DictConfig] = []

    def fit(cfg: DictConfig) -> dict:
        seen.append(cfg)
        loss = losses[cfg.data.fold[0]]
        return {"best_epoch": 1, "best_val": {"val/loss": loss, "val/acc": 1 - loss, "epoch": 1}}

    return fit, seen


def test_fold_count_reads_k_and_refuses_bad_settings(tmp_path):
    assert cv.fold_count(config(tmp_path)) == 3
    assert cv.fold_count(config(tmp_path, cv=None)) is None
    for bad, match in (
        ({"cv": {"k": 1, "seed": 0}}, "cv.k=1"),
        ({"cv": {"k": "3", "seed": 0}}, "cv.k='3'"),
        ({"test_after_fit": True}, "test_after_fit=true"),
        ({"resume": "outputs/x"}, "resume"),
    ):
        with pytest.raises(ConfigError, match=match):
            cv.fold_count(config(tmp_path, **bad))


def test_cross_validate_runs_each_fold_in_its_dir_and_returns_the_mean(tmp_path):
    fit, seen = fake_fit([0.3, 0.5, 0.7])
    assert cv.cross_validate(config(tmp_path), tmp_path, fit) == pytest.approx(0.5)
    assert [c.paths.output_dir for c in seen] == [str(tmp_path / f"fold_{i}") for i in range(3)]
    assert [list(c.data.fold) for c in seen] == [[0, 3], [1, 3], [2, 3]]
    assert {c.data.fold_seed for c in seen} == {9} and not any(c.test_after_fit for c in seen)
    with (tmp_path / cv.SUMMARY).open() as f:
        rows = list(csv.DictReader(f))
    assert [r["fold"] for r in rows] == ["0", "1", "2", "mean", "std"]
    assert float(rows[3]["val/loss"]) == pytest.approx(0.5)
    assert float(rows[4]["val/loss"]) == pytest.approx(0.2)  # sample std of .3, .5, .7
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["best_value"] == pytest.approx(0.5) and "test" not in metrics
    assert metrics["cv"]["mean"]["val/acc"] == pytest.approx(0.5)
    assert [r["val/loss"] for r in metrics["cv"]["per_fold"]] == [0.3, 0.5, 0.7]


def test_a_fold_without_validation_makes_the_mean_nan(tmp_path):
    def fit(cfg: DictConfig) -> dict:
        return {"best_epoch": None, "best_val": None} if cfg.data.fold[0] else fake_fit([1])[0](cfg)

    assert math.isnan(cv.cross_validate(config(tmp_path), tmp_path, fit))


class Trial:
    """Stands in for the active sweep trial: records reports, prunes from ``prune_at`` on."""

    def __init__(self, prune_at: int) -> None:
        self.reports: list[tuple[float, int]] = []
        self.prune_at = prune_at

    def report(self, value: float, step: int) -> bool:
        self.reports.append((value, step))
        return step >= self.prune_at


@pytest.mark.parametrize(("prune_at", "folds_run"), [(0, 1), (1, 2), (9, 3)])
def test_running_mean_is_reported_after_each_fold_but_the_last(
    tmp_path, monkeypatch, prune_at, folds_run
):
    trial = Trial(prune_at)
    monkeypatch.setattr(cv, "current", lambda: trial)
    fit, seen = fake_fit([0.2, 0.4, 0.9])
    value = cv.cross_validate(config(tmp_path), tmp_path, fit)
    assert len(seen) == folds_run
    expected = [(0.2, 0), (0.3, 1)][: min(folds_run, 2)]  # the last fold is never reported
    assert trial.reports == [(pytest.approx(v), step) for v, step in expected]
    assert value == pytest.approx([0.2, 0.3, 0.5][folds_run - 1])


def test_final_drops_cv_from_a_cross_validated_trial(tmp_path):
    hydra_dir = tmp_path / ".hydra"
    hydra_dir.mkdir()
    overrides = ["cv=kfold", "cv.k=2", "model.dropout=0.1", "test_after_fit=false"]
    OmegaConf.save(OmegaConf.create(overrides), hydra_dir / "overrides.yaml")
    OmegaConf.save(config(tmp_path), hydra_dir / "config.yaml")
    assert final_overrides(tmp_path, 5) == [
        "model.dropout=0.1",
        "~cv",
        "test_after_fit=true",
        "seed=5",
        "data.split_seed=9",
    ]
    OmegaConf.save(config(tmp_path, cv=None), hydra_dir / "config.yaml")
    assert "~cv" not in final_overrides(tmp_path, 5)
