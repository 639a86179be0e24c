"""Pool the logits of a document's windows into one row (`data.truncation=chunks`)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

REDUCE = {"mean": "mean", "max": "amax"}


def pool_logits(
    logits: torch.Tensor, doc_index: torch.Tensor, num_docs: int, pooling: str
) -> torch.Tensor:
    """Row d of the result: the mean or max over the rows of `logits` whose doc_index is d."""
    index = doc_index.to(logits.device).unsqueeze(-1).expand_as(logits)
    out = logits.new_zeros((num_docs, logits.shape[-1]))
    return out.scatter_reduce(0, index, logits, REDUCE[pooling], include_self=False)


def pool_documents(logits: torch.Tensor, batch: Mapping) -> torch.Tensor:
    """One row per document for a batch of whole documents (see `bertlab.data.chunks`), whose
    labels are per document; other batches' logits are returned as they are."""
    if "doc_index" not in batch:
        return logits
    return pool_logits(logits, batch["doc_index"], batch["labels"].shape[0], batch["pooling"])
