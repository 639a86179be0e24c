"""One learning-rate curve, `train/lr`: the configured (base) lr under its schedule.

Lightning's LearningRateMonitor logs each param group (`train/lr/pg1`, `train/lr/pg2`, or one
per block with layer-wise decay); their lrs are in the log line (`describe_lrs`) instead.
"""

from __future__ import annotations

import lightning as L
import torch


def base_lr(optimizer: torch.optim.Optimizer) -> float:
    """The optimizer's configured lr times the schedule's current factor (the head's lr).

    The factor is read off the last param group: its lr over the `initial_lr` the scheduler
    recorded (1 without a scheduler).
    """
    group = optimizer.param_groups[-1]
    initial = float(group.get("initial_lr", group["lr"]))
    factor = float(group["lr"]) / initial if initial else 1.0
    return float(optimizer.defaults.get("lr", initial)) * factor


class BaseLearningRate(L.Callback):
    """Log `base_lr` of the first optimizer as `name`, on the steps the loggers write.

    Args:
        name: the scalar's tag.
    """

    def __init__(self, name: str = "train/lr") -> None:
        self.name = name

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: object, batch_idx: int
    ) -> None:
        if not trainer.optimizers or not trainer._logger_connector.should_update_logs:
            return
        pl_module.log(self.name, base_lr(trainer.optimizers[0]), on_step=True, on_epoch=False)
