"""A data config's tokenized corpus: load → clean → labels → tokenize, cached once per key.

`CorpusRecipe.ensure()` makes sure the cache entry exists (what `prepare_data` does, once per
machine); `CorpusRecipe.load()` returns the verified corpus (what `setup` does, per process).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bertlab.data import clean as cleaning
from bertlab.data.cache import load_or_build
from bertlab.data.sources import Source
from bertlab.data.tokenize import (
    CACHE_FORMAT,
    TokenizedCorpus,
    cache_key,
    tokenize,
    tokenizer_fingerprint,
)
from bertlab.data.truncation import Truncation
from bertlab.pretrained import resolve_pretrained
from bertlab.tasks import Task
from bertlab.tasks.base import check_unseen_labels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusRecipe:
    """Everything that decides a tokenized corpus (and so its cache key)."""

    source: Source
    tokenizer: str
    max_length: int
    truncation: Truncation
    task: Task
    label_separator: str | None
    max_drop_fraction: float
    cache_dir: Path

    def tokenizer_dir(self) -> Path:
        return resolve_pretrained(self.tokenizer)

    def key_parts(self, tokenizer_dir: Path) -> dict:
        """What the cache key hashes: change any of it and the corpus is tokenized anew."""
        return {
            "format": CACHE_FORMAT,
            "cleaning": cleaning.RULES_VERSION,
            "data": self.source.fingerprint(),
            "tokenizer": tokenizer_fingerprint(tokenizer_dir),
            "max_length": self.max_length,
            "truncation": self.truncation.key_parts(),
            "fields": ["text", "text_pair"],
            "problem_type": self.task.name,
            "label_separator": self.label_separator,
            "max_drop_fraction": self.max_drop_fraction,
        }

    def cache_path(self, tokenizer_dir: Path | None = None) -> Path:
        """The cache entry `<cache_dir>/<key>`."""
        return self.cache_dir / cache_key(self.key_parts(tokenizer_dir or self.tokenizer_dir()))

    def ensure(self) -> Path:
        """Build the cache entry if there is none (verified and repaired by `load`)."""
        entry = self.cache_path()
        if not os.path.lexists(entry):
            self.load()
        return entry

    def load(self) -> TokenizedCorpus:
        """The verified corpus from the cache, built on a miss."""
        tokenizer_dir = self.tokenizer_dir()
        parts = self.key_parts(tokenizer_dir)
        return load_or_build(
            self.cache_dir / cache_key(parts),
            lambda: self.build(tokenizer_dir, parts),
            tokenizer_dir,
        )

    def build(self, tokenizer_dir: Path, key_parts: dict) -> TokenizedCorpus:
        """Load, clean, encode the labels and tokenize (no cache)."""
        from transformers import AutoTokenizer

        start = time.perf_counter()
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        table, report = cleaning.clean(
            self.source.load(), self.max_drop_fraction, cleaning.model_input_key(tok)
        )
        provided = table["split"].to_numpy(str) if "split" in table else np.full(len(table), "")
        train_rows = (provided != "test") & (provided != "validation")
        names = self.task.label_names(table["label"][train_rows], self.label_separator)
        for split in ("validation", "test"):
            rows = table["label"][provided == split]
            where = f"The provided {split} split"
            check_unseen_labels(self.task, rows, names, self.label_separator, where)
        labels = self.task.encode(table["label"], names, self.label_separator)
        pairs = table["text_pair"].astype(str).tolist() if "text_pair" in table else None
        ids, offsets, types = tokenize(
            tok,
            table["text"].astype(str).tolist(),
            pairs,
            self.max_length,
            truncation=self.truncation,
        )
        meta = {
            "label_names": names,
            "problem_type": self.task.name,
            "pad_token_id": int(tok.pad_token_id or 0),
            "clean": report.as_dict(),
            "key_parts": key_parts,
        }
        log.info(
            "Tokenized %d rows (%d tokens) in %.1f s",
            len(table),
            offsets[-1],
            time.perf_counter() - start,
        )
        ids_col = cleaning.example_ids(table).to_numpy().astype("S16")
        return TokenizedCorpus(ids, offsets, types, labels, provided.astype("U10"), ids_col, meta)
