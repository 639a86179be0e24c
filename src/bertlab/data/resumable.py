"""Where training stands inside an epoch, so a resumed run continues with the next batch."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import lightning as L
from torch.utils.data import Sampler


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
        if done >= len(self.sampler):
            # saved at the end of an epoch (before or after its validation, which count the
            # epoch differently): the next epoch is a whole one, its number is Lightning's
            # (`set_epoch` at every epoch start)
            return iter(self.sampler)
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
