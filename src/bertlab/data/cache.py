"""The tokenization cache on disk: one verified entry per key, built once under a file lock.

An entry is verified on every load (checksums, shapes, token id range); one that fails is moved
aside as `<key>.corrupt-<time>` and rebuilt, and temporary directories of killed saves are
removed."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from bertlab.data.tokenize import (
    CorruptEntry,
    TokenizedCorpus,
    cache_key,
    tokenizer_vocab_size,
)
from bertlab.errors import BertlabError, DataError, DiskFullError

log = logging.getLogger(__name__)


def load_or_build(
    entry: Path, build: Callable[[], TokenizedCorpus], tokenizer_dir: Path
) -> TokenizedCorpus:
    """The corpus of cache entry `entry`: loaded if it verifies, else built and saved.

    Runs under the entry's file lock, so temporary directories of the entry (left by killed
    saves) are stale and removed. An entry that fails verification is logged with what was
    wrong, renamed to `<key>.corrupt-<time>` (kept for inspection; safe to delete) and rebuilt.

    Args:
        entry: the entry directory, `<cache_dir>/<key>`.
        build: makes the corpus on a miss.
        tokenizer_dir: the tokenizer `build` uses; its vocabulary size is saved with the entry.
    """
    if not _writable_dir(entry.parent):
        return _load_read_only(entry)
    with FileLock(str(entry.with_name(f"{entry.name}.lock"))):
        _remove_stale_temps(entry)
        if os.path.lexists(entry):
            start = time.perf_counter()
            try:
                corpus = _load_entry(entry)
            except CorruptEntry as err:
                _move_aside(entry, str(err))
            else:
                log.info(
                    "Tokenization cache hit %s: tokenized nothing, loaded %d rows in %.2f s",
                    entry,
                    len(corpus),
                    time.perf_counter() - start,
                )
                return corpus
        log.info("Tokenization cache miss for key %s: tokenizing", entry.name)
        corpus = build()
        try:
            corpus.save(entry, tokenizer_vocab_size(tokenizer_dir))
        except OSError as err:  # save removed its temporary dir: no half-written entry
            raise _write_error(entry, err) from None
        return corpus


def _writable_dir(folder: Path) -> bool:
    """Make the cache dir if needed; whether entries can be written into it (a read-only dir
    can still serve entries built before).

    Raises:
        DataError: it is a file, or cannot be created.
    """
    if folder.exists() and not folder.is_dir():
        raise DataError(
            f"The tokenization cache dir {folder} (paths.cache_dir) is a file, not a "
            "directory. Point paths.cache_dir (or BERTLAB_CACHE_DIR) at a directory."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"The tokenization cache dir {folder} (paths.cache_dir) cannot be created "
            f"({err.strerror or err}). Point paths.cache_dir (or BERTLAB_CACHE_DIR) at a "
            "writable directory."
        ) from None
    return os.access(folder, os.W_OK)


def _load_read_only(entry: Path) -> TokenizedCorpus:
    """Load a verified entry from a read-only cache dir (no lock: nothing is written there).

    Raises:
        DataError: the entry is missing or fails verification (it cannot be rebuilt there).
    """
    where = f"The tokenization cache dir {entry.parent} (paths.cache_dir) is read-only"
    fix = (
        "Point paths.cache_dir (or BERTLAB_CACHE_DIR) at a writable directory, where it is "
        "built, or build it once where the cache is writable."
    )
    if not os.path.lexists(entry):
        raise DataError(f"{where} and holds no entry for this data (key {entry.name}). {fix}")
    try:
        corpus = _load_entry(entry)
    except CorruptEntry as err:
        raise DataError(f"{where} and its entry {entry.name} is damaged ({err}). {fix}") from None
    log.info("Tokenization cache hit %s (read-only dir): loaded %d rows", entry, len(corpus))
    return corpus


def _write_error(entry: Path, err: OSError) -> BertlabError:
    """The error for a cache entry that could not be written (a full disk, a permission)."""
    if err.errno == errno.ENOSPC:
        return DiskFullError(
            f"No space left on device while writing the tokenization cache entry {entry} "
            "(nothing of it was kept). Free space there, or point paths.cache_dir (or "
            "BERTLAB_CACHE_DIR) at a disk with room."
        )
    return DataError(
        f"The tokenization cache entry {entry} could not be written ({err.strerror or err}; "
        "nothing of it was kept). Point paths.cache_dir (or BERTLAB_CACHE_DIR) at a writable "
        "directory."
    )


def _load_entry(entry: Path) -> TokenizedCorpus:
    """Load and verify `entry`, including that its key parts hash to its name."""
    corpus = TokenizedCorpus.load(entry)
    if cache_key(corpus.meta["key_parts"]) != entry.name:
        raise CorruptEntry("its key_parts in meta.json hash to another key")
    return corpus


def _remove_stale_temps(entry: Path) -> None:
    """Remove `.<key>.*` temporary directories beside `entry`; the caller holds its lock."""
    for tmp in entry.parent.glob(f".{entry.name}.*"):
        log.info("Removing %s, left by an interrupted cache write", tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def _move_aside(entry: Path, problem: str) -> None:
    """Rename a corrupt entry to `<key>.corrupt-<time>` and log one warning saying why."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = entry.with_name(f"{entry.name}.corrupt-{stamp}-{uuid.uuid4().hex[:6]}")
    try:
        os.replace(entry, aside)
    except OSError as err:
        raise DataError(
            f"Tokenization cache entry {entry} is corrupt ({problem}) and cannot be moved "
            f"aside ({err}). Delete it by hand; the next run rebuilds it."
        ) from err
    log.warning(
        "Tokenization cache entry %s is corrupt: %s. Moved it to %s; rebuilding it.",
        entry,
        problem,
        aside.name,
    )
