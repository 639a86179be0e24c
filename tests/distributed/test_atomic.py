"""A SIGKILL in the middle of a checkpoint write leaves the previous checkpoint intact."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import torch

from bertlab.train.resume import newest_checkpoint
from bertlab.utils.checkpoint_io import AtomicCheckpointIO
from helpers.runs import HANG_GUARD_S

WRITER = textwrap.dedent("""
    import sys, time, torch
    from bertlab.utils.checkpoint_io import AtomicCheckpointIO

    class Slow:  # pickling blocks after the file is open: the kill lands mid-write
        def __reduce__(self):
            time.sleep(60)
            return (int, (0,))

    state = {"weights": torch.full((256, 256), 2.0), "slow": Slow()}
    AtomicCheckpointIO().save_checkpoint(state, sys.argv[1])
""")


def test_kill_during_a_write_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"weights": torch.ones(256, 256)}, path)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
    deadline = time.monotonic() + HANG_GUARD_S
    while not list(path.parent.glob(".last.ckpt.*.tmp")):  # the new version is being written
        assert proc.poll() is None and time.monotonic() < deadline, "writer never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=HANG_GUARD_S) == -signal.SIGKILL
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["weights"], torch.ones(256, 256))  # the old one, whole
    assert newest_checkpoint(tmp_path) == path  # the leftover temp file is never picked


def test_save_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"v": torch.tensor(1)}, path)
    io.save_checkpoint({"v": torch.tensor(2)}, path)
    assert int(torch.load(path, weights_only=True)["v"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt", "a.ckpt.sha256"]
