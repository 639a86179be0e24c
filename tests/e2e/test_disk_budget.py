"""What runs leave on disk: step checkpoints, weights-only trial checkpoints, keep_checkpoints,
and run / sweep dirs that still work after a move."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

import bertlab
from bertlab.errors import RunDirError
from bertlab.sweep import summary
from bertlab.sweep.final import best_run
from bertlab.tools.loading import run_checkpoint
from bertlab.train.checkpoints import check_resumable, is_weights_only, relative_path
from helpers.faults import KILL
from helpers.inprocess import run_here, train_in_process
from helpers.runs import ROOT, run_train, tiny_overrides, with_helpers_on_path

pytestmark = pytest.mark.slow
FAST = [  # 240 train rows / 16 = 15 steps per epoch, 2 epochs; a step checkpoint every 5
    "data.batch_size=16",
    "trainer.max_epochs=2",
    "callbacks.step_checkpoint.every_n_train_steps=5",
    "~logger",
    "~callbacks.tensorboard_figures",
]


def fast(tmp: Path, name: str, model: Path, data: Path, *extra: str) -> tuple[Path, list[str]]:
    """(tmp/name, the overrides of a FAST run of the tiny model into it, or where resume=
    says)."""
    out = tmp / name
    resuming = any(o.startswith("resume=") for o in extra)
    base = tiny_overrides(model, data, out, tmp / "cache")
    base = [o for o in base if not (resuming and o.startswith("hydra.run.dir="))]
    return out, [*base, *FAST, *extra, f"paths.log_dir={tmp / 'logs'}"]


def train(
    tmp: Path, name: str, model: Path, data: Path, *extra: str, env: dict | None = None
) -> tuple[Path, subprocess.CompletedProcess]:
    """Run train.py on the tiny model into tmp/name (or where resume= says); return (run dir,
    finished process)."""
    out, overrides = fast(tmp, name, model, data, *extra)
    return out, run_train(*overrides, env=env)


def ckpts(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, tiny_model_dir, tiny_csv) -> Path:
    tmp = tmp_path_factory.mktemp("clean")
    out, overrides = fast(tmp, "run", tiny_model_dir, tiny_csv)
    train_in_process(*overrides)
    return out


def test_a_clean_run_deletes_its_step_checkpoint_and_records_a_relative_best(clean_run):
    names = ckpts(clean_run)
    assert not [n for n in names if n.startswith("step")], names
    assert "last.ckpt" in names and len(names) == 2, names  # best + last, both full
    best = json.loads((clean_run / "metrics.json").read_text())["best_checkpoint"]
    assert not Path(best).is_absolute() and best.startswith("checkpoints/"), best
    assert (clean_run / best).is_file()
    assert not is_weights_only(clean_run / best)  # a single run's best still resumes


def test_a_killed_run_keeps_its_step_checkpoint(tmp_path, tiny_model_dir, tiny_csv):
    kill = [KILL, "+callbacks.kill.step=22"]
    env = with_helpers_on_path()
    out, proc = train(tmp_path, "run", tiny_model_dir, tiny_csv, *kill, env=env)
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert "step0000020.ckpt" in ckpts(out)


def test_a_moved_run_dir_loads_its_own_checkpoint(clean_run, tmp_path, tiny_csv):
    copy = tmp_path / "copy"
    shutil.copytree(clean_run, copy)
    original = bertlab.load(clean_run, device="cpu").predict(["great film", "awful"])
    moved = tmp_path / "moved"
    shutil.move(copy, moved)
    (moved / "checkpoints" / "last.ckpt").unlink()  # only best is left in the moved dir
    assert run_checkpoint(moved).parent == moved / "checkpoints"
    saved = clean_run.with_name("saved")
    clean_run.rename(saved)  # the original is gone while the moved one loads
    try:
        again = bertlab.load(moved, device="cpu").predict(["great film", "awful"])
    finally:
        saved.rename(clean_run)
    assert str(again) == str(original)


def test_opt_in_weights_only_best_loads_but_refuses_resume(tmp_path, tiny_model_dir, tiny_csv):
    flag = "callbacks.model_checkpoint.save_weights_only=true"
    out, overrides = fast(tmp_path, "run", tiny_model_dir, tiny_csv, flag)
    train_in_process(*overrides)
    best = out / json.loads((out / "metrics.json").read_text())["best_checkpoint"]
    assert is_weights_only(best) and is_weights_only(best.with_name("last.ckpt"))
    assert bertlab.load(out, device="cpu").predict(["great film"])
    with pytest.raises(RunDirError, match="weights only"):
        check_resumable(best)
    _, resumed = fast(tmp_path, "other", tiny_model_dir, tiny_csv, flag, f"resume={out}")
    proc = run_here(ROOT / "train.py", *resumed)
    assert proc.returncode != 0
    assert "Resume is no longer possible" in proc.stdout + proc.stderr


def test_relative_path_is_inside_the_run_dir():
    assert relative_path("/a/b/checkpoints/x.ckpt", Path("/a/b")) == "checkpoints/x.ckpt"
    assert relative_path("checkpoints/x.ckpt", Path("/a")) == "checkpoints/x.ckpt"
    assert relative_path("", Path("/a")) is None
    assert relative_path("/elsewhere/x.ckpt", Path("/a/b")) == "/elsewhere/x.ckpt"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, tiny_model_dir, tiny_csv) -> Path:
    """A grid sweep of 3 trials keeping 1 checkpoint, ranked on val/loss."""
    tmp = tmp_path_factory.mktemp("sweep")
    out = tmp / "sweep"
    overrides = [
        o
        for o in tiny_overrides(tiny_model_dir, tiny_csv, out, tmp / "cache")
        if not o.startswith(("hydra.run.dir=", "model.optimizer.lr="))
    ]
    proc = run_train(
        "-m",
        "hparams_search=grid",
        *overrides,
        *FAST,
        "trainer.max_epochs=1",
        "model.optimizer.lr=1e-2,1e-3,1e-4",
        "objective.metric=val/loss",
        "objective.mode=min",
        f"hydra.sweep.dir={out}",
        f"paths.log_dir={tmp / 'logs'}",
        "hydra.sweeper.study_name=disk",
        "hydra.sweeper.keep_checkpoints=1",
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_keep_checkpoints_leaves_the_best_trials_weights_only(sweep):
    with (sweep / "sweep_summary.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 3 and {r["state"] for r in table} == {"COMPLETE"}
    best = min(table, key=lambda r: (float(r["objective"]), int(r["trial"])))
    record = yaml.safe_load((sweep / "best.yaml").read_text())
    assert record["trial"] == int(best["trial"])
    for r in table:
        assert not Path(r["run_dir"]).is_absolute() and (sweep / r["run_dir"]).is_dir()
        names = ckpts(sweep / r["run_dir"])
        if r is best:
            assert len(names) == 1 and names[0].startswith("epoch"), names  # no last, no step
            assert r["checkpoint"] == f"{r['run_dir']}/checkpoints/{names[0]}"
            assert is_weights_only(sweep / r["checkpoint"])
        else:
            assert names == [] and r["checkpoint"] == "", (r, names)
        assert (sweep / r["run_dir"] / "metrics.json").is_file()  # the record stays
    assert record["run_dir"] == best["run_dir"] and record["checkpoint"] == best["checkpoint"]
    state = torch.load(sweep / record["checkpoint"], map_location="cpu", weights_only=True)
    assert "optimizer_states" not in state and state["state_dict"]
    assert bertlab.load(sweep / record["run_dir"], device="cpu").predict(["great film"])


def test_a_moved_sweep_dir_finds_its_best_run(sweep, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(sweep, moved)
    record, run_dir = best_run(moved)
    assert run_dir == moved / record["run_dir"] and (run_dir / ".hydra").is_dir()
    legacy = {**record, "run_dir": str(tmp_path / "gone" / str(record["trial"]))}
    (moved / "best.yaml").write_text(yaml.safe_dump(legacy))  # an absolute path, moved away
    assert best_run(moved)[1] == moved / str(record["trial"])


def test_prune_keeps_the_top_k_complete_trials_and_spares_running_ones(tmp_path):
    study = optuna.create_study(direction="minimize")
    states = [
        (TrialState.COMPLETE, 0.5),
        (TrialState.COMPLETE, 0.2),
        (TrialState.PRUNED, 0.1),  # a pruned trial never keeps its checkpoint
        (TrialState.COMPLETE, 0.3),
        (TrialState.RUNNING, None),  # still training: left alone
    ]
    for number, (state, value) in enumerate(states):
        trial = study.ask()
        ckpt = tmp_path / str(number) / "checkpoints" / "best.ckpt"
        ckpt.parent.mkdir(parents=True)
        ckpt.write_bytes(b"x")
        trial.set_user_attr(summary.RUN_DIR, str(number))  # relative to the sweep dir
        trial.set_user_attr(summary.CHECKPOINT, "checkpoints/best.ckpt")
        if state != TrialState.RUNNING:
            study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
    assert summary.prune_checkpoints(study, tmp_path, None) == []
    assert sorted(summary.prune_checkpoints(study, tmp_path, 2)) == [0, 2]
    kept = sorted(p.parts[-3] for p in tmp_path.glob("*/checkpoints/*.ckpt"))
    assert kept == ["1", "3", "4"]
    table = {r["trial"]: r for r in summary.rows(study, tmp_path)}
    assert table[0]["checkpoint"] is None and table[0]["run_dir"] == "0"
    assert table[1]["checkpoint"] == "1/checkpoints/best.ckpt"
    assert summary.prune_checkpoints(study, tmp_path, 1) == [3]
