"""Resume a killed run in its own run dir: find its newest checkpoint, continue the epoch where
it stopped (same batches, same random state), keep one TensorBoard log.

    python train.py <the same overrides> resume=outputs/train/runs/2025-01-01_12-00-00
"""

from __future__ import annotations

from pathlib import Path

from bertlab.errors import RunDirError
from bertlab.train.run_dir import RunDir


def newest_checkpoint(run_dir: str | Path) -> Path:
    """The newest checkpoint of a run dir that loads (`RunDir.newest_checkpoint`).

    Raises:
        RunDirError: if the folder holds no checkpoint, or none that loads.
    """
    return RunDir(run_dir).newest_checkpoint()


def resume_checkpoint(resume: str | None, out: Path) -> Path | None:
    """The checkpoint to continue from when `resume=<run dir>` is set; None otherwise.

    Raises:
        RunDirError: if the run would not write into the resumed dir (a multirun, or an
            explicit hydra.run.dir), or the dir holds no checkpoint.
    """
    if not resume:
        return None
    run_dir = Path(resume).resolve()
    if out.resolve() != run_dir:
        raise RunDirError(
            f"resume={resume} but this run writes to {out}. Resume one run at a time, without -m "
            "and without hydra.run.dir: resume= sets the run dir itself."
        )
    return newest_checkpoint(run_dir)
