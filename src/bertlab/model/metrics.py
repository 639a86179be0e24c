"""torchmetrics per stage and problem type. Metrics accumulate on the device; Lightning computes
them once per epoch, so no step pays a host sync for them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import torch
from torchmetrics import MeanMetric, MeanSquaredError, Metric, MetricCollection
from torchmetrics.classification import (
    BinaryAUROC,
    MulticlassAccuracy,
    MulticlassF1Score,
    MulticlassMatthewsCorrCoef,
    MultilabelAccuracy,
    MultilabelF1Score,
    MultilabelMatthewsCorrCoef,
)
from torchmetrics.regression import PearsonCorrCoef, SpearmanCorrCoef

from bertlab.errors import ConfigError


def build_metrics(problem_type: str, num_labels: int) -> dict[str, Metric]:
    """Named metrics for a problem type; each takes (model outputs, targets) in `update`."""
    if problem_type == "regression":
        return {
            "pearson": PearsonCorrCoef(),
            "spearman": SpearmanCorrCoef(),
            "mse": MeanSquaredError(),
        }
    if problem_type == "multi_label":
        return {
            "acc": MultilabelAccuracy(num_labels),
            "f1": MultilabelF1Score(num_labels, average="macro"),
            "mcc": MultilabelMatthewsCorrCoef(num_labels),
        }
    metrics: dict[str, Metric] = {
        "acc": MulticlassAccuracy(num_labels, average="micro"),
        "f1": MulticlassF1Score(num_labels, average="macro"),
        "mcc": MulticlassMatthewsCorrCoef(num_labels),
    }
    if num_labels == 2:
        metrics["auroc"] = BinaryAUROC()
    return metrics


def build_extra_metrics(
    factories: Mapping[str, Callable[..., Metric]] | None, problem_type: str, num_labels: int
) -> dict[str, Metric]:
    """Fresh metrics from partials (`model.extra_metrics`), filling in num_classes / num_labels.

    Raises:
        ConfigError: an entry is not a partial, or does not make a torchmetrics Metric.
    """
    out: dict[str, Metric] = {}
    for name, factory in (factories or {}).items():
        if isinstance(factory, Metric) or not callable(factory):
            raise ConfigError(
                f"model.extra_metrics.{name} must be a partial: add `_partial_: true` next to its "
                "_target_ (bertlab makes one metric per stage and fills in num_classes)."
            )
        params = inspect.signature(factory).parameters
        bound = getattr(factory, "keywords", {})
        sizes = {"num_classes": num_labels} if problem_type == "single_label" else {}
        if problem_type == "multi_label":
            sizes = {"num_labels": num_labels}
        metric = factory(**{k: v for k, v in sizes.items() if k in params and k not in bound})
        if not isinstance(metric, Metric):
            raise ConfigError(
                f"model.extra_metrics.{name} made a {type(metric).__name__}, "
                "not a torchmetrics Metric."
            )
        out[name] = metric
    return out


class StageMetrics(torch.nn.Module):
    """Task metrics plus the mean loss of one stage, logged as `<stage>/<name>`."""

    def __init__(
        self, stage: str, problem_type: str, num_labels: int, extra: dict[str, Metric] | None = None
    ) -> None:
        super().__init__()
        self.problem_type = problem_type
        self.binary_auroc = problem_type == "single_label" and num_labels == 2
        metrics = {**build_metrics(problem_type, num_labels), **(extra or {})}
        auroc = {"auroc": metrics.pop("auroc")} if "auroc" in metrics else {}
        self.task = MetricCollection(metrics, prefix=f"{stage}/", compute_groups=False)
        self.scores = MetricCollection(auroc, prefix=f"{stage}/") if auroc else None
        self.loss = MeanMetric()
        self.loss_name = f"{stage}/loss"
        self._queue: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []

    # Batches queued on the device between metric updates. torchmetrics' argument and NaN
    # checks read values on the host (a GPU sync each); batching them keeps steps async.
    FLUSH_EVERY = 32

    @torch.no_grad()
    def update(self, logits: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        """Queue one batch (all on the device); the metrics take the queue every
        `FLUSH_EVERY` batches and at `compute()`."""
        loss = loss.detach().float()
        self._queue.append(
            (logits.detach(), labels.detach(), loss, loss.new_full((), labels.shape[0]))
        )
        if len(self._queue) >= self.FLUSH_EVERY:
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
        if self.problem_type == "regression":
            self.task.update(logits.squeeze(-1), labels.float())
        elif self.problem_type == "multi_label":
            self.task.update(torch.sigmoid(logits), labels.int())
        else:
            self.task.update(logits.argmax(-1), labels)
            if self.scores is not None:
                self.scores.update(torch.softmax(logits, -1)[:, 1], labels)

    def compute(self) -> dict[str, torch.Tensor]:
        """Epoch values (synced across processes by torchmetrics), then reset for the next."""
        self.flush()
        out = {self.loss_name: self.loss.compute(), **self.task.compute()}
        if self.scores is not None:
            out.update(self.scores.compute())
        self.reset()
        return out

    def reset(self) -> None:
        self._queue.clear()
        self.loss.reset()
        self.task.reset()
        if self.scores is not None:
            self.scores.reset()
