"""`python -m bertlab.compare` on the tiny model, in this process: a broken arm (learning
rate 1e-9: it never learns) against a working one, the working one against itself, a rerun
that trains nothing, and existing runs compared with --runs. Four tiny one-epoch runs in all,
trained once for the module."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml

from bertlab.compare.analysis import check_stored_scores
from bertlab.compare.runs import RUNS, read_run
from bertlab.testing import make_toy_corpus
from bertlab.train.run_dir import RunDir
from helpers.compare import BROKEN, common, compare
from helpers.runs import ROOT

SAME = "model.head=mean"  # what --common already sets: the baseline again, spelled otherwise


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("compare")
    data = tmp / "toy.csv"
    make_toy_corpus(400).to_csv(data, index=False)
    shared = common(tiny_model_dir, data, tmp / "cache")
    args = ["", BROKEN, SAME, "--seeds", "2", "--resamples", "1000"]
    args += ["--common", shared, "--out", str(tmp / "cmp")]
    assert compare(*args) == 0
    first = json.loads((tmp / "cmp" / "compare.json").read_text())
    stamps = {p: p.stat().st_mtime_ns for p in (tmp / "cmp" / RUNS).rglob("*") if p.is_file()}
    assert compare(*args) == 0  # the rerun
    second = json.loads((tmp / "cmp" / "compare.json").read_text())
    return {
        "dir": tmp / "cmp",
        "first": first,
        "second": second,
        "stamps": stamps,
        "common": shared,
    }


def diff(result: dict, arm: str, metric: str = "test/acc") -> dict:
    return next(d for d in result["metrics"][metric]["differences"] if d["arm"] == arm)


def test_a_broken_arm_is_worse_beyond_noise(setup):
    result = setup["first"]
    broken = diff(result, BROKEN)
    assert broken["ci"][1] < 0, broken  # the whole interval below 0
    assert "is worse than default beyond seed" in broken["sentence"]
    assert broken["sentence"] in (setup["dir"] / "compare.md").read_text()
    assert diff(result, BROKEN, "test/mcc")["ci"][1] < 0


def test_an_arm_against_itself_is_noise(setup):
    result = setup["first"]
    same = diff(result, SAME)
    assert same["ci"][0] <= 0 <= same["ci"][1]
    assert same["per_seed"] == [0.0, 0.0]
    assert same["sentence"].endswith("not distinguishable from seed noise.")
    arms = {a["label"]: a["runs"] for a in result["arms"]}
    assert arms["default"] == arms[SAME]  # one config: the same runs


def test_each_run_is_trained_once_and_a_rerun_trains_nothing(setup):
    first, second = setup["first"], setup["second"]
    assert (first["trained"], first["reused"]) == (4, 2)  # SAME reuses the baseline's runs
    assert (second["trained"], second["reused"]) == (0, 6)
    now = {p: p.stat().st_mtime_ns for p in (setup["dir"] / RUNS).rglob("*") if p.is_file()}
    assert now == setup["stamps"]  # nothing written into any run
    assert second["metrics"] == first["metrics"]
    openings = json.loads((setup["dir"] / "lockbox.json").read_text())["openings"]
    assert len(openings) == 1  # the first call opened the test set; the rerun did not


def test_runs_store_their_test_predictions_and_the_report_is_complete(setup):
    out = setup["dir"]
    dirs = sorted(p.parent for p in (out / RUNS).rglob(RunDir.METRICS))
    assert len(dirs) == 4
    runs = [read_run(d, "x") for d in dirs]
    for run in runs:
        assert run.predictions is not None and len(run.predictions["ids"]) == 40
        assert np.unique(run.predictions["ids"]).size == 40
    assert check_stored_scores(runs) == []  # the stored logits give metrics.json's numbers
    assert (out / "compare.png").stat().st_size > 10_000
    rows = sorted((out / "tensorboard").glob("*/seed_*/events.out.tfevents.*"))
    assert len(rows) == 6  # one HParams row per arm × seed
    assert all(b"group" in p.read_bytes() for p in rows)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))  # the figure


def test_existing_runs_are_grouped_into_arms(setup, tmp_path):
    out = tmp_path / "again"
    assert compare("--runs", str(setup["dir"] / RUNS), "--out", str(out), "--resamples", "200") == 0
    result = json.loads((out / "compare.json").read_text())
    labels = [a["label"] for a in result["arms"]]
    assert len(labels) == 2 and any("1e-09" in label for label in labels), labels
    assert result["trained"] == 0 and result["seeds"] == [42, 43]


def fake_sweep(path: Path, overrides: list[str]) -> Path:
    """A sweep dir whose best trial ran with `overrides` (its .hydra records only: what
    compare reads to recompose the trial)."""
    trial = path / "0" / ".hydra"
    trial.mkdir(parents=True)
    source = {"provider": "main", "schema": "file", "path": str(ROOT / "configs")}
    hydra = {
        "runtime": {"config_sources": [source], "cwd": str(ROOT)},
        "job": {"config_name": "train"},
    }
    (trial / "hydra.yaml").write_text(yaml.safe_dump({"hydra": hydra}))
    (trial / "overrides.yaml").write_text(yaml.safe_dump([*overrides, "test_after_fit=false"]))
    (trial / "config.yaml").write_text(yaml.safe_dump({"seed": 42, "data": {"split_seed": 42}}))
    (path / "best.yaml").write_text(yaml.safe_dump({"trial": 0, "run_dir": "0"}))
    return path


def test_print_multirun_names_the_runs_compare_reuses(setup, capsys):
    """--print-multirun: one `train.py -m` command per arm, writing into the runs dir that
    compare itself uses for that config (so a later compare call reuses the job's runs)."""
    out = str(setup["dir"])
    args = ["", BROKEN, "--seeds", "2", "--common", setup["common"], "--out", out]
    assert compare(*args, "--print-multirun") == 0
    commands = [line for line in capsys.readouterr().out.splitlines() if "train.py -m" in line]
    assert len(commands) == 2 and all("seed=42,43" in c for c in commands)
    arms = {a["label"]: a["runs"] for a in setup["first"]["arms"]}
    for command, label in zip(commands, ["default", BROKEN], strict=True):
        runs_dir = Path(arms[label]["42"]).parent
        assert f"hydra.sweep.dir={runs_dir} " in command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["only_one"], "two or more arms"),
        (["", "no_such_experiment"], "no experiment 'no_such_experiment'"),
        (["", "cv=kfold"], "do not cross-validate alike"),
        (["", "x", "--seeds", "0"], "--seeds must be at least 1"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(args, message, tmp_path, caplog):
    assert compare(*args, "--out", str(tmp_path)) == 2
    assert message in caplog.text


def test_a_sweep_arm_is_its_best_trial_and_opens_its_lockbox(setup, tmp_path):
    """A sweep whose best trial is the baseline's config: its runs are the baseline's (nothing
    trained), and reading its test numbers is recorded in the sweep's lockbox. (Last in this
    file: it rewrites the module's report files, which the tests above read.)"""
    sweep = fake_sweep(tmp_path / "sweep", shlex.split(setup["common"]))
    out = str(setup["dir"])
    args = ["", str(sweep), "--seeds", "2", "--common", setup["common"], "--out", out]
    assert compare(*args, "--resamples", "200") == 0
    result = json.loads((setup["dir"] / "compare.json").read_text())
    assert result["trained"] == 0
    arms = {a["label"]: a for a in result["arms"]}
    assert arms[str(sweep)]["kind"] == "sweep"
    assert arms[str(sweep)]["runs"] == arms["default"]["runs"]
    assert len(json.loads((sweep / "lockbox.json").read_text())["openings"]) == 1
