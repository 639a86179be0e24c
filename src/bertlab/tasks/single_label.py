"""One class per text: softmax cross-entropy, accuracy / F1 / MCC (and AUROC for two classes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from bertlab.tasks.base import Task
from bertlab.tasks.defined_metrics import DefinedBinaryAUROC, MulticlassMCC


class SingleLabel(Task):
    name = "single_label"
    hf_problem_type = "single_label_classification"
    title = "single-label classification"
    output = "one label per text (softmax)"
    min_classes = 2
    weighted_loss = True
    stratified = True
    metric_names = ("acc", "f1", "mcc", "auroc")
    onnx_scores = """\
scores = np.exp(logits - logits.max(-1, keepdims=True))
scores /= scores.sum(-1, keepdims=True)  # softmax: a probability per label
print([labels[i] for i in scores.argmax(-1)], scores)"""

    def loss(self, logits, labels, weights=None, smoothing=0.0) -> torch.Tensor:
        return F.cross_entropy(
            logits.float(),
            labels,
            weight=None if weights is None else weights.float(),
            label_smoothing=smoothing,
        )

    def metrics(self, num_labels: int) -> dict[str, Metric]:
        return {
            "acc": MulticlassAccuracy(num_labels, average="micro"),
            "f1": MulticlassF1Score(num_labels, average="macro"),
            "mcc": MulticlassMCC(num_labels),
        }

    def score_metrics(self, num_labels: int) -> dict[str, Metric]:
        return {"auroc": DefinedBinaryAUROC()} if num_labels == 2 else {}

    def metric_sizes(self, num_labels: int) -> dict[str, int]:
        return {"num_classes": num_labels}

    def metric_inputs(self, logits, labels):
        return logits.argmax(-1), labels

    def score_inputs(self, logits, labels):
        return torch.softmax(logits.float(), -1)[:, 1], labels  # the positive class

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits.float(), -1)

    def decode(self, scores: np.ndarray, names: Sequence[str], threshold: float = 0.5) -> list:
        return [names[i] for i in scores.argmax(-1)]
