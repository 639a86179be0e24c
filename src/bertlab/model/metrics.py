"""torchmetrics per stage, as the task defines them. Batches queue on the device; the
metrics take the queue (torchmetrics' argument and NaN checks read values on the host) only
every `flush_every` batches, on the training steps that log, and at `compute()` (once per
epoch), so a training step that does not log pays no host sync for them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import torch
from torchmetrics import MeanMetric, Metric, MetricCollection

from bertlab.errors import ConfigError
from bertlab.tasks import Task


def build_extra_metrics(
    factories: Mapping[str, Callable[..., Metric]] | None, task: Task, num_labels: int
) -> dict[str, Metric]:
    """Fresh metrics from partials (`model.extra_metrics`), filling in num_classes / num_labels.

    Raises:
        ConfigError: an entry is not a partial, or does not make a torchmetrics Metric.
    """
    out: dict[str, Metric] = {}
    sizes = task.metric_sizes(num_labels)
    for name, factory in (factories or {}).items():
        if isinstance(factory, Metric) or not callable(factory):
            raise ConfigError(
                f"model.extra_metrics.{name} must be a partial: add `_partial_: true` next to its "
                "_target_ (bertlab makes one metric per stage and fills in num_classes)."
            )
        params = inspect.signature(factory).parameters
        bound = getattr(factory, "keywords", {})
        metric = factory(**{k: v for k, v in sizes.items() if k in params and k not in bound})
        if not isinstance(metric, Metric):
            raise ConfigError(
                f"model.extra_metrics.{name} made a {type(metric).__name__}, "
                "not a torchmetrics Metric."
            )
        out[name] = metric
    return out


class StageMetrics(torch.nn.Module):
    """The task's metrics plus the mean loss of one stage, logged as `<stage>/<name>`.

    Attributes:
        on_predictions: metrics fed the task's predictions (`Task.metric_inputs`), extras too.
        on_scores: metrics fed the task's scores (`Task.score_inputs`), e.g. AUROC; or None.
    """

    # Batches queued on the device between metric updates. torchmetrics' argument and NaN
    # checks read values on the host (a GPU sync each); batching them keeps steps async.
    FLUSH_EVERY = 32
    # Training: the module flushes on the steps that log; this only bounds the queue's memory
    # when logging is rare (trainer.log_every_n_steps larger than this, or 0).
    TRAIN_FLUSH_EVERY = 1024

    def __init__(
        self, stage: str, task: Task, num_labels: int, extra: dict[str, Metric] | None = None
    ) -> None:
        super().__init__()
        self.task = task
        self.flush_every = self.TRAIN_FLUSH_EVERY if stage == "train" else self.FLUSH_EVERY
        metrics = {**task.metrics(num_labels), **(extra or {})}
        on_scores = task.score_metrics(num_labels)
        self.on_predictions = MetricCollection(metrics, prefix=f"{stage}/", compute_groups=False)
        self.on_scores = MetricCollection(on_scores, prefix=f"{stage}/") if on_scores else None
        self.loss = MeanMetric()
        self.loss_name = f"{stage}/loss"
        self._queue: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []

    @torch.no_grad()
    def update(self, logits: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        """Queue one batch (all on the device); the metrics take the queue every
        `flush_every` batches, at `flush()` and at `compute()`."""
        loss = loss.detach().float()
        self._queue.append(
            (logits.detach(), labels.detach(), loss, loss.new_full((), labels.shape[0]))
        )
        if len(self._queue) >= self.flush_every:
            self.flush()

    @torch.no_grad()
    def flush(self) -> None:
        """Update the metrics with the queued batches, in one go."""
        if not self._queue:
            return
        logits, labels, losses, sizes = (list(part) for part in zip(*self._queue, strict=True))
        self._queue.clear()
        self.loss.update(torch.stack(losses), weight=torch.stack(sizes))
        logits, labels = torch.cat(logits).float(), torch.cat(labels)
        self.on_predictions.update(*self.task.metric_inputs(logits, labels))
        if self.on_scores is not None:
            self.on_scores.update(*self.task.score_inputs(logits, labels))

    def compute(self) -> dict[str, torch.Tensor]:
        """Epoch values (synced across processes by torchmetrics), then reset for the next."""
        self.flush()
        out = {self.loss_name: self.loss.compute(), **self.on_predictions.compute()}
        if self.on_scores is not None:
            out.update(self.on_scores.compute())
        self.reset()
        return out

    def reset(self) -> None:
        self._queue.clear()
        self.loss.reset()
        self.on_predictions.reset()
        if self.on_scores is not None:
            self.on_scores.reset()
