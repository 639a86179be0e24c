"""Which validation row a run's record reports: the one of the checkpoint it names.

A run started with `ckpt_path=` from another run carries that run's validation history (in
the checkpoint) while its checkpoint callback starts afresh, so the best row of the history
and the best checkpoint file could be two different epochs. The record takes the row whose
step is the checkpoint's own (issue 20.8)."""

from __future__ import annotations

from pathlib import Path

from bertlab.errors import ModelError
from bertlab.utils.checkpoint_io import load_checkpoint_file


def checkpoint_row(
    epochs: list[dict[str, float]], checkpoint: str | Path | None
) -> dict[str, float] | None:
    """The validation row (`ValidationHistory.epochs`) of `checkpoint`'s epoch and step, or
    None when there is no checkpoint, it cannot be read, or no row matches."""
    if not checkpoint or not Path(checkpoint).is_file():
        return None
    try:
        state = load_checkpoint_file(checkpoint, mmap=True)
    except ModelError:
        return None
    step, epoch = state.get("global_step"), state.get("epoch")
    rows = [r for r in epochs if r.get("step") == step and r.get("epoch") == epoch]
    return rows[-1] if rows else None
