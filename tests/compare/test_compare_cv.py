"""`python -m bertlab.compare` with cross-validated arms (--common "cv=kfold cv.k=2"): the
runs are scored on their fold means of validation metrics, paired by seed and fold, and the
test set stays shut. A broken arm (learning rate 1e-9) against the working one, two seeds:
eight tiny one-epoch fold fits, trained once for the module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bertlab.compare.runs import RUNS
from bertlab.testing import make_toy_corpus
from bertlab.train.run_dir import RunDir
from helpers.compare import BROKEN, common, compare


@pytest.fixture(scope="module")
def cv_setup(tiny_model_dir, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("compare_cv")
    data = tmp / "toy.csv"
    make_toy_corpus(400).to_csv(data, index=False)
    shared = common(tiny_model_dir, data, tmp / "cache") + " cv=kfold cv.k=2"
    args = ["", BROKEN, "--seeds", "2", "--resamples", "1000"]
    args += ["--common", shared, "--out", str(tmp / "cmp")]
    assert compare(*args) == 0
    first = json.loads((tmp / "cmp" / "compare.json").read_text())
    assert compare(*args) == 0  # the rerun
    second = json.loads((tmp / "cmp" / "compare.json").read_text())
    return {"dir": tmp / "cmp", "first": first, "second": second}


def test_cross_validated_arms_are_compared_on_fold_means(cv_setup):
    result = cv_setup["first"]
    assert result["cv_folds"] == 2
    assert set(result["metrics"]) >= {"val/acc", "val/mcc", "val/loss"}
    assert not any(m.startswith("test/") for m in result["metrics"])
    broken = next(d for d in result["metrics"]["val/acc"]["differences"] if d["arm"] == BROKEN)
    assert broken["ci"][1] < 0, broken  # a learning rate of 1e-9 is worse beyond the noise
    assert broken["sentence"].endswith("beyond seed and fold noise.")
    report = (cv_setup["dir"] / "compare.md").read_text()
    assert "2-fold cross-validation" in report and "folds only" in report
    assert "test set was not opened" in report


def test_a_fold_mean_is_the_mean_of_the_runs_folds(cv_setup):
    result = cv_setup["first"]
    for arm in result["arms"]:
        for seed, path in arm["runs"].items():
            record = RunDir(path).metrics()["cv"]
            folds = [row["val/acc"] for row in record["per_fold"]]
            i = result["seeds"].index(int(seed))
            value = result["metrics"]["val/acc"]["arms"][arm["label"]]["values"][i]
            assert value == pytest.approx(sum(folds) / len(folds))


def test_the_test_set_stays_shut_and_a_rerun_trains_nothing(cv_setup):
    first, second = cv_setup["first"], cv_setup["second"]
    assert (first["trained"], first["reused"]) == (4, 0)
    assert (second["trained"], second["reused"]) == (0, 4)
    assert second["metrics"] == first["metrics"]
    assert not (cv_setup["dir"] / "lockbox.json").exists()  # no test opened, none recorded
    for run in (cv_setup["dir"] / RUNS).glob("*/seed_*"):
        assert "test" not in RunDir(run).metrics()
        assert not list(run.rglob(RunDir.TEST_PREDICTIONS))


def test_existing_cross_validated_runs_compare_with_runs(cv_setup, tmp_path):
    out = tmp_path / "again"
    assert compare("--runs", str(cv_setup["dir"] / RUNS), "--out", str(out)) == 0
    result = json.loads((out / "compare.json").read_text())
    assert result["cv_folds"] == 2 and result["trained"] == 0
    assert len(result["arms"]) == 2


def test_launch_trains_the_seeds_as_hydra_multiruns_and_compares_them(tiny_model_dir, tmp_path):
    """--launch: each arm's seeds as one `train.py -m` job (Hydra's basic launcher here; any
    launcher by its overrides), in the dirs compare reuses; a second call launches nothing."""
    data = tmp_path / "toy.csv"
    make_toy_corpus(200).to_csv(data, index=False)
    shared = common(tiny_model_dir, data, tmp_path / "cache")
    out = tmp_path / "cmp"
    args = ["", BROKEN, "--seeds", "2", "--resamples", "200", "--common", shared]
    assert compare(*args, "--out", str(out), "--launch") == 0
    result = json.loads((out / "compare.json").read_text())
    assert (result["trained"], result["reused"]) == (4, 0)
    for arm in result["arms"]:
        for path in arm["runs"].values():
            assert (Path(path).parent / "multirun.yaml").is_file()  # a Hydra multirun made it
            assert "test" in RunDir(path).metrics()
    assert compare(*args, "--out", str(out), "--launch") == 0
    again = json.loads((out / "compare.json").read_text())
    assert (again["trained"], again["reused"]) == (0, 4)
    assert again["metrics"] == result["metrics"]
