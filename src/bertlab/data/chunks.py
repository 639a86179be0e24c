"""`data.truncation=chunks`: documents as overlapping windows of max_length tokens.

The cache keeps each document's full ids ([CLS] t1 ... tn [SEP]); windows are cut when a split
is read, so the corpus, its split, deduplication and manifest stay per document, and a
document's windows always sit in its split. Training reads windows (each with its document's
label). Evaluation and prediction read documents: `DocumentBatchSampler` keeps all windows of
a document in one batch, and `DocumentCollator` adds `doc_index` (window -> document within
the batch) and `pooling`, so the module pools the windows' logits into one row per document
(`bertlab.model.pooling`) before loss and metrics: they count documents, not windows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from bertlab.data.batching import BucketBatchSampler, PadCollator, TokenizedSplit
from bertlab.data.tokenize import TokenizedCorpus
from bertlab.data.truncation import Truncation

Example = tuple[np.ndarray, np.ndarray, np.ndarray]


def window_spans(
    lengths: np.ndarray, width: int, overlap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows over texts of `lengths` content tokens: (text index, start, stop) per window.

    Window k of a text starts at k * (width - overlap); the last one ends at the text's end
    (and may be shorter). A text of at most `width` tokens (or none) is one window.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    step = width - overlap
    counts = 1 + np.maximum(0, -(-(lengths - width) // step))  # ceil division
    text = np.repeat(np.arange(len(lengths)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    start = (np.arange(counts.sum()) - first) * step
    return text, start, np.minimum(start + width, lengths[text])


class WindowSplit(Dataset):
    """The windows of the documents `rows` of a corpus; item i is (ids, type ids, label)."""

    def __init__(
        self, corpus: TokenizedCorpus, rows: np.ndarray, max_length: int, overlap: int
    ) -> None:
        self.corpus, self.rows = corpus, np.asarray(rows)
        content = np.maximum(corpus.lengths[self.rows] - 2, 0)
        self.doc, self.start, self.stop = window_spans(content, max_length - 2, overlap)
        self.lengths = self.stop - self.start + 2
        self.counts = np.bincount(self.doc, minlength=len(self.rows))
        self.first = np.cumsum(self.counts) - self.counts

    def __len__(self) -> int:
        return len(self.doc)

    def __getitem__(self, i: int) -> Example:
        c, row = self.corpus, self.rows[self.doc[i]]
        a, b = c.offsets[row], c.offsets[row + 1]
        keep = np.r_[a, a + 1 + self.start[i] : a + 1 + self.stop[i], b - 1]
        return c.input_ids[keep], c.token_type_ids[keep], c.labels[row]


class DocumentSplit(Dataset):
    """The same documents, one item per document: the list of its windows."""

    def __init__(self, windows: WindowSplit, pooling: str) -> None:
        self.windows, self.pooling = windows, pooling
        self.lengths = windows.corpus.lengths[windows.rows]

    def __len__(self) -> int:
        return len(self.windows.rows)

    def __getitem__(self, i: int) -> list[Example]:
        first = self.windows.first[i]
        return [self.windows[j] for j in range(first, first + self.windows.counts[i])]


class DocumentBatchSampler(Sampler[list[int]]):
    """Batches of whole documents, about `max_windows` windows each, shortest first.

    Documents are sorted by length and cut into groups of roughly equal window totals, as
    many as `ceil(windows / max_windows)` rounded up to a multiple of `num_replicas`; rank r
    takes every num_replicas-th group, no document twice. A document is never split, so a
    batch exceeds `max_windows` by less than its last document's windows (and a document
    longer than a whole group leaves a group empty: that rank gets one batch fewer).
    """

    def __init__(
        self, data: DocumentSplit, max_windows: int, num_replicas: int = 1, rank: int = 0
    ) -> None:
        order = np.argsort(data.lengths, kind="stable")
        counts = data.windows.counts[order]
        total = int(counts.sum())
        groups = math.ceil(math.ceil(total / max_windows) / num_replicas) * num_replicas
        group = (np.cumsum(counts) - counts) * groups // max(total, 1)
        batches = [order[group == g] for g in range(groups)]
        self.batches = [b for b in batches if len(b)][rank::num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            yield batch.tolist()

    def __len__(self) -> int:
        return len(self.batches)


class DocumentCollator:
    """Pad the windows of a batch of documents; labels per document, `doc_index` per window."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None, pooling: str) -> None:
        self.pad, self.pooling = PadCollator(pad_token_id, pad_to_multiple_of), pooling

    def __call__(self, documents: Sequence[list[Example]]) -> dict:
        batch = self.pad([w for doc in documents for w in doc])
        batch["labels"] = torch.from_numpy(np.stack([doc[0][2] for doc in documents]))
        counts = torch.tensor([len(doc) for doc in documents])
        batch["doc_index"] = torch.repeat_interleave(torch.arange(len(documents)), counts)
        batch["pooling"] = self.pooling
        return batch


def split_view(
    corpus: TokenizedCorpus, rows: np.ndarray, max_length: int, truncation: Truncation, train: bool
) -> Dataset:
    """Rows of a corpus as read for training (windows) or evaluation (documents)."""
    if not truncation.chunked:
        return TokenizedSplit(corpus, rows)
    windows = WindowSplit(corpus, rows, max_length, truncation.chunk_stride)
    return windows if train else DocumentSplit(windows, truncation.chunk_pooling)


def eval_batching(
    data: Dataset,
    batch_size: int,
    pad_token_id: int,
    pad_to_multiple_of: int | None,
    num_replicas: int = 1,
    rank: int = 0,
    bucket: bool = True,
) -> tuple[Sampler[list[int]], Callable]:
    """The batch sampler and collator that evaluate `data` (documents, or plain rows)."""
    if isinstance(data, DocumentSplit):
        sampler = DocumentBatchSampler(data, batch_size, num_replicas, rank)
        return sampler, DocumentCollator(pad_token_id, pad_to_multiple_of, data.pooling)
    sampler = BucketBatchSampler(
        data.lengths, batch_size, False, bucket, num_replicas=num_replicas, rank=rank
    )
    return sampler, PadCollator(pad_token_id, pad_to_multiple_of)
