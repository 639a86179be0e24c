"""A task's test metrics on many bootstrap resamples at once, from weighted counts.

Resampling n test examples with replacement is the same as giving example i the weight
w_i = how often it was drawn (a multinomial count). Every metric here is a function of
weighted sums over examples (a confusion matrix, per-label counts, weighted moments, weighted
ranks), so B resamples are one (B, n) weight matrix and a few matrix products, not B metric
calls. The values equal the task's own torchmetrics metrics on the resampled examples
(`tests/compare/test_scoring.py` checks this against `Task.metrics()` directly).

Tasks without a vectorised scorer here fall back to `DirectScorer`: the task's own metrics
on each resample (exact, slower).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from bertlab.tasks import Task, get_task

Scores = dict[str, np.ndarray]  # metric name (without "test/") -> (B,) values


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den is 0 (as torchmetrics' zero_division=0)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def textbook_mcc(confmat: np.ndarray) -> np.ndarray:
    """Matthews correlation of (B, C, C) confusion matrices; 0 where undefined."""
    confmat = confmat.astype(np.float64)
    true, pred = confmat.sum(-1), confmat.sum(-2)
    correct = np.trace(confmat, axis1=-2, axis2=-1)
    total = confmat.sum((-2, -1))
    num = correct * total - (true * pred).sum(-1)
    den = np.sqrt(total**2 - (pred * pred).sum(-1)) * np.sqrt(total**2 - (true * true).sum(-1))
    return _safe_divide(num, den)


def f1_per_class(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return _safe_divide(2 * tp, 2 * tp + fp + fn)


def weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, n) average ranks (1-based, ties averaged) of `values` within each resample, where
    example i appears weights[b, i] times: its rank is (weight of smaller values) + (its
    tie group's weight + 1) / 2, as scipy / torchmetrics rank a resample's copies."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    group_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(values)]))
    group_weight = np.add.reduceat(weights[:, order], starts, axis=1)  # (B, groups)
    below = np.cumsum(group_weight, axis=1) - group_weight
    rank_sorted = (below + (group_weight + 1) / 2)[:, group_of]
    ranks = np.empty_like(rank_sorted)
    ranks[:, order] = rank_sorted
    return ranks


def weighted_pearson(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson correlation of x and y (each (n,) or (B, n)) under (B, n) weights."""
    total = weights.sum(1)
    mx = (weights * x).sum(1) / total
    my = (weights * y).sum(1) / total
    dx = x - mx[:, None]
    dy = y - my[:, None]
    cov = (weights * dx * dy).sum(1)
    return _safe_divide(cov, np.sqrt((weights * dx * dx).sum(1) * (weights * dy * dy).sum(1)))


def binary_auroc(score: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC under (B, n) weights: P(score of a positive > a negative's), ties counting 1/2;
    NaN where a resample holds one class only."""
    order = np.argsort(score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(w * positive[order], starts, axis=1)
    neg = np.add.reduceat(w * (1 - positive[order]), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    num = (pos * (below + neg / 2)).sum(1)
    den = pos.sum(1) * neg.sum(1)
    out = np.full(len(weights), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


class Scorer:
    """A task's metrics on weighted test examples (subclasses per task).

    Args:
        logits: (n, outputs) raw model outputs, as stored per run.
        labels: (n,) or (n, L) encoded labels.
    """

    names: tuple[str, ...] = ()

    def __init__(self, logits: np.ndarray, labels: np.ndarray) -> None:
        self.logits = np.asarray(logits, dtype=np.float64)
        self.labels = np.asarray(labels)
        self.n = len(self.labels)
        self._cached: tuple[np.ndarray, Scores] | None = None

    def scores(self, weights: np.ndarray) -> Scores:
        """`score(weights)`, remembered for the last weights (each metric reuses them)."""
        if self._cached is None or self._cached[0] is not weights:
            self._cached = (weights, self.score(weights))
        return self._cached[1]

    def score(self, weights: np.ndarray) -> Scores:
        """Metric values for each row of (B, n) example weights."""
        raise NotImplementedError

    def point(self) -> dict[str, float]:
        """The metrics on the test set itself (every weight 1)."""
        return {k: float(v[0]) for k, v in self.score(np.ones((1, self.n))).items()}


class SingleLabelScorer(Scorer):
    """acc (micro), f1 (macro over classes present), mcc (textbook), auroc (two classes)."""

    names = ("acc", "f1", "mcc", "auroc")

    def score(self, weights: np.ndarray) -> Scores:
        c = self.logits.shape[1]
        labels = self.labels.astype(np.int64)
        cell = labels * c + self.logits.argmax(1)
        confmat = np.zeros((len(weights), c * c))
        for k in np.unique(cell):
            confmat[:, k] = weights[:, cell == k].sum(1)
        confmat = confmat.reshape(-1, c, c)  # [b, true, predicted]
        tp = np.diagonal(confmat, axis1=1, axis2=2)
        fp, fn = confmat.sum(1) - tp, confmat.sum(2) - tp
        present = (tp + fp + fn) > 0
        f1 = _safe_divide((f1_per_class(tp, fp, fn) * present).sum(1), present.sum(1))
        out = {
            "acc": _safe_divide(tp.sum(1), confmat.sum((1, 2))),
            "f1": f1,
            "mcc": textbook_mcc(confmat),
        }
        if c == 2:
            prob = torch.softmax(torch.from_numpy(self.logits).float(), -1)[:, 1].double().numpy()
            out["auroc"] = binary_auroc(prob, (labels == 1).astype(np.float64), weights)
        return out


class MultiLabelScorer(Scorer):
    """acc and f1 (macro over labels), mcc (all text × label decisions as one binary
    problem); a label is predicted where its sigmoid is > 0.5 (torchmetrics' threshold)."""

    names = ("acc", "f1", "mcc")

    def score(self, weights: np.ndarray) -> Scores:
        prob = torch.sigmoid(torch.from_numpy(self.logits).float()).double().numpy()
        pred, true = prob > 0.5, self.labels > 0.5
        tp = weights @ (pred & true)
        fp = weights @ (pred & ~true)
        fn = weights @ (~pred & true)
        tn = weights @ (~pred & ~true)
        confmat = np.stack(
            [np.stack([tn.sum(1), fp.sum(1)], -1), np.stack([fn.sum(1), tp.sum(1)], -1)], 1
        )
        return {
            "acc": _safe_divide(tp + tn, tp + tn + fp + fn).mean(1),
            "f1": f1_per_class(tp, fp, fn).mean(1),
            "mcc": textbook_mcc(confmat),
        }


class RegressionScorer(Scorer):
    """pearson, spearman (average ranks within each resample), mse."""

    names = ("pearson", "spearman", "mse")

    def score(self, weights: np.ndarray) -> Scores:
        pred = self.logits[:, 0].astype(np.float32).astype(np.float64)
        true = self.labels.astype(np.float32).astype(np.float64)
        return {
            "pearson": weighted_pearson(pred, true, weights),
            "spearman": weighted_pearson(
                weighted_ranks(pred, weights), weighted_ranks(true, weights), weights
            ),
            "mse": (weights * (pred - true) ** 2).sum(1) / weights.sum(1),
        }


class DirectScorer(Scorer):
    """Any task: its own torchmetrics metrics on each resample's examples (exact, slow)."""

    def __init__(self, logits: np.ndarray, labels: np.ndarray, task: Task) -> None:
        super().__init__(logits, labels)
        self.task = task
        self.names = tuple(task.metric_names)

    def score(self, weights: np.ndarray) -> Scores:
        logits = torch.from_numpy(np.asarray(self.logits, dtype=np.float32))
        labels = torch.from_numpy(self.labels)
        width = logits.shape[1]
        out: dict[str, list[float]] = {}
        for row in weights:
            index = torch.from_numpy(np.repeat(np.arange(self.n), row.astype(np.int64)))
            for name, value in direct_metrics(self.task, width, logits[index], labels[index]):
                out.setdefault(name, []).append(value)
        return {k: np.asarray(v) for k, v in out.items()}


def direct_metrics(task: Task, width: int, logits: torch.Tensor, labels: torch.Tensor):
    """(name, value) of the task's metrics and score metrics on these examples."""
    import warnings

    groups = (
        (task.metrics(width), task.metric_inputs),
        (task.score_metrics(width), task.score_inputs),
    )
    for metrics, inputs in groups:
        preds, target = inputs(logits, labels)
        for name, metric in metrics.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                metric.update(preds, target)
                yield name, float(metric.compute())


SCORERS: dict[str, Callable[[np.ndarray, np.ndarray], Scorer]] = {
    "single_label": SingleLabelScorer,
    "multi_label": MultiLabelScorer,
    "regression": RegressionScorer,
}


def scorer_for(task_name: str, logits: np.ndarray, labels: np.ndarray) -> Scorer:
    """The vectorised scorer of a built-in task, else the task's own metrics per resample."""
    if task_name in SCORERS:
        return SCORERS[task_name](logits, labels)
    return DirectScorer(logits, labels, get_task(task_name))


def resample_weights(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, n) bootstrap weights: how often each of n examples is drawn in each of
    `count` resamples of n draws with replacement."""
    draws = rng.integers(0, n, size=(count, n))
    flat = (draws + np.arange(count)[:, None] * n).ravel()
    return np.bincount(flat, minlength=count * n).reshape(count, n).astype(np.float64)
