"""The bootstrap's vectorised scoring against the tasks' own metrics, and the statistics on
fixed arrays (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertlab.compare.scoring import (
    DirectScorer,
    resample_weights,
    scorer_for,
)
from bertlab.compare.stats import (
    FoldResamples,
    Resamples,
    fold_bootstrap,
    paired_bootstrap,
    verdict,
)
from bertlab.tasks import get_task


def direct(task_name: str, logits: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> dict:
    """The task's torchmetrics metrics on the examples `rows` (with repeats), computed the
    way the model computes them."""
    task = get_task(task_name)
    scorer = DirectScorer(logits, labels, task)
    weights = np.bincount(rows, minlength=len(labels))[None].astype(float)
    return {k: float(v[0]) for k, v in scorer.score(weights).items()}


def fixed_set(task_name: str, n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if task_name == "single_label":
        labels = rng.integers(0, 3, n)
        logits = rng.normal(size=(n, 3)) + np.eye(3)[labels] * 1.2
        logits[:4, :] = 0.0  # ties in the scores
        return logits.astype(np.float32), labels
    if task_name == "rare_class":  # class 2: one example, the only one predicted as 2, so
        labels = rng.integers(0, 2, n)  # resamples without it have no class 2 at all
        labels[0] = 2
        logits = rng.normal(size=(n, 3)) + np.eye(3)[labels] * 1.2
        logits[:, 2] = -9.0
        logits[0, 2] = 9.0
        return logits.astype(np.float32), labels
    if task_name == "binary":
        labels = rng.integers(0, 2, n)
        logits = rng.normal(size=(n, 2)) + np.eye(2)[labels]
        logits[:6] = logits[0]  # tied probabilities for AUROC
        return logits.astype(np.float32), labels
    if task_name == "multi_label":
        labels = (rng.random((n, 4)) < 0.4).astype(np.float32)
        return (rng.normal(size=(n, 4)) + labels * 1.5).astype(np.float32), labels
    labels = rng.normal(size=n).astype(np.float32)
    labels[:5] = labels[0]  # ties for Spearman
    return (labels + rng.normal(scale=0.7, size=n)).astype(np.float32)[:, None], labels


@pytest.mark.parametrize(
    "kind", ["single_label", "rare_class", "binary", "multi_label", "regression"]
)
def test_vectorised_scores_equal_the_tasks_metrics_on_resamples(kind):
    """Each resample's vectorised metrics are the task's torchmetrics values on the same
    resampled examples (a resample repeats examples: ties and duplicates included)."""
    task_name = "single_label" if kind in ("binary", "rare_class") else kind
    logits, labels = fixed_set(kind)
    rng = np.random.default_rng(1)
    rows = [rng.integers(0, len(labels), len(labels)) for _ in range(8)]
    rows.append(np.arange(len(labels)))  # the test set itself
    weights = np.stack([np.bincount(r, minlength=len(labels)) for r in rows]).astype(float)
    fast = scorer_for(task_name, logits, labels).score(weights)
    for i, r in enumerate(rows):
        expected = direct(task_name, logits, labels, r)
        assert set(expected) == set(fast)
        for name, value in expected.items():
            assert fast[name][i] == pytest.approx(value, abs=1e-5), (kind, name, i)


def test_resample_weights_are_draws_with_replacement():
    w = resample_weights(7, 500, np.random.default_rng(0))
    assert w.shape == (500, 7) and (w.sum(1) == 7).all()
    assert w.mean() == pytest.approx(1.0) and w.max() > 1  # repeats happen


def test_the_interval_excludes_zero_for_a_real_gap_and_includes_it_for_none():
    """Fixed predictions of 200 examples: a model right on 90% against one right on 50% (the
    interval excludes 0); a model against itself (exactly [0, 0]); two models that differ
    on a few examples each way (the interval straddles 0)."""
    rng = np.random.default_rng(0)
    n = 200
    labels = rng.integers(0, 2, n)

    def model(correct: np.ndarray) -> np.ndarray:
        pred = np.where(correct, labels, 1 - labels)
        return np.eye(2, dtype=np.float32)[pred] * 2

    good = [scorer_for("single_label", model(rng.random(n) < 0.9), labels) for _ in range(3)]
    bad = [scorer_for("single_label", model(rng.random(n) < 0.5), labels) for _ in range(3)]
    draws = Resamples.draw(n, 3, 1000, seed=0)
    gap = paired_bootstrap(bad, good, "acc", draws)
    assert gap.high < 0 and gap.low > -0.6
    same = paired_bootstrap(good, good, "acc", draws)
    assert (same.low, same.high) == (0.0, 0.0)
    flipped = []
    for s in good:
        logits = s.logits.astype(np.float32).copy()
        right = s.logits.argmax(1) == labels
        swap = np.r_[np.flatnonzero(right)[:4], np.flatnonzero(~right)[:4]]  # 4 each way
        logits[swap] = logits[swap][:, ::-1]
        flipped.append(scorer_for("single_label", logits, labels))
    near = paired_bootstrap(flipped, good, "acc", draws)
    assert near.low < 0 < near.high


def test_the_sentence():
    assert verdict("B", "A", "test/acc", 0.004, (-0.006, 0.013)) == (
        "B − A = +0.4 pts test/acc, 95% CI [−0.6, +1.3]: not distinguishable from seed noise."
    )
    assert "B is worse than A" in verdict("B", "A", "test/acc", -0.2, (-0.3, -0.1))
    assert "B is better than A" in verdict("B", "A", "test/loss", -0.2, (-0.3, -0.1))
    assert "no confidence interval" in verdict("B", "A", "test/loss", 0.1, None)


def test_the_direct_reference_is_the_modules_own_metric():
    """The reference above is the task's torchmetrics metric as the module feeds it."""
    logits, labels = fixed_set("single_label")
    task = get_task("single_label")
    acc = task.metrics(3)["acc"]
    acc.update(*task.metric_inputs(torch.from_numpy(logits), torch.from_numpy(labels)))
    rows = np.arange(len(labels))
    assert direct("single_label", logits, labels, rows)["acc"] == pytest.approx(
        float(acc.compute())
    )


def test_the_fold_bootstrap_is_the_mean_over_drawn_seed_and_fold_cells():
    """Cross-validated runs: each resample's value, computed by hand from the draws, and the
    percentile interval of those values."""
    rng = np.random.default_rng(3)
    arm, base = rng.random((3, 4)), rng.random((3, 4))  # 3 seeds x 4 folds
    draws = FoldResamples.draw(seeds=3, folds=4, count=200, seed=1)
    values, kept = [], []
    for seeds, folds in zip(draws.seed_draws, draws.fold_draws, strict=True):
        values.append(np.mean([arm[s, f] - base[s, f] for s in seeds for f in folds]))
        kept.append(np.mean([arm[s, f] - base[s, f] for s in range(3) for f in folds]))
    interval = fold_bootstrap(arm, base, draws, level=0.9)
    assert interval.low == pytest.approx(np.percentile(values, 5))
    assert interval.high == pytest.approx(np.percentile(values, 95))
    assert interval.examples_low == pytest.approx(np.percentile(kept, 5))
    assert interval.examples_high == pytest.approx(np.percentile(kept, 95))
    assert interval.resamples == 200
    with pytest.raises(ValueError, match="shape"):
        fold_bootstrap(arm[:2], base[:2], draws)


def test_a_fold_gap_is_found_and_no_gap_is_noise():
    rng = np.random.default_rng(0)
    base = 0.8 + 0.01 * rng.standard_normal((3, 5))
    draws = FoldResamples.draw(3, 5, 1000, 0)
    worse = fold_bootstrap(base - 0.1, base, draws)
    assert worse.high < 0
    same = fold_bootstrap(base + 0.01 * rng.standard_normal((3, 5)), base, draws)
    assert same.low <= 0 <= same.high
