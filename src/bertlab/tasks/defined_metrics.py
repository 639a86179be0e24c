"""Metrics with their textbook value where they are degenerate (issue 20.2).

torchmetrics 1.9's Matthews correlation special-cases the binary confusion matrix: a constant
predictor on 15 negatives and 1 positive scores 0.90, one class predicted right scores 1.0
(upstream issue #3355). Here MCC is the textbook formula, 0 where its denominator is 0 (as
scikit-learn), and AUROC is NaN, with a warning, when the targets hold a single class.
"""

from __future__ import annotations

import warnings

import torch
from torchmetrics.classification import (
    BinaryAUROC,
    MulticlassMatthewsCorrCoef,
    MultilabelMatthewsCorrCoef,
)
from torchmetrics.utilities.data import dim_zero_cat


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined on this epoch's data (reported as NaN)."""


def textbook_mcc(confmat: torch.Tensor) -> torch.Tensor:
    """Matthews correlation of a (C, C) confusion matrix, or of (L, 2, 2) ones summed; 0 where
    the denominator is 0 (a constant prediction, or a single class in the targets)."""
    confmat = (confmat.sum(0) if confmat.ndim == 3 else confmat).double()
    true, pred = confmat.sum(-1), confmat.sum(-2)
    correct, total = torch.trace(confmat), confmat.sum()
    numerator = correct * total - (true * pred).sum()
    denominator = torch.sqrt(total**2 - (pred * pred).sum()) * torch.sqrt(
        total**2 - (true * true).sum()
    )
    if denominator == 0:
        return torch.zeros((), dtype=torch.float32, device=confmat.device)
    return (numerator / denominator).float()


class MulticlassMCC(MulticlassMatthewsCorrCoef):
    """`MulticlassMatthewsCorrCoef` with the textbook value on degenerate inputs."""

    def compute(self) -> torch.Tensor:
        return textbook_mcc(self.confmat)


class MultilabelMCC(MultilabelMatthewsCorrCoef):
    """`MultilabelMatthewsCorrCoef` (all text × label decisions as one binary problem) with
    the textbook value on degenerate inputs."""

    def compute(self) -> torch.Tensor:
        return textbook_mcc(self.confmat)


class DefinedBinaryAUROC(BinaryAUROC):
    """`BinaryAUROC` that is NaN, with a warning, when the targets hold a single class
    (torchmetrics returns 0.0 there, which reads as a perfectly wrong model)."""

    def compute(self) -> torch.Tensor:
        # update() already dropped ignore_index targets; binned (thresholds) keeps no targets
        target = dim_zero_cat(self.target) if self.thresholds is None else None
        if target is not None and target.numel() and torch.unique(target).numel() < 2:
            warnings.warn(
                f"AUROC is undefined: the targets hold a single class ({target.numel()} "
                "examples); reported as NaN. Evaluate on data with both classes.",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            return torch.tensor(float("nan"), device=target.device)
        return super().compute()
