"""TensorBoard logger whose validation and test curves are plotted against the epoch.

Lightning logs every metric at the optimizer step and adds an `epoch` scalar beside it; trials
with other batch sizes then do not line up, and `epoch` opens the dashboard. This logger
writes `val…` and `test…` scalars at step = epoch (the figures callback does the same) and
drops the `epoch` scalar; training curves stay against the optimizer step.
"""

from __future__ import annotations

from collections.abc import Mapping

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

BY_EPOCH = ("val", "test")  # tag prefixes plotted against the epoch


class EpochTensorBoardLogger(TensorBoardLogger):
    """`TensorBoardLogger` with `val…`/`test…` scalars at step = epoch and no `epoch` chart."""

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        if epoch is not None:
            by_epoch = {k: v for k, v in metrics.items() if k.startswith(BY_EPOCH)}
            if by_epoch:
                super().log_metrics(by_epoch, int(epoch))
            metrics = {k: v for k, v in metrics.items() if k not in by_epoch}
        if metrics:
            super().log_metrics(metrics, step)
