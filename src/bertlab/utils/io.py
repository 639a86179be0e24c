"""Atomic file writes: a kill mid-write leaves the previous file intact, never a truncated one."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call `write` on a hidden temporary file beside `path`, fsync it, then rename it over
    `path` (atomic on POSIX): readers see the previous complete file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as f:  # permissions from the umask, like any other file
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented, key-sorted JSON, atomically (byte-identical for equal input)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_output(path: str | Path, text: str) -> Path:
    """Write a user-named output without harming what is there: a regular file (or a new
    name) is replaced atomically; a symlink, FIFO or device is opened and written in place
    (a rename would replace `/dev/stdout` or a link with a regular file)."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a directory; name an output file")
        with open(path, "w", encoding="utf-8") as f:  # follows the link; a FIFO blocks for a reader
            f.write(text)
        return path
    return atomic_write_text(path, text)
