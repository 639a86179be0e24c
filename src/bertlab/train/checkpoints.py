"""What a run keeps on disk: weights-only checkpoints, relative paths, and sweep trials' files.

A single run keeps its best and last checkpoints; the step checkpoint (for resume after a
kill) is deleted when the run ends cleanly. A sweep trial keeps its best checkpoint only,
as weights (no optimizer state); the sweeper's ``keep_checkpoints`` deletes the checkpoints
of trials outside the top k. Paths are recorded relative to the run (or sweep) dir, so a
copied or moved dir still finds its own files.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bertlab.callbacks.checkpoint_rules import check_resumable, is_weights_only
from bertlab.callbacks.trial import in_sweep_trial
from bertlab.train.run_dir import RunDir
from bertlab.utils.checkpoint_io import checksum_path

__all__ = [
    "CHECKPOINTS",
    "check_resumable",
    "delete_checkpoints",
    "in_sweep_trial",
    "is_weights_only",
    "relative_path",
]

log = logging.getLogger(__name__)

CHECKPOINTS = RunDir.CHECKPOINTS  # a run dir's checkpoint folder


def relative_path(path: str | Path | None, base: Path) -> str | None:
    """``path`` relative to ``base`` when it lies inside it (else as given); None if empty."""
    if not path:
        return None
    target = Path(path)
    if not target.is_absolute():
        return target.as_posix()
    try:
        return target.resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:  # outside base: kept absolute
        return str(target)


def delete_checkpoints(run_dir: Path) -> int:
    """Delete every ``*.ckpt`` (and its checksum) in ``run_dir``'s ``checkpoints/`` folders
    (its own and, for a cross-validated trial, its folds'); metrics, logs and config stay.

    Returns:
        The bytes freed.
    """
    freed = 0
    for path in sorted(Path(run_dir).glob(f"**/{CHECKPOINTS}/*.ckpt")):
        try:
            size = path.stat().st_size
            path.unlink()
            checksum_path(path).unlink(missing_ok=True)
        except FileNotFoundError:
            continue  # another worker got there first
        freed += size
    return freed
