"""What to keep of a text longer than `max_length` tokens (`data.truncation`).

head / tail / head_tail cut one sequence per text; chunks keeps the whole text and splits it
into overlapping windows later (`bertlab.data.chunks`). All work on the tokenizer's full ids
of a text, [CLS] t1 ... tn [SEP], so the cut keeps [CLS] first and [SEP] last."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bertlab.errors import ConfigError

STRATEGIES = ("head", "tail", "head_tail", "chunks")
POOLINGS = ("mean", "max")


@dataclass(frozen=True)
class Truncation:
    """A truncation strategy and its parameters.

    Args:
        strategy: head (first tokens), tail (last tokens), head_tail (the first `head_tokens`
            and the last `max_length - head_tokens` tokens, specials included) or chunks
            (overlapping windows of max_length tokens, logits pooled per document).
        head_tokens: head_tail only: tokens kept from the start, [CLS] included.
        chunk_stride: chunks only: tokens that consecutive windows share (overlap, as the
            tokenizers' `stride`); the window start advances by max_length - 2 - chunk_stride.
        chunk_pooling: chunks only: mean or max of the windows' logits per document.
    """

    strategy: str = "head"
    head_tokens: int = 128
    chunk_stride: int = 64
    chunk_pooling: str = "mean"

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> Truncation:
        """The strategy of a data config (a run's `cfg.data`); absent keys take the defaults."""
        keys = ("head_tokens", "chunk_stride", "chunk_pooling")
        return cls(data.get("truncation") or "head", **{k: data[k] for k in keys if k in data})

    @property
    def chunked(self) -> bool:
        return self.strategy == "chunks"

    def check(self, max_length: int, pairs: bool = False) -> None:
        """Raise a ConfigError naming the key of an invalid or unsupported setting."""
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"data.truncation={self.strategy!r}: use one of {', '.join(STRATEGIES)}."
            )
        if pairs and self.strategy != "head":
            raise ConfigError(
                f"data.truncation={self.strategy} is not supported for text pairs "
                "(data.source.text_pair_column is set): pairs are cut with data.truncation=head."
            )
        if self.strategy == "head_tail" and not 1 <= self.head_tokens < max_length - 2:
            raise ConfigError(
                f"data.head_tokens={self.head_tokens}: with data.max_length={max_length} it must "
                f"lie in [1, {max_length - 3}] (max_length - 2 leaves no room for the tail)."
            )
        if self.chunked and not 0 <= self.chunk_stride < max_length - 2:
            raise ConfigError(
                f"data.chunk_stride={self.chunk_stride}: the overlap of consecutive windows must "
                f"lie in [0, {max_length - 3}] for data.max_length={max_length}."
            )
        if self.chunked and self.chunk_pooling not in POOLINGS:
            raise ConfigError(
                f"data.chunk_pooling={self.chunk_pooling!r}: use one of {', '.join(POOLINGS)}."
            )

    def key_parts(self) -> dict[str, Any]:
        """What shapes the cached token ids. Windows are cut when a split is read, so
        chunk_stride and chunk_pooling are left out: changing them reuses the entry."""
        if self.strategy == "head_tail":
            return {"strategy": self.strategy, "head_tokens": self.head_tokens}
        return {"strategy": self.strategy}

    def cut(self, ids: Sequence[int], max_length: int) -> list[int]:
        """The ids to keep of one text's full ids ([CLS] ... [SEP]); chunks keeps them all."""
        ids = list(ids)
        if len(ids) <= max_length or self.chunked:
            return ids
        if self.strategy == "head":
            return ids[: max_length - 1] + ids[-1:]
        if self.strategy == "tail":
            return ids[:1] + ids[-(max_length - 1) :]
        return ids[: self.head_tokens] + ids[-(max_length - self.head_tokens) :]
