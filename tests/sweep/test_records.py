"""Summary, best.yaml and the lockbox record, on hand-made studies (no training)."""

import csv

import optuna
import pytest
import yaml
from omegaconf import OmegaConf
from optuna.trial import TrialState

from bertlab.sweep import lockbox, summary
from bertlab.sweep.errors import SweepError


def make_study() -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for value, state in [
        (0.7, TrialState.COMPLETE),
        (0.9, TrialState.PRUNED),
        (None, TrialState.FAIL),
        (0.8, TrialState.COMPLETE),
    ]:
        trial = study.ask()
        trial.suggest_float("lr", 1e-5, 1e-3, log=True)
        trial.set_user_attr(summary.RUN_DIR, f"/sweep/{trial.number}")
        trial.set_user_attr(summary.OVERRIDES, [f"lr={trial.params['lr']}"])
        if state == TrialState.PRUNED:
            trial.report(value, 0)
        if state == TrialState.FAIL:
            trial.set_user_attr("error", "RuntimeError: boom")
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    return study


def test_summary_has_a_row_per_trial_and_no_temp_file_left(tmp_path):
    summary.write_summary(make_study(), tmp_path)
    rows = list(csv.DictReader((tmp_path / summary.SUMMARY).open()))
    assert [r["state"] for r in rows] == ["COMPLETE", "PRUNED", "FAIL", "COMPLETE"]
    assert rows[1]["objective"] == "0.9"  # a pruned trial keeps its partial result
    assert rows[2]["error"] == "RuntimeError: boom"
    assert {"param:lr", "run_dir", "duration_s", "best_epoch", "checkpoint"} <= set(rows[0])
    assert [p.name for p in tmp_path.iterdir()] == [summary.SUMMARY]


def test_best_is_the_best_complete_trial_never_a_pruned_one(tmp_path):
    study = make_study()
    summary.write_best(study, tmp_path, "val/acc")
    best = yaml.safe_load((tmp_path / summary.BEST).read_text())
    assert best["trial"] == 3 and best["value"] == 0.8
    assert best["overrides"] == [f"lr={study.trials[3].params['lr']}"]
    assert best["run_dir"] == "/sweep/3"


def test_objective_must_be_a_validation_metric():
    cfg = OmegaConf.create(
        {"objective": {"metric": "test/acc", "mode": "max"}, "test_after_fit": True}
    )
    with pytest.raises(SweepError, match="val/"):
        lockbox.sweep_objective(cfg, {})
    cfg.objective.metric = "val/loss"
    assert lockbox.sweep_objective(cfg, {"direction": "min"}) == ("val/loss", "minimize")


def test_second_opening_of_the_lockbox_warns_loudly(tmp_path, capsys):
    assert lockbox.open_lockbox(tmp_path, {"trial": 3}) == 0
    lockbox.close_lockbox(tmp_path, 0, {"mean": {"test/acc": 0.8}})
    with pytest.warns(lockbox.LockboxWarning, match="ALREADY OPENED 1 TIME"):
        assert lockbox.open_lockbox(tmp_path, {"trial": 3}) == 1
    assert "LOCKBOX" in capsys.readouterr().err
    first, second = lockbox.openings(tmp_path)
    assert first["status"] == "done" and first["mean"] == {"test/acc": 0.8}
    assert second["status"] == "opened"
