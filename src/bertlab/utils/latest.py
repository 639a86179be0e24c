"""The "latest sweep" pointer: a small text file, never a link, so a log root walked by
TensorBoard (or any tool that follows links) reaches each run exactly once.

``<sweep root>/<base>.latest`` holds the name of the newest ``<base>-<hash>`` sweep dir;
``resolve_latest("<sweep root>/<base>/3")`` reads it, wherever a path naming the base is
given (``sweep.final``, evaluate, predict, export).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".latest"


def pointer_file(folder: Path, base: str) -> Path:
    """Where the pointer for ``base`` lives in ``folder``."""
    return folder / f"{base}{SUFFIX}"


def point_latest(target: Path, base: str) -> None:
    """Record ``target.name`` as the latest ``base`` sweep (atomic); an old symlink of that
    name, as earlier versions made, is removed so nothing is reachable twice."""
    folder = target.parent
    legacy = folder / base
    if legacy.is_symlink():
        legacy.unlink(missing_ok=True)
    tmp = folder / f".{base}.{os.getpid()}{SUFFIX}"
    try:
        tmp.write_text(target.name + "\n", encoding="utf-8")
        os.replace(tmp, pointer_file(folder, base))
    except OSError as e:
        tmp.unlink(missing_ok=True)
        log.warning("Cannot record %s as the latest %r sweep: %s", target.name, base, e)


def resolve_latest(path: str | Path) -> Path:
    """``path`` with its first component that names a latest-pointer replaced by the sweep dir
    it points to (``…/sweeps/bertlab/3`` → ``…/sweeps/bertlab-1a2b3c4d/3``); else ``path``."""
    path = Path(path).expanduser()
    parts = path.parts
    for i in range(len(parts)):
        here = Path(*parts[: i + 1])
        if here.exists() or not here.name:
            continue
        pointer = pointer_file(here.parent, here.name)
        if pointer.is_file():
            name = pointer.read_text(encoding="utf-8").strip()
            if name and "/" not in name and name not in (".", ".."):
                return resolve_latest(here.parent / name / Path(*parts[i + 1 :]))
        return path
    return path
