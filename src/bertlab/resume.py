"""Resume a killed run in its own run dir: find its newest checkpoint, continue the epoch where
it stopped (same batches, same random state), keep one TensorBoard log.

    python train.py <the same overrides> resume=outputs/train/runs/2025-01-01_12-00-00
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import Sampler

from bertlab.errors import ModelError, RunDirError
from bertlab.utils.checkpoint_io import load_checkpoint_file

log = logging.getLogger(__name__)


def find_checkpoint(run_dir: str | Path) -> Path:
    """The newest checkpoint of a run dir that loads; a damaged newer one is skipped (logged).

    Raises:
        RunDirError: if the folder holds no checkpoint, or none that loads.
    """
    folder = Path(run_dir) / "checkpoints"
    found = [p for p in folder.glob("*.ckpt") if not p.name.startswith(".")]
    if not found:
        raise RunDirError(
            f"resume={run_dir}: no checkpoint in {folder}. Pass the run dir of an earlier run "
            "(outputs/<task>/runs/<time>) that saved checkpoints, or drop resume= to start afresh."
        )
    newest_first = sorted(
        found, key=lambda p: (p.stat().st_mtime_ns, p.name == "last.ckpt"), reverse=True
    )
    problems = []
    for path in newest_first:
        try:
            load_checkpoint_file(path, mmap=True)
        except ModelError as err:
            log.warning("Skipping checkpoint %s: %s", path, err)
            problems.append(path.name)
            continue
        if problems:
            log.warning(
                "resume: the newer checkpoint(s) %s cannot be loaded; resuming from %s instead",
                ", ".join(problems),
                path,
            )
        return path
    raise RunDirError(
        f"resume={run_dir}: none of its checkpoints loads ({', '.join(problems)}): all are "
        "damaged. Start a new run without resume=."
    )


class ResumableBatchSampler(Sampler[list[int]]):
    """Wraps a batch sampler; given `resume_at=(epoch, done)`, its first pass is that epoch's
    order without the `done` batches already trained on. Length is the wrapped sampler's.

    The wrapped sampler is exposed as `.sampler` because that is where Lightning calls
    `set_epoch` each epoch (`batch_sampler.sampler`); without it the order never reshuffles.
    The position is set explicitly rather than through Lightning's loader `state_dict`,
    because Lightning builds and prefetches the training iterator (for
    `estimated_stepping_batches`) before it restores loop states.
    """

    def __init__(self, inner: Sampler[list[int]], resume_at: tuple[int, int] | None = None) -> None:
        self.sampler, self._resume_at = inner, resume_at

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[list[int]]:
        at, self._resume_at = self._resume_at, None
        if at is None:
            return iter(self.sampler)
        epoch, done = at
        if done >= len(self.sampler):  # saved at the end of an epoch: start the next one
            epoch, done = epoch + 1, 0
        self.set_epoch(epoch)
        return itertools.islice(iter(self.sampler), done, None)


def train_position(trainer: L.Trainer) -> dict[str, int]:
    """Where training stands: the epoch and the batches whose training step finished in it.

    Counting finished steps (not batches fetched) keeps it exact although Lightning
    prefetches one batch ahead.
    """
    loop = trainer.fit_loop
    return {
        "epoch": int(loop.epoch_progress.current.processed),
        "batches_done": int(loop.epoch_loop.batch_progress.current.processed),
    }


class RandomState(L.Callback):
    """Saves every rank's random generators in checkpoints and restores them just before the
    first training batch after a resume, so dropout continues as if never interrupted."""

    def __init__(self) -> None:
        self._pending: list[dict[str, Any]] | None = None

    @staticmethod
    def _capture() -> dict[str, Any]:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        state = {  # tensors and plain Python only: checkpoints load with weights_only=True
            "torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "python": random.getstate(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state()
        return state

    def state_dict(self) -> dict[str, Any]:
        state = self._capture()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            states: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(states, state)
            return {"ranks": states}
        return {"ranks": [state]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict.get("ranks")

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        states, self._pending = self._pending, None
        if not states or len(states) != trainer.world_size:
            return  # a different world size: the saved streams do not map onto the ranks
        state = states[trainer.global_rank]
        torch.set_rng_state(state["torch"])
        kind, keys, *rest = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
        random.setstate(state["python"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda"])


def resume_checkpoint(resume: str | None, out: Path) -> Path | None:
    """The checkpoint to continue from when `resume=<run dir>` is set; None otherwise.

    Raises:
        RunDirError: if the run would not write into the resumed dir (a multirun, or an
            explicit hydra.run.dir), or the dir holds no checkpoint.
    """
    if not resume:
        return None
    run_dir = Path(resume).resolve()
    if out.resolve() != run_dir:
        raise RunDirError(
            f"resume={resume} but this run writes to {out}. Resume one run at a time, without -m "
            "and without hydra.run.dir: resume= sets the run dir itself."
        )
    return find_checkpoint(run_dir)
