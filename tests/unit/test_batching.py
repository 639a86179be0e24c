"""Length-bucketed sampling and dynamic padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertlab.data.batching import BucketBatchSampler, PadCollator, length_buckets


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


# ---- bounded batch shapes (length buckets) ----


def lognormal_lengths(n, median, sigma, lo, hi, seed=0):
    """SST-2-like (22, 0.5, 4, 66) or IMDB-like (260, 0.6, 32, 512) token counts (bench/common)."""
    rng = np.random.default_rng(seed)
    raw = np.exp(np.log(median) + sigma * rng.standard_normal(n))
    return np.clip(raw, lo, hi).astype(np.int64)


def epoch_widths(lens, collate, batch_size=32, shuffle=True):
    """Padded widths of every batch of one epoch, each checked for truncation and masks."""
    rng = np.random.default_rng(1)
    data = [(rng.integers(5, 999, n), np.zeros(n, np.int64), np.int64(0)) for n in lens]
    widths = []
    for idx in BucketBatchSampler(lens, batch_size, shuffle=shuffle, seed=3):
        batch = collate([data[i] for i in idx])
        mask = batch["attention_mask"]
        assert mask.sum(1).tolist() == [len(data[i][0]) for i in idx]  # nothing truncated
        for row, i in enumerate(idx):
            n = len(data[i][0])
            assert batch["input_ids"][row, :n].tolist() == data[i][0].tolist()
            assert (mask[row, :n] == 1).all() and (mask[row, n:] == 0).all()
            assert (batch["input_ids"][row, n:] == 0).all()
        widths.append(batch["input_ids"].shape[1])
    return widths


@pytest.mark.parametrize("model, max_length", [((22, 0.5, 4, 66), 128), ((260, 0.6, 32, 512), 512)])
def test_buckets_bound_the_shapes_of_an_epoch(model, max_length):
    lens = lognormal_lengths(4000, *model)
    spec = f"buckets:{max_length}"
    train = epoch_widths(lens, PadCollator(0, spec))
    evals = epoch_widths(lens, PadCollator(0, spec), batch_size=128, shuffle=False)
    assert len(set(train) | set(evals)) <= 16
    assert max(train) <= max_length and set(train) <= set(length_buckets(max_length))
    by_8 = set(epoch_widths(lens, PadCollator(0, 8)))
    assert len(set(train)) <= len(by_8)  # at 128 the same as pad-to-8
    if max_length == 512:
        assert len(by_8) > 16 >= len(set(train))  # the case: up to 64 lengths
    # the price: extra pad tokens against pad-to-8, bounded
    assert sum(train) < 1.3 * sum(epoch_widths(lens, PadCollator(0, 8)))


def test_length_buckets():
    assert length_buckets(512) == list(range(32, 513, 32))  # 16 widths
    assert length_buckets(128) == list(range(8, 129, 8))  # = pad to 8
    assert length_buckets(100)[-1] == 100 and len(length_buckets(100)) <= 16  # never above
    assert length_buckets(256, 4) == [64, 128, 192, 256]
    assert all(w % 8 == 0 for w in length_buckets(512, 7))


def test_pad_specs():
    assert PadCollator(0, None).multiple == 1 and PadCollator(0, 8).multiple == 8
    collate = PadCollator(0, [64, 32, 128])
    assert collate.multiple == (32, 64, 128)
    assert [collate.width(n) for n in (1, 32, 33, 128, 130)] == [32, 32, 64, 128, 136]
    assert PadCollator(0, "buckets:256").multiple == tuple(length_buckets(256))
    assert PadCollator(0, "buckets:256:4").multiple == tuple(length_buckets(256, 4))
    assert PadCollator(0, PadCollator(0, "buckets:512").multiple).width(40) == 64  # rebuilt
    for bad in ("buckets", "eight", "buckets:a", -1, [0, 8], True):
        with pytest.raises(ValueError):
            PadCollator(0, bad)


def test_auto_padding_is_length_buckets_on_a_gpu_and_none_on_a_cpu():
    from bertlab.data.datamodule import auto_loader_settings

    gpu = auto_loader_settings("cuda", 512)["pad_to_multiple_of"]
    assert gpu == tuple(length_buckets(512)) and len(gpu) <= 16
    assert PadCollator(0, gpu).width(40) == 64  # the next bucket up
    assert auto_loader_settings("cpu", 512)["pad_to_multiple_of"] is None


# ---- torch.compile decision (bertlab.model.compile) ----


def test_compile_settings_by_device():
    from bertlab.model.compile import compile_network, compile_settings

    assert compile_settings("auto", None, "cpu") is None  # CPU: nothing compiles by default
    assert compile_settings("auto", None, "cuda") is None  # no planned steps: nothing to repay
    assert compile_settings("regional", None, "cuda") == {"dynamic": True, "mode": None}
    assert compile_settings("static", "reduce-overhead", "cuda") == {
        "dynamic": False,
        "mode": "reduce-overhead",
    }
    assert compile_settings(True, "reduce-overhead", "cpu") == {"dynamic": True, "mode": None}
    assert compile_settings(False, "reduce-overhead", "cuda") is None
    with pytest.raises(ValueError):
        compile_settings("yes", None, "cuda")
    net = torch.nn.Linear(2, 2)
    assert compile_network(net, "auto", "reduce-overhead", "cpu") is net
