"""One number per text: mean squared error; Pearson, Spearman and MSE."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torchmetrics import MeanSquaredError, Metric
from torchmetrics.regression import PearsonCorrCoef, SpearmanCorrCoef

from bertlab.errors import DataError
from bertlab.tasks.base import Task


class Regression(Task):
    name = "regression"
    hf_problem_type = "regression"
    title = "regression"
    output = "one value per text"
    has_classes = False
    min_classes = 0
    metric_names = ("pearson", "spearman", "mse")
    onnx_scores = "print(logits[:, 0])"

    def label_names(self, labels: pd.Series, separator: str | None) -> list[str]:
        return []

    def encode(self, labels: pd.Series, names: Sequence[str], separator: str | None) -> np.ndarray:
        """Float32 values."""
        try:
            return labels.astype("float32").to_numpy()
        except (TypeError, ValueError) as err:
            raise DataError(f"Regression labels must be numbers: {err}") from err

    def num_labels(self, names: Sequence[str]) -> int:
        return 1

    def label_counts(self, labels: np.ndarray, names: Sequence[str]) -> dict[str, int]:
        return {}

    def loss(self, logits, labels, weights=None, smoothing=0.0) -> torch.Tensor:
        return F.mse_loss(logits.squeeze(-1).float(), labels.float())

    def metrics(self, num_labels: int) -> dict[str, Metric]:
        return {
            "pearson": PearsonCorrCoef(),
            "spearman": SpearmanCorrCoef(),
            "mse": MeanSquaredError(),
        }

    def metric_inputs(self, logits, labels):
        return logits.float().squeeze(-1), labels.float()

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.float()

    def decode(self, scores: np.ndarray, names: Sequence[str], threshold: float = 0.5) -> list:
        return scores[:, 0].tolist()

    def table(self, scores, names, threshold, separator=",") -> pd.DataFrame:
        return pd.DataFrame({"prediction": self.decode(scores, names)})
