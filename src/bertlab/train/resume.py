"""Resume a killed run in its own run dir: find its newest checkpoint, continue the epoch where
it stopped (same batches, same random state), keep one TensorBoard log.

    python train.py <the same overrides> resume=outputs/train/runs/2025-01-01_12-00-00
"""

from __future__ import annotations

import logging
from pathlib import Path

from bertlab.errors import ModelError, RunDirError
from bertlab.utils.checkpoint_io import load_checkpoint_file

log = logging.getLogger(__name__)


def newest_checkpoint(run_dir: str | Path) -> Path:
    """The newest checkpoint of a run dir that loads; a damaged newer one is skipped (logged).

    Raises:
        RunDirError: if the folder holds no checkpoint, or none that loads.
    """
    folder = Path(run_dir) / "checkpoints"
    found = [p for p in folder.glob("*.ckpt") if not p.name.startswith(".")]
    if not found:
        raise RunDirError(
            f"resume={run_dir}: no checkpoint in {folder}. Pass the run dir of an earlier run "
            "(outputs/<task>/runs/<time>) that saved checkpoints, or drop resume= to start afresh."
        )
    newest_first = sorted(
        found, key=lambda p: (p.stat().st_mtime_ns, p.name == "last.ckpt"), reverse=True
    )
    problems = []
    for path in newest_first:
        try:
            load_checkpoint_file(path, mmap=True)
        except ModelError as err:
            log.warning("Skipping checkpoint %s: %s", path, err)
            problems.append(path.name)
            continue
        if problems:
            log.warning(
                "resume: the newer checkpoint(s) %s cannot be loaded; resuming from %s instead",
                ", ".join(problems),
                path,
            )
        return path
    raise RunDirError(
        f"resume={run_dir}: none of its checkpoints loads ({', '.join(problems)}): all are "
        "damaged. Start a new run without resume=."
    )


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
