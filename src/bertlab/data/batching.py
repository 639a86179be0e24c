"""Batches: length-bucketed shuffling for training, length-sorted batches for evaluation, and
dynamic padding: to the longest example (CPU), to a multiple of 8 (tensor-core friendly), or to
one of a few fixed widths ("length buckets": a bounded set of batch shapes, so that compiled
graphs, cuDNN attention plans and CUDA graphs are built for at most ~16 shapes a run)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from bertlab.data.tokenize import TokenizedCorpus


class TokenizedSplit(Dataset):
    """The rows `rows` of a tokenized corpus; item i is (token ids, token type ids, label)."""

    def __init__(self, corpus: TokenizedCorpus, rows: np.ndarray) -> None:
        self.corpus, self.rows = corpus, rows
        self.lengths = corpus.lengths[rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c, row = self.corpus, self.rows[i]
        start, stop = c.offsets[row], c.offsets[row + 1]
        return c.input_ids[start:stop], c.token_type_ids[start:stop], c.labels[row]


def length_buckets(max_length: int, count: int = 16) -> list[int]:
    """At most `count` padded widths up to `max_length`: multiples of the smallest multiple
    of 8 that is >= max_length / count, the last exactly `max_length`. 128 -> multiples of 8
    (what pad-to-8 gives: 16 widths), 256 -> of 16, 512 -> of 32. Measured on synthetic
    length models (batch 32, bucketed, 16,384 examples; docs/performance.md): IMDB-like at
    512 pads 6.4 % above the real tokens in 14 shapes (pad-to-8: 2.8 %, 56 shapes); SST-2-like
    at 128, 17.4 % in 9 shapes. Uniform steps beat geometric ones on both (10.9 % / 18.2 %).
    `pad_to_multiple_of: buckets:512` in a config."""
    if max_length < 1 or count < 1:
        raise ValueError(f"length_buckets needs max_length, count >= 1 (got {max_length}, {count})")
    step = max(8, math.ceil(max_length / count / 8) * 8)
    return [*range(step, max_length, step), max_length]


PadSpec = int | str | Sequence[int] | None


def parse_pad_spec(spec: PadSpec) -> int | tuple[int, ...]:
    """A padding setting as an int multiple (1: none) or a tuple of bucket widths.

    None / 0 / 1: the longest example; an int n: a multiple of n; a list of ints: the
    smallest listed width that holds the longest example; "buckets:MAX" (or
    "buckets:MAX:COUNT"): `length_buckets(MAX, COUNT)`. A batch longer than every listed
    width is padded to a multiple of 8 (never truncated): list `max_length` last.
    """
    if spec is None or isinstance(spec, bool):
        if spec:
            raise ValueError("pad_to_multiple_of: a bool is not a padding setting")
        return 1
    if isinstance(spec, int | np.integer):
        if spec < 0:
            raise ValueError(f"pad_to_multiple_of must be >= 0, got {spec}")
        return int(spec) or 1
    if isinstance(spec, str):
        name, _, args = spec.partition(":")
        parts = args.split(":") if args else []
        if name.strip() != "buckets" or not 1 <= len(parts) <= 2:
            raise ValueError(
                f"pad_to_multiple_of={spec!r}: expected an int, a list of widths, "
                "'buckets:<max_length>' or 'buckets:<max_length>:<count>'"
            )
        return tuple(length_buckets(*(int(p) for p in parts)))
    widths = tuple(sorted({int(w) for w in spec}))
    if not widths or widths[0] < 1:
        raise ValueError(f"pad_to_multiple_of: bucket widths must be >= 1, got {list(spec)}")
    return widths


class PadCollator:
    """Pad a list of examples to the longest, rounded up by `pad_to_multiple_of`.

    `pad_to_multiple_of`: None (the longest), an int multiple, a list of bucket widths or
    "buckets:MAX[:COUNT]" (see `parse_pad_spec`). `multiple` keeps the parsed setting (what
    `PadCollator(pad, collator.multiple)` rebuilds the same collator from).
    """

    def __init__(self, pad_token_id: int = 0, pad_to_multiple_of: PadSpec = 8) -> None:
        self.pad_token_id, self.multiple = pad_token_id, parse_pad_spec(pad_to_multiple_of)

    def width(self, longest: int) -> int:
        """The padded length of a batch whose longest example has `longest` tokens."""
        if isinstance(self.multiple, tuple):
            i = bisect.bisect_left(self.multiple, longest)
            if i < len(self.multiple):
                return self.multiple[i]
            return math.ceil(longest / 8) * 8  # longer than every bucket: never truncate
        return math.ceil(longest / self.multiple) * self.multiple

    def __call__(self, examples: Sequence[tuple]) -> dict[str, torch.Tensor]:
        longest = max(len(ids) for ids, _, _ in examples)
        width = self.width(longest)
        input_ids = np.full((len(examples), width), self.pad_token_id, dtype=np.int64)
        token_type_ids = np.zeros((len(examples), width), dtype=np.int64)
        attention_mask = np.zeros((len(examples), width), dtype=np.int64)
        for i, (ids, types, _) in enumerate(examples):
            input_ids[i, : len(ids)] = ids
            token_type_ids[i, : len(ids)] = types
            attention_mask[i, : len(ids)] = 1
        labels = np.stack([label for _, _, label in examples])
        return {
            "input_ids": torch.from_numpy(input_ids),
            "token_type_ids": torch.from_numpy(token_type_ids),
            "attention_mask": torch.from_numpy(attention_mask),
            "labels": torch.from_numpy(labels),
        }


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar length, in shuffled order; every example once per epoch.

    Shuffles the indices, cuts them into pools of `batch_size * pool_batches`, sorts each pool
    by length and slices it into batches, then shuffles the batches. With `shuffle=False` it
    returns batches of a global length sort (evaluation: least padding, order irrelevant).
    Under data parallelism each of `num_replicas` ranks takes every num_replicas-th batch; for
    training the batch list is padded by repetition so that all ranks step equally often.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        bucket: bool = True,
        pool_batches: int = 50,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.lengths, self.batch_size = np.asarray(lengths), batch_size
        self.shuffle, self.bucket, self.pool = shuffle, bucket, batch_size * pool_batches
        self.seed, self.epoch = seed, 0
        self.num_replicas, self.rank = num_replicas, rank

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[np.ndarray]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable") if self.bucket else np.arange(n)
            if self.num_replicas > 1:  # as many batches on every rank, no example repeated:
                # no rank idles (Lightning refuses empty loaders; collectives need equal steps)
                count = math.ceil(math.ceil(n / self.batch_size) / self.num_replicas)
                return [b for b in np.array_split(order, count * self.num_replicas) if len(b)]
            return [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n)
        batches = []
        for start in range(0, n, self.pool if self.bucket else n):
            pool = order[start : start + self.pool]
            if self.bucket:
                pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def _shard(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        if self.num_replicas == 1:
            return batches
        if self.shuffle:  # equal step counts on every rank
            short = -len(batches) % self.num_replicas
            batches = batches + batches[:short]
        return batches[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._shard(self._batches()):
            yield batch.tolist()

    def __len__(self) -> int:
        n = len(self.lengths)
        if not self.shuffle and self.num_replicas > 1:
            return len(self._shard(self._batches()))
        if self.shuffle and self.bucket:
            full, rest = divmod(n, self.pool)
            total = full * math.ceil(self.pool / self.batch_size) + math.ceil(
                rest / self.batch_size
            )
        else:
            total = math.ceil(n / self.batch_size)
        if self.num_replicas == 1:
            return total
        if self.shuffle:
            return math.ceil(total / self.num_replicas)
        return len(range(self.rank, total, self.num_replicas))
