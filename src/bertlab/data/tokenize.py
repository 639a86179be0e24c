"""Batched fast tokenization into a ragged on-disk cache, keyed by everything that shapes it.

The cache holds the cleaned corpus once, tokenized: flat int32 token ids with row offsets,
token type ids, encoded labels, provided split names and example ids. Splitting happens
afterwards on row indices, so seeds and ratios share one cache entry. An entry is verified
on every load (checksums, shapes, token id range); one that fails is moved aside and rebuilt."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bertlab.data.truncation import Truncation
from bertlab.utils.io import sha256_file

log = logging.getLogger(__name__)

TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)
ARRAYS = ("input_ids", "offsets", "token_type_ids", "labels", "split", "example_ids")
# Bump when the entry layout or what fills it (e.g. the cleaning rules) changes: it is part of
# the cache key, and an entry of another format fails verification.
CACHE_FORMAT = 2
# meta.json fields and their JSON types; the STORAGE_FIELDS are written by `save`.
META_FIELDS = {
    "format": int,
    "checksums": dict,
    "vocab_size": (int, type(None)),
    "label_names": list,
    "problem_type": str,
    "pad_token_id": int,
    "clean": dict,
    "key_parts": dict,
}
STORAGE_FIELDS = ("format", "checksums", "vocab_size")


class CorruptEntry(Exception):
    """A cache entry failed verification; the message says what was wrong."""


def tokenizer_fingerprint(tokenizer_dir: Path) -> str:
    """sha256 over the tokenizer files present in a checkpoint directory."""
    digest = hashlib.sha256()
    for name in TOKENIZER_FILES:
        path = tokenizer_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def tokenizer_vocab_size(tokenizer_dir: Path) -> int | None:
    """One past the largest token id of the fast tokenizer in `tokenizer_dir`, added tokens
    included; None when the directory has no tokenizer.json."""
    path = tokenizer_dir / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    return max(Tokenizer.from_file(str(path)).get_vocab(with_added_tokens=True).values()) + 1


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

    def save(self, directory: Path, vocab_size: int | None = None) -> None:
        """Write atomically: a temporary sibling directory renamed into place. meta.json gets
        the cache format, each array file's sha256 and `vocab_size` (the tokenizer's, to
        range-check token ids on load). Call it holding the entry's lock
        (`bertlab.data.cache.load_or_build`): other temporary directories of the entry count
        as stale."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.with_name(f".{directory.name}.{uuid.uuid4().hex[:12]}")
        tmp.mkdir()  # permissions from the umask (tempfile.mkdtemp would make it 0700)
        try:
            checksums = {}
            for name in ARRAYS:
                np.save(tmp / f"{name}.npy", getattr(self, name), allow_pickle=False)
                checksums[name] = sha256_file(tmp / f"{name}.npy")
            storage = {"format": CACHE_FORMAT, "checksums": checksums, "vocab_size": vocab_size}
            meta = {**self.meta, **storage}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
            os.replace(tmp, directory)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> TokenizedCorpus:
        """Read an entry written by `save` and verify it.

        Raises:
            CorruptEntry: meta.json is missing, unreadable or lacks a field; an array file is
                missing or fails its checksum; the arrays are inconsistent; or a token id is
                outside [0, vocab_size) (when the vocabulary size was saved).
        """
        meta = _read_meta(directory)
        arrays = {n: _read_array(directory / f"{n}.npy", meta["checksums"][n]) for n in ARRAYS}
        kept = {k: v for k, v in meta.items() if k not in STORAGE_FIELDS}
        corpus = cls(**arrays, meta=kept)
        _check_arrays(corpus, meta["vocab_size"])
        return corpus


def _read_meta(directory: Path) -> dict:
    """meta.json of an entry, checked for the fields, types, format and checksums `save` writes."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError) as err:  # missing, unreadable, not UTF-8, not JSON
        raise CorruptEntry(f"meta.json cannot be read ({err})") from err
    if not isinstance(meta, dict):
        raise CorruptEntry("meta.json is not a JSON object")
    bad = [k for k, kind in META_FIELDS.items() if k not in meta or not isinstance(meta[k], kind)]
    if bad:
        raise CorruptEntry(f"meta.json lacks or mistypes {', '.join(bad)}")
    if meta["format"] != CACHE_FORMAT:
        raise CorruptEntry(f"cache format {meta['format']}, this bertlab reads {CACHE_FORMAT}")
    if sorted(meta["checksums"]) != sorted(ARRAYS):
        raise CorruptEntry(f"meta.json has checksums of {sorted(meta['checksums'])}")
    return meta


def _read_array(path: Path, sha256: str) -> np.ndarray:
    """One array file, after checking its sha256."""
    try:
        if sha256_file(path) != sha256:
            raise CorruptEntry(f"{path.name} fails its sha256 checksum")
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise CorruptEntry(f"{path.name} cannot be read ({err})") from err


def _check_arrays(corpus: TokenizedCorpus, vocab_size: int | None) -> None:
    """Raise CorruptEntry unless the arrays fit together and the ids are in range."""
    ids, offsets = corpus.input_ids, corpus.offsets
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise CorruptEntry(f"input_ids is not a 1-D integer array ({ids.dtype}, {ids.shape})")
    if corpus.token_type_ids.shape != ids.shape:
        raise CorruptEntry("token_type_ids and input_ids differ in length")
    if offsets.ndim != 1 or not len(offsets) or not np.issubdtype(offsets.dtype, np.integer):
        raise CorruptEntry(f"offsets is not a non-empty 1-D integer array ({offsets.shape})")
    if offsets[0] != 0 or offsets[-1] != len(ids) or (np.diff(offsets) < 0).any():
        raise CorruptEntry(
            f"offsets must not decrease and must run from 0 to len(input_ids) = {len(ids)}; "
            f"they run from {offsets[0]} to {offsets[-1]}"
        )
    for name in ("labels", "split", "example_ids"):
        if len(getattr(corpus, name)) != len(corpus):
            raise CorruptEntry(f"{name} has {len(getattr(corpus, name))} rows, not {len(corpus)}")
    if vocab_size is not None and len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise CorruptEntry(
            f"token ids span [{ids.min()}, {ids.max()}], outside [0, {vocab_size}) of the tokenizer"
        )


def tokenize(
    tokenizer,
    texts: list[str],
    pairs: list[str] | None,
    max_length: int,
    chunk_size: int = 2048,
    truncation: Truncation | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokenize in batches with a fast tokenizer; return flat ids, offsets and type ids.

    Texts longer than `max_length` are cut by `truncation` (default: head, by the tokenizer
    itself, as for text pairs); other strategies tokenize in full and cut the ids afterwards
    (`Truncation.cut`; chunks keeps them all).
    """
    truncation = truncation or Truncation()
    truncation.check(max_length, pairs is not None)
    full = truncation.strategy != "head"
    ids_parts, type_parts, lengths = [], [], []
    columns = [TextColumn("tokenizing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, transient=True, disable=len(texts) < 5 * chunk_size) as progress:
        task = progress.add_task("tokenize", total=len(texts))
        for start in range(0, len(texts), chunk_size):
            stop = start + chunk_size
            enc = tokenizer(
                texts[start:stop],
                pairs[start:stop] if pairs is not None else None,
                truncation=not full,
                max_length=None if full else max_length,
                return_attention_mask=False,
                return_token_type_ids=True,
                verbose=False,  # no "longer than the maximum" warning: cut below
            )
            for ids, types in zip(enc["input_ids"], enc["token_type_ids"], strict=True):
                if full:
                    ids = truncation.cut(ids, max_length)
                    types = types[: len(ids)]  # single texts: all 0
                ids_parts.append(ids)
                type_parts.append(types)
                lengths.append(len(ids))
            progress.advance(task, min(chunk_size, len(texts) - start))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat_ids = np.fromiter((t for row in ids_parts for t in row), np.int32, count=offsets[-1])
    flat_types = np.fromiter((t for row in type_parts for t in row), np.int8, count=offsets[-1])
    return flat_ids, offsets, flat_types
