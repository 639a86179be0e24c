"""Batched fast tokenization into a ragged on-disk cache, keyed by everything that shapes it.

The cache holds the cleaned corpus once, tokenized: flat int32 token ids with row offsets,
token type ids, encoded labels, provided split names and example ids. Splitting happens
afterwards on row indices, so seeds and ratios share one cache entry."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

log = logging.getLogger(__name__)

TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
ARRAYS = ("input_ids", "offsets", "token_type_ids", "labels", "split", "example_ids")


def tokenizer_fingerprint(tokenizer_dir: Path) -> str:
    """sha256 over the tokenizer files present in a checkpoint directory."""
    digest = hashlib.sha256()
    for name in TOKENIZER_FILES:
        path = tokenizer_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(parts: dict) -> str:
    """The explicit cache key: sha256 of the JSON of its parts (printed in the log)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


@dataclass
class TokenizedCorpus:
    """The cleaned corpus, tokenized. Row i's tokens are input_ids[offsets[i]:offsets[i+1]]."""

    input_ids: np.ndarray
    offsets: np.ndarray
    token_type_ids: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    example_ids: np.ndarray
    meta: dict

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def save(self, directory: Path) -> None:
        """Write atomically: a temporary sibling directory renamed into place."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            for name in ARRAYS:
                np.save(tmp / f"{name}.npy", getattr(self, name), allow_pickle=False)
            (tmp / "meta.json").write_text(json.dumps(self.meta, indent=2, sort_keys=True))
            os.replace(tmp, directory)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> TokenizedCorpus:
        arrays = {n: np.load(directory / f"{n}.npy", allow_pickle=False) for n in ARRAYS}
        return cls(**arrays, meta=json.loads((directory / "meta.json").read_text()))


def tokenize(
    tokenizer,
    texts: list[str],
    pairs: list[str] | None,
    max_length: int,
    chunk_size: int = 2048,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokenize in batches with a fast tokenizer; return flat ids, offsets and type ids."""
    ids_parts, type_parts, lengths = [], [], []
    columns = [TextColumn("tokenizing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, transient=True, disable=len(texts) < 5 * chunk_size) as progress:
        task = progress.add_task("tokenize", total=len(texts))
        for start in range(0, len(texts), chunk_size):
            stop = start + chunk_size
            enc = tokenizer(
                texts[start:stop],
                pairs[start:stop] if pairs is not None else None,
                truncation=True,
                max_length=max_length,
                return_attention_mask=False,
                return_token_type_ids=True,
            )
            for ids, types in zip(enc["input_ids"], enc["token_type_ids"], strict=True):
                ids_parts.append(ids)
                type_parts.append(types)
                lengths.append(len(ids))
            progress.advance(task, min(chunk_size, len(texts) - start))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat_ids = np.fromiter((t for row in ids_parts for t in row), np.int32, count=offsets[-1])
    flat_types = np.fromiter((t for row in type_parts for t in row), np.int8, count=offsets[-1])
    return flat_ids, offsets, flat_types
