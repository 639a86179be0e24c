"""Every task metric against scikit-learn on degenerate inputs (issue 20.2): constant
predictions, one class present, a class absent. MCC takes the textbook value (0 where its
denominator is 0); AUROC is NaN, with a warning, when the targets hold a single class."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, roc_auc_score

from bertlab.model.metrics import StageMetrics
from bertlab.tasks import MultiLabel, SingleLabel

# (targets, predicted classes), 2 classes
BINARY_CASES = {
    "constant prediction, 15x0 + 1x1": ([0] * 15 + [1], [0] * 16),
    "one class present, all right": ([0] * 8, [0] * 8),
    "one class present, all wrong": ([1] * 8, [0] * 8),
    "one class present, mixed": ([1] * 8, [0, 1] * 4),
    "constant prediction of the rare class": ([0] * 6 + [1] * 2, [1] * 8),
    "ordinary": ([0, 0, 1, 1, 0, 1, 1, 0], [0, 1, 1, 1, 0, 0, 1, 0]),
    "all wrong, both classes": ([0, 1, 0, 1], [1, 0, 1, 0]),
}

# 3 classes: class 2 absent from the targets, or from everything
MULTICLASS_CASES = {
    "class absent from targets": ([0, 0, 1, 1, 0, 1], [0, 2, 1, 1, 0, 0]),
    "class absent everywhere, constant prediction": ([0, 0, 0, 1], [0, 0, 0, 0]),
    "one class present": ([1, 1, 1, 1], [1, 1, 1, 1]),
}


def _logits_for(preds: list[int], num_classes: int, rng: np.random.Generator) -> torch.Tensor:
    """Logits whose argmax is `preds` (random margins, so the probabilities vary)."""
    logits = torch.tensor(rng.normal(0, 0.3, (len(preds), num_classes)), dtype=torch.float32)
    logits[torch.arange(len(preds)), torch.tensor(preds)] += 2.0 + torch.rand(len(preds))
    return logits


def _compute(task, num_classes, logits, targets) -> dict[str, float]:
    metrics = StageMetrics("val", task, num_classes)
    metrics.update(logits, targets, torch.tensor(0.0))
    return {k: float(v) for k, v in metrics.compute().items()}


@pytest.mark.parametrize("case", list(BINARY_CASES) + list(MULTICLASS_CASES))
def test_single_label_metrics_match_sklearn(case):
    targets, preds = {**BINARY_CASES, **MULTICLASS_CASES}[case]
    num_classes = 2 if case in BINARY_CASES else 3
    logits = _logits_for(preds, num_classes, np.random.default_rng(0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _compute(SingleLabel(), num_classes, logits, torch.tensor(targets))
    assert out["val/acc"] == pytest.approx(accuracy_score(targets, preds))
    assert out["val/f1"] == pytest.approx(f1_score(targets, preds, average="macro"))
    assert out["val/mcc"] == pytest.approx(matthews_corrcoef(targets, preds), abs=1e-6)
    if num_classes == 2:
        if len(set(targets)) == 2:
            probs = torch.softmax(logits, -1)[:, 1].numpy()
            assert out["val/auroc"] == pytest.approx(roc_auc_score(targets, probs))
        else:  # sklearn raises: undefined. NaN, and say so.
            assert math.isnan(out["val/auroc"])
            assert any("AUROC" in str(w.message) for w in caught), [str(w.message) for w in caught]


def test_constant_predictor_mcc_is_zero_not_near_one():
    """The issue's case: torchmetrics 1.9.0 gave 0.9037 (upstream #3355)."""
    out = _compute(
        SingleLabel(),
        2,
        _logits_for([0] * 16, 2, np.random.default_rng(1)),
        torch.tensor([0] * 15 + [1]),
    )
    assert out["val/mcc"] == 0.0


MULTILABEL_CASES = {
    "constant all-zero prediction": ([[0, 0], [0, 0], [0, 1], [0, 0]], [[0, 0]] * 4),
    "a label never present": ([[1, 0], [0, 0], [1, 0], [0, 0]], [[1, 0], [0, 0], [0, 0], [0, 0]]),
    "all right, one label each": ([[1, 0], [1, 0]], [[1, 0], [1, 0]]),
    "ordinary": ([[1, 0], [0, 1], [1, 1], [0, 0]], [[1, 1], [0, 1], [0, 1], [0, 0]]),
}


@pytest.mark.parametrize("case", list(MULTILABEL_CASES))
def test_multi_label_metrics_match_sklearn(case):
    targets, preds = (np.array(a) for a in MULTILABEL_CASES[case])
    logits = torch.tensor(np.where(preds == 1, 2.0, -2.0), dtype=torch.float32)
    out = _compute(MultiLabel(), 2, logits, torch.tensor(targets, dtype=torch.float32))
    per_label_acc = np.mean([accuracy_score(targets[:, j], preds[:, j]) for j in range(2)])
    assert out["val/acc"] == pytest.approx(per_label_acc)
    # MCC over all (text, label) decisions, as torchmetrics defines the multilabel case
    assert out["val/mcc"] == pytest.approx(
        matthews_corrcoef(targets.ravel(), preds.ravel()), abs=1e-6
    )
