"""Length-bucketed sampling and dynamic padding."""

from __future__ import annotations

import numpy as np
import torch

from bertlab.data.batching import BucketBatchSampler, PadCollator


def lengths(n=1000, seed=0):
    return np.random.default_rng(seed).integers(3, 120, size=n)


def test_every_example_once_per_epoch_in_shuffled_buckets():
    lens = lengths()
    sampler = BucketBatchSampler(lens, batch_size=32, seed=1, pool_batches=10)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lens)))
    sampler.set_epoch(1)
    assert list(sampler) != batches  # a new order each epoch


def test_buckets_pad_less_than_random_batches():
    lens = lengths()

    def padded_tokens(batches):
        return sum(len(b) * lens[b].max() for b in map(np.array, batches))

    bucketed = padded_tokens(BucketBatchSampler(lens, 32, seed=0))
    plain = padded_tokens(BucketBatchSampler(lens, 32, seed=0, bucket=False))
    assert bucketed < 0.75 * plain


def test_eval_batches_cover_all_in_length_order():
    lens = lengths(100)
    batches = list(BucketBatchSampler(lens, 16, shuffle=False))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(100))
    assert list(lens[flat]) == sorted(lens)


def test_ranks_step_equally_and_cover_everything():
    lens = lengths(1001)
    shards = [list(BucketBatchSampler(lens, 32, seed=0, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1])
    assert set(i for s in shards for b in s for i in b) == set(range(1001))
    evals = [
        list(BucketBatchSampler(lens, 32, shuffle=False, num_replicas=2, rank=r)) for r in (0, 1)
    ]
    assert sorted(i for s in evals for b in s for i in b) == list(range(1001))  # no duplicates


def test_pad_to_multiple_of_8_with_masks():
    examples = [
        (np.array([101, 7, 102]), np.array([0, 0, 0]), np.int64(1)),
        (np.array([101, 5, 6, 8, 9, 102]), np.array([0, 0, 0, 1, 1, 1]), np.int64(0)),
    ]
    batch = PadCollator(pad_token_id=0, pad_to_multiple_of=8)(examples)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["attention_mask"].sum(1).tolist() == [3, 6]
    assert batch["token_type_ids"][1, :6].tolist() == [0, 0, 0, 1, 1, 1]
    assert batch["labels"].tolist() == [1, 0] and batch["labels"].dtype == torch.int64
