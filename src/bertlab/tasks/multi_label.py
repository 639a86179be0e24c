"""Any number of classes per text: a sigmoid per class, binary cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.classification import MultilabelAccuracy, MultilabelF1Score

from bertlab.errors import DataError
from bertlab.tasks.base import Task, label_name, named_labels, sorted_names
from bertlab.tasks.defined_metrics import MultilabelMCC


class MultiLabel(Task):
    name = "multi_label"
    hf_problem_type = "multi_label_classification"
    title = "multi-label classification"
    output = "any number of labels per text (sigmoid)"
    metric_names = ("acc", "f1", "mcc")
    onnx_scores = """\
scores = 1 / (1 + np.exp(-logits))  # sigmoid: a probability per label
print([[labels[j] for j in np.flatnonzero(row >= 0.5)] for row in scores], scores)"""

    def label_names(self, labels: pd.Series, separator: str | None) -> list[str]:
        return sorted_names(
            named_labels(v for row in labels for v in split_labels(row, separator, raw=True))
        )

    def encode(self, labels: pd.Series, names: Sequence[str], separator: str | None) -> np.ndarray:
        """Float32 multi-hot rows."""
        index = {n: i for i, n in enumerate(names)}
        out = np.zeros((len(labels), len(names)), dtype=np.float32)
        for row, value in enumerate(labels):
            for name in split_labels(value, separator):
                out[row, index[name]] = 1.0
        return out

    def label_counts(self, labels: np.ndarray, names: Sequence[str]) -> dict[str, int]:
        if not len(labels):
            return {}
        return dict(zip(names, labels.sum(0).astype(int).tolist(), strict=True))

    def loss(self, logits, labels, weights=None, smoothing=0.0) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.float(), labels.float())

    def metrics(self, num_labels: int) -> dict[str, Metric]:
        return {
            "acc": MultilabelAccuracy(num_labels),
            "f1": MultilabelF1Score(num_labels, average="macro"),
            "mcc": MultilabelMCC(num_labels),
        }

    def metric_sizes(self, num_labels: int) -> dict[str, int]:
        return {"num_labels": num_labels}

    def metric_inputs(self, logits, labels):
        return torch.sigmoid(logits.float()), labels.int()

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits.float())

    def decode(self, scores: np.ndarray, names: Sequence[str], threshold: float = 0.5) -> list:
        return [[names[j] for j in np.flatnonzero(row >= threshold)] for row in scores]

    def table(self, scores, names, threshold, separator=",") -> pd.DataFrame:
        table = super().table(scores, names, threshold)
        table["predicted_label"] = [separator.join(row) for row in table["predicted_label"]]
        return table


def split_labels(value, separator: str | None, raw: bool = False) -> list:
    """A multi-label cell as label names: a list, or a string cut at `separator` (`raw`: the
    values before `label_name`)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return list(value) if raw else [label_name(v) for v in value]
    if separator is None:
        raise DataError(
            "Multi-label string labels need data.label_separator (e.g. ',' for 'a,b'), or "
            "give labels as JSON lists in a JSONL file."
        )
    parts = [p.strip() for p in str(value).split(separator) if p.strip()]  # "a, b" is usual
    return parts if raw else [label_name(p) for p in parts]
