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

from bertlab.errors import RunDirError
from bertlab.utils.checkpoint_io import checksum_path, load_checkpoint_file

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"  # a run dir's checkpoint folder


def in_sweep_trial() -> bool:
    """Whether this job is a sweep trial: a Hydra multirun job, or an active Optuna trial."""
    from bertlab.sweep import context
    from bertlab.train.distributed import job_is_multirun

    return job_is_multirun() or context.current() is not None


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


def is_weights_only(path: str | Path) -> bool:
    """Whether a Lightning checkpoint holds the model's weights only (no optimizer state)."""
    state = load_checkpoint_file(path, mmap=True)
    return "optimizer_states" not in state


def check_resumable(path: str | Path | None) -> None:
    """Refuse to continue training from a weights-only checkpoint.

    Raises:
        RunDirError: naming the file and why it cannot resume.
    """
    if path is None or str(path) in ("last", "best", "hpc", "registry"):
        return
    if Path(path).is_file() and is_weights_only(path):
        raise RunDirError(
            f"Cannot resume from {path}: it holds the model's weights only (saved with "
            "save_weights_only=true, the default for sweep trials), without the optimizer, "
            "scheduler and loop state that training continues from. Resume is no longer "
            "possible from it: start a new run (it can still be evaluated, exported, loaded)."
        )


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
