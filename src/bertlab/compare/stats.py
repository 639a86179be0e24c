"""The statistics of a comparison: mean ± std over seeds, the paired difference per seed, and
a paired bootstrap confidence interval of the mean difference.

The bootstrap (`paired_bootstrap`), exactly:

1. Each arm was trained with the same seeds s_1..s_K on one split, and each run stored the
   logits of every test example (ids aligned across runs, else refused).
2. For b = 1..B (default 2000), draw n test example indices with replacement (one draw,
   the same for every arm and every seed), and K seeds with replacement from s_1..s_K (the
   same for every arm).
3. For each drawn seed s, score arm X's and the baseline A's run of seed s on the drawn
   examples with the task's metrics (`bertlab.compare.scoring`), and take X − A.
4. D_b = the mean of those K differences. The CI is the (1−level)/2 and (1+level)/2
   percentiles of D_1..D_B; the point estimate is the plain mean over seeds of the per-seed
   differences on the whole test set.

Step 2's seed draw puts the seed-to-seed spread into the interval (with one seed it is the
test-sample spread only); `ci_examples` in compare.json is the interval without it (the
seeds kept, examples resampled). NaN resamples (e.g. AUROC of a one-class resample) are left
out of the percentiles.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bertlab.compare.scoring import Scorer, resample_weights

LOWER_IS_BETTER = ("loss", "mse", "mae", "rmse")
RAW_UNITS = LOWER_IS_BETTER  # in the metric's own units; the others in points (× 100)


def lower_is_better(metric: str) -> bool:
    return metric.rsplit("/", 1)[-1] in LOWER_IS_BETTER


def in_points(metric: str) -> bool:
    return metric.rsplit("/", 1)[-1] not in RAW_UNITS


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample standard deviation; 0 for one value)."""
    vals = [float(v) for v in values]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


@dataclass
class Interval:
    """A bootstrap interval of a mean difference."""

    low: float
    high: float
    examples_low: float
    examples_high: float
    resamples: int  # finite resamples behind (low, high)


@dataclass
class Resamples:
    """The draws of one bootstrap, shared by every arm and metric."""

    weights: np.ndarray  # (B, n): how often each test example is drawn
    seed_draws: np.ndarray  # (B, K): which of the K paired seeds are drawn

    @classmethod
    def draw(cls, n: int, seeds: int, count: int = 2000, seed: int = 0) -> Resamples:
        rng = np.random.default_rng(seed)
        weights = resample_weights(n, count, rng)
        return cls(weights, rng.integers(0, seeds, size=(count, seeds)))


def paired_bootstrap(
    arm: Sequence[Scorer],
    base: Sequence[Scorer],
    metric: str,
    draws: Resamples,
    level: float = 0.95,
) -> Interval:
    """The paired bootstrap interval of mean over seeds of (arm − base) for `metric` (the
    task's name, without "test/"); `arm[k]` and `base[k]` are the runs of seed k.

    Raises:
        ValueError: no seeds, or runs whose test sets differ in size from the draws'.
    """
    if not arm or len(arm) != len(base) or draws.seed_draws.shape[1] != len(arm):
        raise ValueError("paired_bootstrap needs the same seeds, at least one, in both arms")
    if any(s.n != draws.weights.shape[1] for s in (*arm, *base)):
        raise ValueError("paired_bootstrap: the runs' test sets differ in size")
    w = draws.weights
    pairs = zip(arm, base, strict=True)
    diffs = np.stack([a.scores(w)[metric] - b.scores(w)[metric] for a, b in pairs])
    resamples = len(w)
    seeded = diffs[draws.seed_draws, np.arange(resamples)[:, None]].mean(1)
    kept = diffs.mean(0)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    low, high = _percentiles(seeded, q)
    ex_low, ex_high = _percentiles(kept, q)
    return Interval(low, high, ex_low, ex_high, int(np.isfinite(seeded).sum()))


@dataclass
class FoldResamples:
    """The draws of one bootstrap over cross-validated runs: seeds and folds."""

    seed_draws: np.ndarray  # (B, K): which of the K paired seeds are drawn
    fold_draws: np.ndarray  # (B, k): which of the k folds are drawn

    @classmethod
    def draw(cls, seeds: int, folds: int, count: int = 2000, seed: int = 0) -> FoldResamples:
        rng = np.random.default_rng(seed)
        return cls(
            rng.integers(0, seeds, size=(count, seeds)), rng.integers(0, folds, size=(count, folds))
        )


def fold_bootstrap(
    arm: np.ndarray, base: np.ndarray, draws: FoldResamples, level: float = 0.95
) -> Interval:
    """The paired bootstrap interval of the mean difference of cross-validated runs.

    `arm` and `base` are (K seeds, k folds) validation scores; fold j holds the same rows in
    every run (one data.split_seed). Each resample draws K seeds and k folds with replacement
    (the same draws for every arm and metric); its value is the mean of arm − base over the
    drawn seed × fold cells. The ``examples_*`` bounds keep every seed (folds resampled).

    Raises:
        ValueError: score tables of other shapes than the draws'.
    """
    diffs = np.asarray(arm, dtype=float) - np.asarray(base, dtype=float)
    shape = (draws.seed_draws.shape[1], draws.fold_draws.shape[1])
    if diffs.shape != shape:
        raise ValueError(f"fold_bootstrap: scores of shape {diffs.shape}, draws of {shape}")
    folds = draws.fold_draws[:, None, :]
    seeded = diffs[draws.seed_draws[:, :, None], folds].mean((1, 2))
    kept = diffs[np.arange(shape[0])[None, :, None], folds].mean((1, 2))
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    low, high = _percentiles(seeded, q)
    ex_low, ex_high = _percentiles(kept, q)
    return Interval(low, high, ex_low, ex_high, int(np.isfinite(seeded).sum()))


def _percentiles(values: np.ndarray, q: list[float]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return math.nan, math.nan
    low, high = np.percentile(finite, q)
    return float(low), float(high)


def fmt_diff(value: float, metric: str) -> str:
    """+0.4 pts (a metric in [0, 1] × 100) or +0.0123 (loss, mse), with a real minus."""
    if not math.isfinite(value):
        return "n/a"
    text = f"{value * 100:+.1f}" if in_points(metric) else f"{value:+.4f}"
    return text.replace("-", "−")


def verdict(
    arm: str,
    base: str,
    metric: str,
    diff: float,
    ci: tuple[float, float] | None,
    level: float = 0.95,
    why: str = "no stored test predictions",
    noise: str = "seed and test-sample",
) -> str:
    """The plain sentence: "B − A = +0.4 pts test/acc, 95% CI [−0.6, +1.3]: not
    distinguishable from seed noise." (or "B is better/worse than A beyond seed noise")."""
    unit = " pts" if in_points(metric) else ""
    head = f"{arm} − {base} = {fmt_diff(diff, metric)}{unit} {metric}"
    if ci is None or not all(math.isfinite(v) for v in ci):
        why = why if ci is None else "undefined on the resamples"
        return f"{head} (mean of per-seed differences; no confidence interval: {why})."
    low, high = ci
    pct = f"{level * 100:g}%"
    interval = f"{pct} CI [{fmt_diff(low, metric)}, {fmt_diff(high, metric)}]"
    if low <= 0 <= high:
        return f"{head}, {interval}: not distinguishable from seed noise."
    better = (low > 0) != lower_is_better(metric)
    word = "better" if better else "worse"
    return f"{head}, {interval}: {arm} is {word} than {base} beyond {noise} noise."


PROCEDURE = (
    "For each resample: n test example indices are drawn with replacement (the same indices "
    "for every arm and seed) and K seeds with replacement from the K paired seeds (the same "
    "for every arm); each drawn seed's arm run and baseline run are scored on the drawn "
    "examples with the task's metrics, and the resample's value is the mean of their "
    "differences. The interval is the percentile interval of those values; the point "
    "estimate is the mean over seeds of the per-seed differences on the whole test set. "
    "'Test examples only' keeps every seed once (examples resampled), leaving the seed "
    "spread out."
)
PROCEDURE_CV = (
    "The runs cross-validated (cv=kfold) on the same folds; a run's score is its mean over "
    "folds of the best epoch's validation metrics, and the test set was not opened. For each "
    "resample: K seeds are drawn with replacement from the K paired seeds and k folds with "
    "replacement from the k folds (the same draws for every arm and metric); the resample's "
    "value is the mean of arm − baseline over the drawn seed × fold cells. The interval is "
    "the percentile interval of those values; the point estimate is the mean over seeds of "
    "the per-seed differences of fold means. 'Folds only' keeps every seed once (folds "
    "resampled), leaving the seed spread out."
)
