"""Each test example's logits and label, kept for comparisons (`python -m bertlab.compare`).

The test loop's batches come from a deterministic, length-sorted batch sampler; the positions
each batch holds (in the test split) are read from that sampler, so the collected rows can be
put back in test-split order. Under several processes every rank's share is gathered on
rank 0. The pipeline writes the result through `RunDir.write_test_predictions`."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch


class TestPredictions(L.Callback):
    """Collect the test loop's logits (what `test_step` returns) and labels.

    `result()` gives `{"position", "logits", "labels"}` sorted by position in the test split,
    or None when the positions are unknown (a loader without a batch sampler).
    """

    def __init__(self) -> None:
        self.batches: list[list[int]] | None = None
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.gathered: list | None = None

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loader = trainer.test_dataloaders
        if isinstance(loader, list | tuple):
            loader = loader[0] if loader else None
        sampler = getattr(loader, "batch_sampler", None)
        self.batches = [list(b) for b in sampler] if sampler is not None else None
        self.parts, self.gathered = [], None

    def on_test_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self.batches is None or dataloader_idx or not isinstance(outputs, dict):
            return
        logits = outputs.get("logits")
        positions = self.batches[batch_idx] if batch_idx < len(self.batches) else []
        if logits is None or len(positions) != len(logits):
            self.batches = None  # the loader is not what the sampler said: keep nothing
            return
        self.parts.append(
            (
                np.asarray(positions, dtype=np.int64),
                logits.detach().float().cpu().numpy(),
                batch["labels"].detach().cpu().numpy(),
            )
        )

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        mine = self.parts if self.batches is not None else None
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            every: list = [None] * trainer.world_size
            torch.distributed.all_gather_object(every, mine)
            self.gathered = None if any(p is None for p in every) else sum(every, [])
        else:
            self.gathered = mine

    def result(self) -> dict[str, np.ndarray] | None:
        """The test rows in test-split order, or None (nothing collected)."""
        if not self.gathered:
            return None
        position = np.concatenate([p for p, _, _ in self.gathered])
        order = np.argsort(position, kind="stable")
        return {
            "position": position[order],
            "logits": np.concatenate([x for _, x, _ in self.gathered])[order],
            "labels": np.concatenate([y for _, _, y in self.gathered])[order],
        }
