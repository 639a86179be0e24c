"""The Optuna journal file: open it, and repair a last line that a killed writer cut short.

A worker killed mid-write leaves a partial last line; it is cut off (a copy of the file is
kept) before the journal is read and before each append. Any other damage is one SweepError
naming the file and what to do.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import optuna

from bertlab.sweep.errors import SweepError

log = logging.getLogger(__name__)


def journal_storage(path: Path) -> optuna.storages.JournalStorage:
    """Open a journal file, first cutting off a last line that a killed writer left partial.

    Raises:
        SweepError: When another line is not JSON, or Optuna cannot replay the operations.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # The open(2)-based lock works on NFS too, where symlink locks are unreliable.
    lock = optuna.storages.journal.JournalFileOpenLock(str(path))
    if partial_tail(path) is not None:  # checked again under the lock: a write may be going on
        try:
            with _locked(lock):
                repair_tail(path)
        except OSError as e:  # e.g. a read-only copy: Optuna skips a partial last line anyway
            log.warning("Cannot repair the partial last line of %s: %s", path, e)
    try:
        return optuna.storages.JournalStorage(_JournalFile(path, lock))
    except SweepError:
        raise
    except Exception as e:
        raise journal_error(path, f"Optuna cannot replay it ({type(e).__name__}: {e})") from e


class _JournalFile(optuna.storages.journal.JournalFileBackend):
    """Optuna's journal file that repairs a partial last line before each append.

    A worker killed mid-write leaves a line without its newline; Optuna would glue the next
    operation onto it, which makes the file unreadable once more lines follow. Read errors
    name the file.
    """

    def __init__(self, path: Path, lock: optuna.storages.journal.JournalFileOpenLock) -> None:
        super().__init__(str(path), lock_obj=lock)
        self.journal_path, self.journal_lock = path, lock

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        """Optuna's reader; a line that is not JSON raises a SweepError naming it."""
        try:
            yield from super().read_logs(log_number_from)
        except ValueError as e:  # json.JSONDecodeError, or Optuna's "Invalid log format."
            raise journal_error(self.journal_path, _bad_line(self.journal_path, e)) from e

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append operations, one JSON line each, after repairing the last line."""
        data = "".join(json.dumps(op, separators=(",", ":")) + "\n" for op in logs)
        with _locked(self.journal_lock):
            repair_tail(self.journal_path)
            with self.journal_path.open("ab") as f:
                f.write(data.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())


@contextmanager
def _locked(lock: optuna.storages.journal.JournalFileOpenLock) -> Iterator[None]:
    """Hold the journal's file lock, the one Optuna's appends take."""
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def partial_tail(path: Path) -> int | None:
    """The offset of a partial last line (no newline, or not JSON); None when complete."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return None
    with f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        start = _last_line_start(f, size)
        f.seek(start)
        line = f.read(size - start)
    return None if line.endswith(b"\n") and _is_json(line) else start


def _last_line_start(f: BinaryIO, size: int, block: int = 1 << 16) -> int:
    """The offset after the last newline before the file's final byte."""
    end = size - 1
    while end > 0:
        begin = max(0, end - block)
        f.seek(begin)
        found = f.read(end - begin).rfind(b"\n")
        if found >= 0:
            return begin + found + 1
        end = begin
    return 0


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:  # also UnicodeDecodeError
        return False
    return True


def repair_tail(path: Path) -> Path | None:
    """Cut a partial last line off the journal, keeping a copy; call with the lock held.

    Returns:
        The copy of the file as it was, or None when its last line was complete.
    """
    start = partial_tail(path)
    if start is None:
        return None
    cut = path.stat().st_size - start
    copy = _backup(path)
    with path.open("r+b") as f:
        f.truncate(start)
        f.flush()
        os.fsync(f.fileno())
    log.warning(
        "The Optuna journal %s ended in a partial line (%d bytes, a write cut short, e.g. by a "
        "killed worker): cut it off; the study goes on from the complete operations. The file "
        "as it was is kept as %s.",
        path,
        cut,
        copy,
    )
    return copy


def _backup(path: Path) -> Path:
    """Copy ``path`` to ``<name>.corrupt-<time>`` beside it (a free name) and return the copy."""
    stem = f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    copy, n = path.with_name(stem), 1
    while copy.exists():
        copy, n = path.with_name(f"{stem}-{n}"), n + 1
    shutil.copy2(path, copy)
    return copy


def _bad_line(path: Path, error: Exception) -> str:
    """Describe the first line of the journal that is not JSON (``error`` if none is found)."""
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not _is_json(line):
                text = line.rstrip().decode("utf-8", "replace")
                return f"line {number} is not a JSON record: {text[:80]!r}"
    return f"Optuna cannot read it ({error})"


def journal_error(path: Path, problem: str) -> SweepError:
    """The error for a damaged journal: which file, what is wrong, and what to do."""
    return SweepError(
        f"The Optuna journal {path} is damaged: {problem}. To start a new study, move it aside "
        f"(mv {path} {path}.bad); to resume, put back a good copy of it."
    )
