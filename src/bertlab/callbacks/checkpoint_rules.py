"""What a checkpoint may be used for: a weights-only checkpoint (a sweep trial's) cannot
resume training. Read by `callbacks.training` when a fit starts from a checkpoint."""

from __future__ import annotations

from pathlib import Path

from bertlab.errors import RunDirError
from bertlab.utils.checkpoint_io import load_checkpoint_file


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
