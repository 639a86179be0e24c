"""A progress bar that never makes a training step wait for the GPU.

Lightning's bars show the values logged with `prog_bar=True`, and Lightning converts every
such tensor to a float after each training step (`_ResultCollection.metrics`), whether or not
a bar is drawn: a host sync per step. bertlab logs its step metrics without `prog_bar` and
this bar reads them (`step_metrics`) itself, only on the steps Lightning writes to the
loggers (every `trainer.log_every_n_steps`), when the value is new; between those it shows
the last value read. Epoch metrics (val/...) show as in Lightning's bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class StepProgressBar(RichProgressBar):
    """Lightning's `RichProgressBar` plus `step_metrics`, read on logging steps only.

    Args:
        *args: `RichProgressBar`'s (refresh_rate, leave, theme, console_kwargs).
        step_metrics: names of metrics logged on training steps to show (not logged with
            `prog_bar=True`, which would cost a host sync every step).
        **kwargs: `RichProgressBar`'s.
    """

    def __init__(
        self, *args: Any, step_metrics: Sequence[str] = ("train/loss_step",), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.step_metrics = tuple(step_metrics)
        self._shown: dict[str, float] = {}

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any
    ) -> None:
        if trainer._logger_connector.should_update_logs:  # the step's values were logged
            metrics = trainer.callback_metrics
            for name in self.step_metrics:
                if name in metrics:
                    self._shown[name] = float(metrics[name])  # the one read, on this step
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        return {**self._shown, **super().get_metrics(trainer, pl_module)}
