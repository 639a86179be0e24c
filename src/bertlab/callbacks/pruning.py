"""Lightning callback: report the objective to the active Optuna trial; stop pruned fits."""

from __future__ import annotations

import lightning as L

from bertlab.callbacks.trial import TrialRecord, current


class OptunaPruningCallback(L.Callback):
    """Report ``monitor`` to the trial after each validation; stop the fit if pruned.

    The final epoch's report is never pruned (nothing left to save; the trial is COMPLETE).
    Stopping sets ``trainer.should_stop`` so the fit ends cleanly (checkpoints and metrics
    of the epochs run so far are kept); the sweeper then marks the trial PRUNED. Under DDP
    only rank 0 talks to Optuna; its verdict is broadcast to the other ranks.

    Args:
        record: The active trial's record.
        monitor: Logged metric to report, e.g. ``val/acc``.
    """

    def __init__(self, record: TrialRecord, monitor: str) -> None:
        self.record = record
        self.monitor = monitor

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Report this validation's value and ask the pruner whether to go on."""
        if trainer.sanity_checking or self.record.pruned:
            return
        prune = False
        if trainer.is_global_zero:
            value = trainer.callback_metrics.get(self.monitor)
            last = 0 < (trainer.max_epochs or 0) <= trainer.current_epoch + 1
            prune = self.record.report(value, trainer.current_epoch, last=last)
        if trainer.world_size > 1:
            prune = trainer.strategy.broadcast(prune, src=0)
        if prune:
            self.record.pruned = True
            trainer.should_stop = True


def trial_callbacks(monitor: str) -> list[L.Callback]:
    """Callbacks the pipeline adds to its Trainer.

    Args:
        monitor: The objective metric name (``cfg.objective.metric``).

    Returns:
        ``[]`` when no sweep trial is active, else a pruning callback bound to the trial.
    """
    record = current()
    if record is None:
        return []
    return [OptunaPruningCallback(record, monitor)]
