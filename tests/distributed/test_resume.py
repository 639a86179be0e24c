"""Resume after SIGKILL mid-epoch, seeded determinism, and clear errors for a bad resume."""

from __future__ import annotations

import pytest
import torch

from bertlab.errors import ConfigError
from bertlab.train.resume import newest_checkpoint, resume_checkpoint
from helpers.distributed import evaluate, fast, metrics, train, train_here, weights
from helpers.faults import KILL
from helpers.inprocess import run_here
from helpers.runs import ROOT, with_helpers_on_path

pytestmark = pytest.mark.slow
KILL_AT = 22  # epoch 1 (steps 15..29), 7 batches in; the newest checkpoint is step 20


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir, tiny_csv):
    """An uninterrupted seeded run (in this process; the runs compared with it are train.py
    subprocesses, so the determinism checked here holds across processes too)."""
    tmp = tmp_path_factory.mktemp("reference")
    return train_here(tmp, "run", tiny_model_dir, tiny_csv, tmp / "cache")


def test_resume_after_sigkill_matches_the_uninterrupted_run(
    reference, tmp_path, tiny_model_dir, tiny_csv
):
    kill = [KILL, f"+callbacks.kill.step={KILL_AT}"]
    env = with_helpers_on_path()
    out, proc = train(tmp_path, "run", tiny_model_dir, tiny_csv, tmp_path / "cache", *kill, env=env)
    assert proc.returncode == -9, proc.stderr[-3000:]  # SIGKILL: no cleanup ran
    assert not (out / "metrics.json").exists()
    assert newest_checkpoint(out).name == "step0000020.ckpt"

    resumed, proc = train(
        tmp_path,
        "other",
        tiny_model_dir,
        tiny_csv,
        tmp_path / "cache",
        f"resume={out}",
        run_dir=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Restoring states from the checkpoint path at" in proc.stderr + proc.stdout
    assert not resumed.exists()  # it wrote into the resumed run dir

    done, ref = metrics(out), metrics(reference)
    assert done["global_step"] == ref["global_step"] == 30
    assert done["epochs_run"] == ref["epochs_run"]
    # the final state (step 30, after the resume), not the best epoch (maybe before the kill)
    final = evaluate(out, "val", out / "checkpoints" / "step0000030.ckpt")
    expected = evaluate(reference, "val", reference / "checkpoints" / "step0000030.ckpt")
    print(f"\nresumed: {final}\nuninterrupted: {expected}")
    for key, value in expected.items():
        assert final[key] == pytest.approx(value, abs=1e-4), key
    a, b = (
        weights(out / "checkpoints" / "step0000030.ckpt"),
        weights(reference / "checkpoints" / "step0000030.ckpt"),
    )
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    print(f"max |weight difference| resumed vs uninterrupted: {diff:.3g}")
    assert diff < 1e-3
    for key, value in ref["test"].items():
        assert done["test"][key] == pytest.approx(value, abs=1e-4), key
    assert len(list(out.glob("events.out.tfevents.*"))) >= 2  # one log dir


def test_two_seeded_runs_give_identical_metrics(reference, tmp_path, tiny_model_dir, tiny_csv):
    again, proc = train(tmp_path, "again", tiny_model_dir, tiny_csv, tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = metrics(reference), metrics(again)
    assert first["best_val"] == second["best_val"]
    assert first["test"] == second["test"]
    a, b = (
        weights(reference / "checkpoints" / "step0000030.ckpt"),
        weights(again / "checkpoints" / "step0000030.ckpt"),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (reference / "split_manifest.json").read_bytes() == (
        again / "split_manifest.json"
    ).read_bytes()


def test_resume_needs_a_run_dir_with_checkpoints(tmp_path):
    with pytest.raises(ConfigError, match="no checkpoint"):
        newest_checkpoint(tmp_path)
    with pytest.raises(ConfigError, match="without -m"):
        resume_checkpoint(str(tmp_path / "a"), tmp_path / "b")
    assert resume_checkpoint(None, tmp_path) is None


def test_train_refuses_resume_of_an_empty_dir(tmp_path, tiny_model_dir, tiny_csv):
    empty = tmp_path / "empty"
    resume = f"resume={empty}"
    _, overrides = fast(
        tmp_path, "x", tiny_model_dir, tiny_csv, tmp_path / "cache", resume, run_dir=False
    )
    proc = run_here(ROOT / "train.py", *overrides)  # train.py's command line, in this process
    assert proc.returncode == 2
    assert "no checkpoint" in proc.stderr + proc.stdout
