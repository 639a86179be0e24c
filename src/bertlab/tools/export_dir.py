"""Write an export directory all at once: into a hidden sibling, renamed into place at the end.

A failure (or a kill) mid-export leaves the target as it was, never a half-written directory
that looks complete; a replaced export leaves no stale file beside the new ones; and every
file gets the permissions of the umask, like files the user creates (safetensors writes its
weights through a 0600 temporary file).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bertlab.errors import ModelError
from bertlab.train.run_dir import RunDir


def check_target(out: Path, run_dir: Path, force: bool) -> None:
    """Refuse a target (resolved) that is a file, is or holds the run dir, lies inside a run
    dir (`RUN/checkpoints --force` would replace the run's checkpoints), or is not empty.

    Raises:
        ModelError: with what to do instead (e.g. pass --force to replace a non-empty dir).
    """
    if out == run_dir or out in run_dir.parents:
        raise ModelError(
            f"{out} is or contains the run dir {run_dir}, which the export must not replace; "
            "export to another directory."
        )
    if inside := enclosing_run(out):
        raise ModelError(
            f"{out} lies inside the run dir {inside}: an export there could replace the run's "
            "own files (its checkpoints, records). Export to a directory outside any run dir, "
            "e.g. exported/."
        )
    if out.exists() and not out.is_dir():
        raise ModelError(f"{out} is a file, not a directory; export to a directory.")
    if not force and out.is_dir() and any(out.iterdir()):
        raise ModelError(
            f"{out} is not empty; pass --force to replace its contents with the new export."
        )


def enclosing_run(path: Path) -> Path | None:
    """The run dir `path` is or lies in (one holding a run's claim marker, or its config and
    label map), or None."""
    for folder in (path, *path.parents):
        if (folder / RunDir.MARKER).exists():
            return folder
    try:
        return RunDir.find(path).path
    except ModelError:
        return None


@contextmanager
def staged_dir(out: Path, run_dir: Path, force: bool = False) -> Iterator[Path]:
    """A fresh hidden directory beside `out` to write into; it becomes `out` when the block
    ends without error (a directory already at `out` is replaced), else it is deleted.

    Raises:
        ModelError: `out` is refused by `check_target`, on entry or (if it changed) at the end.
    """
    out = out.resolve()  # a symlink: replace the directory it points to
    check_target(out, run_dir, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.export-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        yield staging
        apply_umask(staging)
        check_target(out, run_dir, force)  # nothing was written into `out` meanwhile
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def apply_umask(folder: Path) -> None:
    """Give `folder` and everything in it the permissions of the umask (0644 / 0755 at 022)."""
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    for path in (folder, *folder.rglob("*")):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _swap_in(staging: Path, out: Path) -> None:
    """Rename `staging` to `out`, moving an existing `out` aside first and then deleting it."""
    old = out.parent / f".{out.name}.replaced-{uuid.uuid4().hex[:12]}"
    if out.is_dir():
        out.rename(old)
    try:
        staging.rename(out)
    except BaseException:
        if old.is_dir():
            old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)
