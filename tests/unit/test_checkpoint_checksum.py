"""Checkpoint bytes are verified (issue 20.6): a sha256 sidecar is written with each
checkpoint, checked on load; a damaged newest checkpoint is skipped at resume= with a warning,
as a truncated one already is."""

from __future__ import annotations

import logging
import os

import pytest
import torch

from bertlab.callbacks.training import moved_checkpoint_state
from bertlab.errors import ModelError
from bertlab.train.resume import newest_checkpoint
from bertlab.utils.checkpoint_io import AtomicCheckpointIO, load_checkpoint_file


def _state(seed: int) -> dict:
    torch.manual_seed(seed)
    return {
        "state_dict": {"w": torch.randn(256, 256)},
        "optimizer_states": [{"state": {0: {"exp_avg": torch.randn(256, 256)}}}],
        "global_step": seed,
    }


def _zero_inside(path, size=64 * 1024):
    """Zero `size` bytes inside tensor data, keeping its length (no truncation)."""
    length = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(int(length * 0.7))  # inside the second tensor (Adam state), not a header
        f.write(b"\0" * size)


def test_damaged_bytes_inside_a_checkpoint_are_detected(tmp_path):
    path = tmp_path / "checkpoints" / "step0000012.ckpt"
    AtomicCheckpointIO().save_checkpoint(_state(12), path)
    assert torch.equal(load_checkpoint_file(path)["state_dict"]["w"], _state(12)["state_dict"]["w"])
    _zero_inside(path)
    with pytest.raises(ModelError, match=r"step0000012\.ckpt.*sha256"):
        load_checkpoint_file(path)


def test_resume_falls_back_to_the_previous_good_checkpoint(tmp_path, caplog):
    folder = tmp_path / "checkpoints"
    io = AtomicCheckpointIO()
    io.save_checkpoint(_state(8), folder / "epoch00-step8.ckpt")
    io.save_checkpoint(_state(12), folder / "step0000012.ckpt")
    newer = folder / "step0000012.ckpt"
    os.utime(newer, ns=(os.stat(newer).st_atime_ns, os.stat(newer).st_mtime_ns + 10**9))
    _zero_inside(newer)
    with caplog.at_level(logging.WARNING):
        chosen = newest_checkpoint(tmp_path)
    assert chosen.name == "epoch00-step8.ckpt"
    assert "step0000012.ckpt" in caplog.text


def test_lightning_loads_through_the_plugin_verified_too(tmp_path):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint(_state(3), path)
    assert io.load_checkpoint(path)["global_step"] == 3
    _zero_inside(path)
    with pytest.raises(ModelError, match="sha256"):
        io.load_checkpoint(path)


def test_removing_a_checkpoint_removes_its_checksum(tmp_path):
    path = tmp_path / "step1.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint(_state(1), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step1.ckpt", "step1.ckpt.sha256"]
    io.remove_checkpoint(path)
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_without_a_checksum_still_loads(tmp_path):
    """Checkpoints written before checksums existed (or by Lightning elsewhere)."""
    path = tmp_path / "old.ckpt"
    torch.save(_state(2), path)
    assert load_checkpoint_file(path)["global_step"] == 2


def test_a_checkpoint_state_from_a_moved_run_dir_points_into_the_new_one(tmp_path):
    """A copied run dir resumes with its own top-k record (a tie keeps the earlier epoch); the
    state of another run's checkpoint (`ckpt_path=`) is left alone."""
    old, new = str(tmp_path / "a" / "checkpoints"), str(tmp_path / "b" / "checkpoints")
    os.makedirs(new)
    state = {
        "dirpath": old,
        "best_model_path": f"{old}/epoch00-step15.ckpt",
        "kth_best_model_path": f"{old}/epoch00-step15.ckpt",
        "last_model_path": f"{old}/last.ckpt",
        "best_k_models": {f"{old}/epoch00-step15.ckpt": 0.5},
        "best_model_score": 0.5,
    }
    assert moved_checkpoint_state(state, new) is state  # b holds no copy of a's checkpoints
    open(os.path.join(new, "epoch00-step15.ckpt"), "wb").close()
    moved = moved_checkpoint_state(state, new)
    assert moved["dirpath"] == new
    assert moved["best_model_path"] == f"{new}/epoch00-step15.ckpt"
    assert moved["last_model_path"] == f"{new}/last.ckpt"
    assert moved["best_k_models"] == {f"{new}/epoch00-step15.ckpt": 0.5}
    assert moved_checkpoint_state(state, old) is state
