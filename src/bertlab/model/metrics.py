"""torchmetrics per stage and problem type. Metrics accumulate on the device; Lightning computes
them once per epoch, so no step pays a host sync for them."""

from __future__ import annotations

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


def build_metrics(problem_type: str, num_labels: int) -> dict[str, Metric]:
    """Named metrics for a problem type; each takes (model outputs, targets) in `update`."""
    if problem_type == "regression":
        return {"pearson": PearsonCorrCoef(), "spearman": SpearmanCorrCoef(),
                "mse": MeanSquaredError()}
    if problem_type == "multi_label":
        return {"acc": MultilabelAccuracy(num_labels), "f1": MultilabelF1Score(num_labels, average="macro"),
                "mcc": MultilabelMatthewsCorrCoef(num_labels)}
    metrics: dict[str, Metric] = {
        "acc": MulticlassAccuracy(num_labels, average="micro"),
        "f1": MulticlassF1Score(num_labels, average="macro"),
        "mcc": MulticlassMatthewsCorrCoef(num_labels),
    }
    if num_labels == 2:
        metrics["auroc"] = BinaryAUROC()
    return metrics


class StageMetrics(torch.nn.Module):
    """Task metrics plus the mean loss of one stage, logged as `<stage>/<name>`."""

    def __init__(self, stage: str, problem_type: str, num_labels: int,
                 extra: dict[str, Metric] | None = None) -> None:
        super().__init__()
        self.problem_type = problem_type
        self.binary_auroc = problem_type == "single_label" and num_labels == 2
        metrics = {**build_metrics(problem_type, num_labels), **(extra or {})}
        auroc = {"auroc": metrics.pop("auroc")} if "auroc" in metrics else {}
        self.task = MetricCollection(metrics, prefix=f"{stage}/", compute_groups=False)
        self.scores = MetricCollection(auroc, prefix=f"{stage}/") if auroc else None
        self.loss = MeanMetric()
        self.loss_name = f"{stage}/loss"

    @torch.no_grad()
    def update(self, logits: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        """Accumulate one batch (all on the device)."""
        self.loss.update(loss.detach(), weight=labels.shape[0])
        logits = logits.detach().float()
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
        out = {self.loss_name: self.loss.compute(), **self.task.compute()}
        if self.scores is not None:
            out.update(self.scores.compute())
        self.reset()
        return out

    def reset(self) -> None:
        self.loss.reset()
        self.task.reset()
        if self.scores is not None:
            self.scores.reset()
