"""Runs that cannot silently go wrong: one run per dir, resume only the same experiment, a
NaN loss stops the run, a full disk is named. Through the real train.py: its command line in
this process (`run_here`), in real processes where two start at once or a sweep runs."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from helpers.inprocess import run_here, train_in_process
from helpers.runs import HANG_GUARD_S, ROOT, run_train, tiny_overrides

pytestmark = pytest.mark.slow
ONE_EPOCH = ["trainer.max_epochs=1", "test_after_fit=false"]
TRAIN = ROOT / "train.py"


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` except logs (which a refused start may append to)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix != ".log"
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model_dir, tiny_csv) -> tuple[Path, Path, list[str]]:
    """A one-epoch run on its own copy of the data: (run dir, data file, overrides)."""
    tmp = tmp_path_factory.mktemp("finished")
    data = Path(shutil.copy(tiny_csv, tmp / "data.csv"))
    overrides = [*tiny_overrides(tiny_model_dir, data, tmp / "run", tmp / "cache"), *ONE_EPOCH]
    train_in_process(*overrides)
    return tmp / "run", data, overrides


def test_a_second_run_into_the_same_dir_is_refused(finished):
    run, _, overrides = finished
    before = digests(run)
    proc = run_here(TRAIN, *overrides)
    assert proc.returncode == 2
    assert "already holds a run" in output(proc) and "resume=" in output(proc)
    assert "Traceback" not in output(proc)
    assert digests(run) == before and not (run / "FAILED.txt").exists()


def test_a_refused_run_with_other_settings_leaves_the_hydra_copies_alone(finished):
    """`bertlab.sweep.final` reads .hydra/config.yaml back: a refused run must not rewrite it
    (issue 20.9: it did, with the refused run's settings)."""
    run, _, overrides = finished
    before = digests(run)
    proc = run_train(*overrides, "model.optimizer.lr=0.05", "seed=7")
    assert proc.returncode == 2 and "already holds a run" in output(proc)
    assert digests(run) == before
    assert "0.05" not in (run / ".hydra" / "overrides.yaml").read_text()


def test_runs_started_in_the_same_second_get_their_own_dirs(tmp_path, tiny_model_dir, tiny_csv):
    overrides = [
        o
        for o in tiny_overrides(tiny_model_dir, tiny_csv, tmp_path, tmp_path / "cache")
        if not o.startswith("hydra.run.dir=")
    ]
    command = [sys.executable, str(ROOT / "train.py"), *overrides, f"paths.log_dir={tmp_path}"]
    procs = [
        subprocess.Popen(
            [*command, "debug=fast_dev_run"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.wait(timeout=HANG_GUARD_S) == 0, proc.stderr.read()[-3000:]
    runs = sorted(tmp_path.glob("*/runs/*"))  # fast_dev_run's task name is "debug"
    assert len(runs) == 2 and all((r / "config.yaml").is_file() for r in runs)


def test_resume_with_another_data_file_is_refused_and_writes_nothing(finished, tmp_path):
    run, data, overrides = finished
    other = tmp_path / "other.csv"
    pd.read_csv(data).head(200).to_csv(other, index=False)
    before = digests(run)
    resumed = [o for o in overrides if not o.startswith(("hydra.run.dir=", "data.source.path="))]
    proc = run_here(TRAIN, *resumed, f"data.source.path={other}", f"resume={run}")
    assert proc.returncode == 2, output(proc)[-3000:]
    assert "data.source.path" in output(proc) and "another setup" in output(proc)
    assert digests(run) == before


def test_resume_on_changed_file_content_is_refused_and_writes_nothing(finished):
    run, data, overrides = finished
    original = data.read_bytes()
    table = pd.read_csv(data)
    table.loc[::3, "label"] = "meh"  # a third class, same file name
    table.to_csv(data, index=False)
    before = digests(run)
    try:
        resumed = [o for o in overrides if not o.startswith("hydra.run.dir=")]
        proc = run_here(TRAIN, *resumed, f"resume={run}", "trainer.max_epochs=2")
    finally:
        data.write_bytes(original)
    assert proc.returncode == 2, output(proc)[-3000:]
    assert "labels" in output(proc) and "meh" in output(proc)
    assert digests(run) == before
    assert json.loads((run / "label_map.json").read_text())["id2label"] == {"0": "neg", "1": "pos"}


@pytest.fixture(scope="module")
def nan_model(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny model with NaN in its embedding LayerNorm: every loss is NaN."""
    out = Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("nan") / "model"))
    weights = load_file(out / "model.safetensors")
    name = next(k for k in weights if "embeddings.LayerNorm.weight" in k)
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    return out


def test_a_nan_loss_stops_the_run(nan_model, tmp_path, tiny_csv):
    out = tmp_path / "run"
    proc = run_here(
        TRAIN,
        *tiny_overrides(nan_model, tiny_csv, out, tmp_path / "cache"),
        "max_nonfinite_steps=2",
        "trainer.log_every_n_steps=1",
    )
    assert proc.returncode == 2, output(proc)[-3000:]
    assert "NaN or infinite for 2 steps in a row" in output(proc)
    assert "Traceback" not in output(proc)
    assert "NaN or infinite" in (out / "FAILED.txt").read_text()
    assert not (out / "metrics.json").exists()


def test_a_nan_loss_fails_the_sweep_trial(nan_model, tmp_path, tiny_csv):
    overrides = [
        o
        for o in tiny_overrides(nan_model, tiny_csv, tmp_path, tmp_path / "cache")
        if not o.startswith("hydra.run.dir=")
    ]
    run_train(
        "-m",
        "hparams_search=optuna",
        *overrides,
        f"paths.log_dir={tmp_path}",
        "hydra.sweeper.study_name=nan",
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.max_failure_rate=1.0",
    )
    journal = tmp_path / "train" / "sweeps" / "nan" / "optuna.journal"
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))
    )
    trials = optuna.load_study(study_name="nan", storage=storage).trials
    assert [t.state.name for t in trials] == ["FAIL"]
    assert "NaN or infinite" in trials[0].user_attrs["error"]


@pytest.fixture()
def small_disk(tmp_path):
    """A 4 MB tmpfs: too small for the tiny model's 12 MB checkpoint."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)])
    assert proc.returncode == 0, "mounting a tmpfs needs root (CI and dev machines run as root)"
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_while_checkpointing_is_named(small_disk, tmp_path, tiny_model_dir, tiny_csv):
    out = small_disk / "run"
    proc = run_here(TRAIN, *tiny_overrides(tiny_model_dir, tiny_csv, out, tmp_path / "cache"))
    assert proc.returncode == 2, output(proc)[-3000:]
    assert "No space left on device while saving checkpoint" in output(proc)
    assert str(out / "checkpoints") in output(proc) and "Traceback" not in output(proc)
    assert not list((out / "checkpoints").glob("*.ckpt"))  # no truncated checkpoint
    assert not (out / "metrics.json").exists()
