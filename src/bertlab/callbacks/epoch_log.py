"""One log line per validation epoch with its metrics (in the console and the job's log file)."""

from __future__ import annotations

import logging

import lightning as L

log = logging.getLogger("bertlab.epoch")


class EpochLog(L.Callback):
    """Log `Epoch N: val/loss ..., val/acc ...` after each validation (not the sanity check)."""

    def __init__(self, prefix: str = "val/") -> None:
        self.prefix = prefix

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Log the epoch's metrics whose names start with `prefix`, on rank 0.

        `on_validation_end`: the module's epoch-end hook has logged the metrics by then.
        """
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        log.info(
            "Epoch %d: %s", trainer.current_epoch, epoch_line(trainer.callback_metrics, self.prefix)
        )


def epoch_line(metrics: dict, prefix: str) -> str:
    """`name value` pairs of the metrics starting with `prefix`, 4 decimals, comma-separated."""
    pairs = [(k, float(v)) for k, v in metrics.items() if k.startswith(prefix)]
    return ", ".join(f"{k} {v:.4f}" for k, v in pairs) or "no metrics"
