"""ResumableBatchSampler at an epoch's end (issue 20.7): the next epoch is Lightning's."""

from __future__ import annotations

import numpy as np

from bertlab.data.batching import BucketBatchSampler
from bertlab.data.resumable import ResumableBatchSampler


def _inner() -> BucketBatchSampler:
    return BucketBatchSampler(np.arange(40) % 7 + 3, 4, shuffle=True, seed=3)


def _epoch(epoch: int) -> list[list[int]]:
    inner = _inner()
    inner.set_epoch(epoch)
    return list(inner)


def test_resume_after_an_epoch_end_takes_the_epoch_lightning_sets():
    """An epoch checkpoint records {'epoch': 1, 'batches_done': 10} (epoch 0 done); Lightning
    then starts epoch 1 and calls set_epoch(1): epoch 1's order, not epoch 2's."""
    sampler = ResumableBatchSampler(_inner(), resume_at=(1, 10))
    sampler.set_epoch(1)
    assert list(sampler) == _epoch(1)


def test_resume_mid_epoch_skips_the_batches_done():
    sampler = ResumableBatchSampler(_inner(), resume_at=(1, 3))
    sampler.set_epoch(1)
    assert list(sampler) == _epoch(1)[3:]
    sampler.set_epoch(2)
    assert list(sampler) == _epoch(2)
