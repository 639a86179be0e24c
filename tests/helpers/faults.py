"""Fault injection for the kill tests: a callback that SIGKILLs its own process.

A subprocess names it as `+callbacks.kill._target_=helpers.faults.KillAt` with tests/ on its
PYTHONPATH (`helpers.runs.with_helpers_on_path`)."""

from __future__ import annotations

import os
import signal

import lightning as L


class KillAt(L.Callback):
    """SIGKILL this process when training reaches global step `step` (no cleanup runs)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


KILL = "+callbacks.kill._target_=helpers.faults.KillAt"  # add f"+callbacks.kill.step={n}"


class RaiseAt(L.Callback):
    """Raise a RuntimeError when training reaches global step `step` (a fit that fails)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError(f"failing on purpose at step {self.step}")


RAISE = "+callbacks.fail._target_=helpers.faults.RaiseAt"  # add f"+callbacks.fail.step={n}"
