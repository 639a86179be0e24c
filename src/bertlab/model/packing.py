"""Packed sequences: several tokenized examples share one row, so no FLOP goes to padding.

Each example keeps its own token ids and token type ids; its position ids restart at 0; a
block-diagonal attention mask lets a token see only the tokens of its own example (padding
sees only padding). The encoder runs once over the packed rows; each example's [CLS] hidden
state (its first token) then goes through the pooler and classifier, so the logits are those
of the unpacked model (tested in fp32 to 1e-5: tests/unit/test_packing.py).

    collate = PackCollator(pad_token_id=0, max_length=512)   # bertlab.data.packing
    batch = collate(examples)                      # [(ids, type ids, label), ...] as batched
    logits = packed_logits(network, batch)         # (len(examples), num_labels), input order

`network` is a `BertForSequenceClassification` with attn_implementation "sdpa" (a boolean
mask) or "eager" (an additive mask): both take a ready 4-D mask. FlexAttention with a document
mask (or varlen attention) would skip the masked blocks' FLOPs instead of masking them; that
path needs a CUDA device and is not built here. Not wired into training: on long data packing
cannot raise useful tokens/s (`python bench/shapes.py`; docs/performance.md).
"""

from __future__ import annotations

import torch

MASKS = {"sdpa": "bool", "eager": "additive"}


def block_diagonal_mask(
    segment_ids: torch.Tensor, kind: str = "bool", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(rows, 1, width, width) attention mask: a token attends to the tokens of its own
    segment (padding, segment -1, to padding). "bool": True = attend (SDPA); "additive":
    0 / dtype's minimum, added to the attention scores (eager attention)."""
    same = segment_ids[:, None, :, None] == segment_ids[:, None, None, :]
    if kind == "bool":
        return same
    if kind != "additive":
        raise ValueError(f"block_diagonal_mask: kind must be bool or additive, got {kind!r}")
    zero = torch.zeros((), dtype=dtype, device=segment_ids.device)
    return torch.where(same, zero, torch.finfo(dtype).min)


def packed_logits(network: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-example logits (input order) of a `BertForSequenceClassification` on a packed
    batch from `PackCollator`: the encoder over the packed rows, then pooler + classifier on
    each example's [CLS] hidden state, as the unpacked model computes them."""
    bert = network.bert
    implementation = bert.config._attn_implementation
    if implementation not in MASKS:
        raise ValueError(
            f"packed_logits needs attn_implementation sdpa or eager (a 4-D mask), "
            f"not {implementation!r}"
        )
    dtype = bert.embeddings.word_embeddings.weight.dtype
    mask = block_diagonal_mask(batch["segment_ids"], MASKS[implementation], dtype)
    hidden = bert(
        input_ids=batch["input_ids"],
        attention_mask=mask,
        token_type_ids=batch["token_type_ids"],
        position_ids=batch["position_ids"],
    ).last_hidden_state
    rows, cols = batch["cls_index"].unbind(-1)
    cls = hidden[rows, cols]  # (examples, hidden)
    pooled = bert.pooler(cls[:, None]) if bert.pooler is not None else cls
    return network.classifier(network.dropout(pooled))
