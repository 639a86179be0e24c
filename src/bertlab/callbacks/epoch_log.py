"""One log line per validation epoch with its metrics (in the console and the job's log file)."""

from __future__ import annotations

import logging

import lightning as L

log = logging.getLogger("bertlab.epoch")


class EpochLog(L.Callback):
    """Log `Epoch N: val/loss ..., val/acc ...` after each validation (not the sanity check)."""

    def __init__(self, prefix: str = "val/") -> None:
        self.prefix = prefix

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """One line for the model: class, parameters (trainable), precision."""
        if trainer.is_global_zero:
            log.info("Model: %s", model_line(pl_module, str(trainer.precision)))

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


def model_line(module: L.LightningModule, precision: str) -> str:
    """`TextClassifier (BertForSequenceClassification): 22.7 M parameters (22.7 M trainable),
    precision bf16-mixed`: what Lightning's summary table says, in one line."""
    from lightning.pytorch.utilities.model_summary.model_summary import get_human_readable_count

    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    inner = getattr(module, "model", None) or getattr(module, "network", None)
    name = type(module).__name__ + (f" ({type(inner).__name__})" if inner is not None else "")
    return (
        f"{name}: {get_human_readable_count(total)} parameters "
        f"({get_human_readable_count(trainable)} trainable), precision {precision}"
    )
