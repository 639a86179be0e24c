"""Packed sequences, the data side: several tokenized examples share one row, so no FLOP goes
to padding. `pack_rows` groups examples into rows (first-fit decreasing), `PackCollator` builds
the packed batch (token ids, restarting position ids, segment ids, each example's [CLS]
position), `packing_efficiency` measures it. The model side (the block-diagonal attention mask
and the logits of a packed batch) is `bertlab.model.packing`.

    collate = PackCollator(pad_token_id=0, max_length=512)
    batch = collate(examples)                      # [(ids, type ids, label), ...] as batched
    logits = packed_logits(network, batch)         # bertlab.model.packing; input order

Not wired into training: on long data packing cannot raise useful tokens/s over length buckets
(`python bench/shapes.py`; docs/performance.md, "Packed sequences").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from bertlab.data.batching import PadCollator, PadSpec


def pack_rows(lengths: Sequence[int] | np.ndarray, max_length: int) -> list[list[int]]:
    """First-fit decreasing: example indices grouped into rows of at most `max_length` tokens.

    Every index appears exactly once; within a row, indices are in the order placed (longest
    first). Rows come in the order opened, so the first row holds the longest example.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and (lengths.max() > max_length or lengths.min() < 1):
        raise ValueError(
            f"pack_rows: every example needs 1..{max_length} tokens "
            f"(got {int(lengths.min())}..{int(lengths.max())})"
        )
    rows: list[list[int]] = []
    free: list[int] = []  # tokens left in each row
    for i in np.argsort(-lengths, kind="stable").tolist():
        need = int(lengths[i])
        for r, room in enumerate(free):  # first row with room
            if room >= need:
                rows[r].append(i)
                free[r] -= need
                break
        else:
            rows.append([i])
            free.append(max_length - need)
    return rows


class PackCollator:
    """Collate examples (token ids, token type ids, label) into packed rows.

    Returns input_ids, token_type_ids, position_ids and segment_ids (the example's index in
    the batch per token, -1 on padding), all (rows, width); `cls_index` (examples, 2): the
    (row, column) of each example's first token, in input order; `labels` in input order.
    The width is the fullest row's token count, padded like `PadCollator` (pad_to_multiple_of:
    None, an int, a list of widths or "buckets:MAX").
    """

    def __init__(
        self, pad_token_id: int = 0, max_length: int = 512, pad_to_multiple_of: PadSpec = None
    ) -> None:
        self.pad_token_id, self.max_length = pad_token_id, max_length
        self.pad = PadCollator(pad_token_id, pad_to_multiple_of)

    def __call__(self, examples: Sequence[tuple]) -> dict[str, torch.Tensor]:
        lengths = [len(ids) for ids, _, _ in examples]
        rows = pack_rows(lengths, self.max_length)
        width = self.pad.width(max(sum(lengths[i] for i in row) for row in rows))
        shape = (len(rows), width)
        input_ids = np.full(shape, self.pad_token_id, dtype=np.int64)
        token_type_ids = np.zeros(shape, dtype=np.int64)
        position_ids = np.zeros(shape, dtype=np.int64)
        segment_ids = np.full(shape, -1, dtype=np.int64)
        cls_index = np.zeros((len(examples), 2), dtype=np.int64)
        for r, row in enumerate(rows):
            col = 0
            for i in row:
                ids, types, _ = examples[i]
                end = col + len(ids)
                input_ids[r, col:end] = ids
                token_type_ids[r, col:end] = types
                position_ids[r, col:end] = np.arange(len(ids))
                segment_ids[r, col:end] = i
                cls_index[i] = (r, col)
                col = end
        labels = np.stack([label for _, _, label in examples])
        return {
            "input_ids": torch.from_numpy(input_ids),
            "token_type_ids": torch.from_numpy(token_type_ids),
            "position_ids": torch.from_numpy(position_ids),
            "segment_ids": torch.from_numpy(segment_ids),
            "cls_index": torch.from_numpy(cls_index),
            "labels": torch.from_numpy(labels),
        }


def packing_efficiency(lengths: Sequence[int] | np.ndarray, max_length: int) -> float:
    """Real tokens / row slots when `lengths` are packed into rows of `max_length`."""
    lengths = np.asarray(lengths)
    return float(lengths.sum() / (len(pack_rows(lengths, max_length)) * max_length))
