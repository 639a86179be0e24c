"""The Optuna sweeper end to end on a fast stand-in app (tests/sweep/toy): no model, seconds each.

The same sweeper runs train.py in test_train_sweeps.py; here each behaviour gets its own sweep.
The app's command line runs in this process (`run_here`: exit code and output, as Hydra's basic
launcher runs each job in its process anyway), in real processes where a signal or two workers
at once are the point.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from bertlab.sweep.study import storage_for
from helpers.inprocess import run_here
from helpers.runs import HANG_GUARD_S

APP = Path(__file__).parent / "toy" / "app.py"


def sweep_cmd(sweep_dir: Path, *overrides: str) -> tuple[list[str], dict[str, str]]:
    cmd = [sys.executable, str(APP), "-m", *overrides]
    return cmd, {**os.environ, "SWEEP_DIR": str(sweep_dir)}


def sweep(sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    """`python app.py -m <overrides>` with its sweep in `sweep_dir`, run in this process."""
    env = {"SWEEP_DIR": str(sweep_dir)}
    return run_here(APP, "-m", *overrides, cwd=sweep_dir.parent, env=env)


def rows(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "sweep_summary.csv").open() as f:
        return list(csv.DictReader(f))


def ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_trials_are_pruned_summarised_and_never_see_the_test_set(tmp_path):
    out = tmp_path / "sweep"
    proc = sweep(
        out,
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.pruner.name=median",
        "+hydra.sweeper.pruner.n_startup_trials=1",
        "test_after_fit=true",  # a user trying to unlock the test set inside a sweep
    )
    ok(proc)
    table = rows(out)
    states = [r["state"] for r in table]
    assert [int(r["trial"]) for r in table] == list(range(6))
    assert "PRUNED" in states and "COMPLETE" in states
    for r in table:
        run = out / r["run_dir"]  # relative to the sweep dir
        assert run == out / r["trial"]
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["test_opened"] is False and "test" not in metrics
        assert (
            yaml.safe_load((run / ".hydra/overrides.yaml").read_text())[-1]
            == "test_after_fit=false"
        )
        if r["state"] == "PRUNED":  # stopped early; its partial result is kept
            assert metrics["epochs_run"] < 3 and float(r["objective"]) > 0
    best = yaml.safe_load((out / "best.yaml").read_text())
    complete = [r for r in table if r["state"] == "COMPLETE"]
    assert best["trial"] == int(max(complete, key=lambda r: float(r["objective"]))["trial"])
    assert best["overrides"] == [f"x={best['params']['x']!r}", f"y={best['params']['y']}"]
    assert "Sweep bertlab" in proc.stdout  # the rich table
    planned = sum(int(r["max_epochs"]) for r in table)
    ran = sum(int(r["epochs_run"]) for r in table)
    pruned = [r for r in table if r["state"] == "PRUNED"]
    saved = sum(int(r["max_epochs"]) - int(r["epochs_run"]) for r in pruned)
    assert planned == 6 * 3 and 0 < saved == planned - ran
    assert f"{ran} of {planned} trial-epochs run, pruning saved {saved}" in proc.stdout


def test_resume_runs_only_the_missing_trials_and_failures_do_not_stop_it(tmp_path):
    out = tmp_path / "sweep"
    ok(
        sweep(
            out, "hydra.sweeper.n_trials=3", "fail_trials=[1]", "hydra.sweeper.max_failure_rate=0.5"
        )
    )
    first = rows(out)
    assert [r["state"] for r in first] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert "fails on purpose" in first[1]["error"]
    ok(
        sweep(
            out, "hydra.sweeper.n_trials=6", "fail_trials=[1]", "hydra.sweeper.max_failure_rate=0.5"
        )
    )
    second = rows(out)
    assert len(second) == 6
    assert second[:3] == first  # nothing redone
    assert [r["state"] for r in second[3:]] == ["COMPLETE"] * 3


def test_too_many_failures_abort_the_sweep(tmp_path):
    out = tmp_path / "sweep"
    proc = sweep(
        out, "hydra.sweeper.n_trials=8", "fail_above=-1", "hydra.sweeper.max_failure_rate=0.25"
    )
    assert proc.returncode != 0
    assert "max_failure_rate" in proc.stderr
    assert [r["state"] for r in rows(out)] == ["FAIL"] * 3  # 3 > 0.25 * 8


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("objective.metric=test/score", "Refusing to sweep on 'test/score'"),
        ("no_such_key=choice(1,2)", "cannot be composed"),
        ("+hydra.sweeper.sampler.n_startup_trial=3", "'tpe' sampler does not take n_startup_trial"),
    ],
)
def test_a_bad_sweep_is_refused_before_any_trial(tmp_path, override, message):
    out = tmp_path / "sweep"
    proc = sweep(out, override)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not out.exists()


@pytest.mark.slow  # real processes: a signal, two workers
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_an_interrupted_trial_is_failed_and_retried(tmp_path, sig):
    out = tmp_path / "sweep"
    cmd, env = sweep_cmd(out, "hydra.sweeper.n_trials=3", "sleep_s=0.5")
    worker = subprocess.Popen(
        cmd,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # A shell's background job (CI under `&`, nohup) inherits SIGINT ignored; a user's
        # terminal does not. Give the worker the terminal's default, so ctrl-c raises.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + HANG_GUARD_S
    while not (out / "1" / ".hydra").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.4)  # past Hydra's job setup, inside trial 1's first epoch
    worker.send_signal(sig)  # trial 0 done, trial 1 mid-way (each trial takes 1.5 s)
    worker.communicate(timeout=HANG_GUARD_S)
    ok(sweep(out, "hydra.sweeper.n_trials=3", "sleep_s=0"))
    table = rows(out)
    assert table[1]["state"] == "FAIL (interrupted)"
    retried = [r for r in table if r["retry_of"] == "1"]
    assert len(retried) == 1 and retried[0]["state"] == "COMPLETE"
    assert retried[0]["param:x"] == table[1]["param:x"]
    assert [r["state"] for r in table].count("COMPLETE") == 3  # trial 0 is not redone
    assert sum(r["param:x"] == table[0]["param:x"] for r in table) == 1


@pytest.mark.slow  # real processes: a signal, two workers
def test_two_workers_share_one_study_without_running_a_trial_twice(tmp_path):
    out = tmp_path / "sweep"
    cmd, env = sweep_cmd(out, "hydra.sweeper.n_trials=6", "wait_workers=2", "sleep_s=0.1")
    workers = [
        subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for w in workers:
        _, err = w.communicate(timeout=HANG_GUARD_S)
        assert w.returncode == 0, err[-3000:]
    table = rows(out)
    assert [int(r["trial"]) for r in table] == list(range(6))
    assert {r["state"] for r in table} == {"COMPLETE"}
    assert len({(r["param:x"], r["param:y"]) for r in table}) == 6
    study = optuna.load_study(
        study_name="bertlab", storage=storage_for(str(out / "optuna.journal"))
    )
    assert len({t.user_attrs["worker_pid"] for t in study.trials}) == 2


def test_grid_sampler_walks_the_whole_grid_once(tmp_path):
    out = tmp_path / "sweep"
    ok(
        sweep(
            out,
            "hydra.sweeper.sampler.name=grid",
            "hydra.sweeper.n_trials=null",
            "x=choice(0.1,0.2)",
            "y=range(1,4)",
        )
    )
    table = rows(out)
    points = {(float(r["param:x"]), int(r["param:y"])) for r in table}
    assert len(table) == 6 and points == {(x, y) for x in (0.1, 0.2) for y in (1, 2, 3)}


def test_a_seeded_tpe_sweep_run_twice_proposes_the_same_parameters(tmp_path):
    tpe = ["hydra.sweeper.n_trials=5", "+hydra.sweeper.sampler.n_startup_trials=2"]
    runs = {}
    for name, seed in [("a", 0), ("b", 0), ("c", 1)]:
        ok(sweep(tmp_path / name, *tpe, f"seed={seed}"))
        runs[name] = [(r["param:x"], r["param:y"]) for r in rows(tmp_path / name)]
    assert runs["a"] == runs["b"]  # 2 random trials, then 3 modelled on the results
    assert runs["c"] != runs["a"]
