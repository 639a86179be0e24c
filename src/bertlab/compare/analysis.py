"""From runs to the comparison's numbers: per metric, each arm's mean ± std over seeds, and
each arm against the first (the baseline): the per-seed differences, their mean, the paired
bootstrap interval (`bertlab.compare.stats`) and the plain sentence."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from bertlab.compare.runs import Run
from bertlab.compare.scoring import Scorer, scorer_for
from bertlab.compare.stats import (
    FoldResamples,
    Resamples,
    fold_bootstrap,
    paired_bootstrap,
    spread,
    verdict,
)
from bertlab.errors import DataError

log = logging.getLogger(__name__)


def paired_seeds(runs: Sequence[Run], labels: Sequence[str]) -> list[int]:
    """The seeds every arm has a run of, in order."""
    have = [{r.seed for r in runs if r.arm == label} for label in labels]
    return sorted(set.intersection(*have)) if have else []


def aligned_scorers(runs: Sequence[Run]) -> dict[tuple[str, int], Scorer] | None:
    """A scorer per (arm, seed) over one common example order, or None when a run stored no
    predictions.

    Raises:
        DataError: runs whose stored test examples differ.
    """
    if any(r.predictions is None for r in runs):
        return None
    reference = np.sort(runs[0].predictions["ids"])
    out = {}
    for run in runs:
        ids = run.predictions["ids"]
        order = np.argsort(ids, kind="stable")
        if not np.array_equal(ids[order], reference):
            raise DataError(
                f"{run.dir} stored predictions for other test examples than {runs[0].dir}."
            )
        logits, labels = run.predictions["logits"][order], run.predictions["labels"][order]
        out[(run.arm, run.seed)] = scorer_for(run.task, logits, labels)
    return out


def analyse(
    runs: Sequence[Run],
    labels: Sequence[str],
    resamples: int = 2000,
    level: float = 0.95,
    bootstrap_seed: int = 0,
) -> dict[str, Any]:
    """The comparison of arms `labels` (the first is the baseline) as a JSON-able dict:
    ``{"seeds", "cv_folds" (k; None: tested runs), "metrics": {metric: {"arms": {label:
    {values, mean, std}}, "differences": [{arm, baseline, per_seed, mean, ci, ci_examples,
    sentence}]}}, "sentences"}``."""
    seeds = paired_seeds(runs, labels)
    if not seeds:
        raise DataError("No seed was run by every arm: nothing to pair.")
    by = {(r.arm, r.seed): r for r in runs}
    paired = [by[(a, s)] for a in labels for s in seeds]
    folds = len(runs[0].folds) if all(r.folds for r in paired) else None
    scorers = None if folds else aligned_scorers(paired)
    if scorers is None and not folds:
        log.warning("Some runs stored no test predictions: no bootstrap intervals.")
    metrics = list(dict.fromkeys(k for r in runs for k in r.test))
    draws = fold_draws = None
    if scorers is not None:
        n = scorers[(labels[0], seeds[0])].n
        draws = Resamples.draw(n, len(seeds), resamples, bootstrap_seed)
    if folds:
        fold_draws = FoldResamples.draw(len(seeds), folds, resamples, bootstrap_seed)
    base = labels[0]
    out: dict[str, Any] = {}
    sentences = []
    for metric in metrics:
        arms = {}
        for label in labels:
            values = [by[(label, s)].test.get(metric, float("nan")) for s in seeds]
            mean, std = spread(values)
            arms[label] = {"values": values, "mean": mean, "std": std}
        diffs = []
        for label in labels[1:]:
            pairs = zip(arms[label]["values"], arms[base]["values"], strict=True)
            per_seed = [a - b for a, b in pairs]
            mean = float(np.mean(per_seed))
            name = metric.split("/", 1)[-1]
            ci = ci_examples = interval = None
            if fold_draws is not None:
                arm_folds = fold_table([by[(label, s)] for s in seeds], metric)
                base_folds = fold_table([by[(base, s)] for s in seeds], metric)
                if np.isfinite(arm_folds).all() and np.isfinite(base_folds).all():
                    interval = fold_bootstrap(arm_folds, base_folds, fold_draws, level)
            elif scorers is not None and name in scorers[(base, seeds[0])].names:
                interval = paired_bootstrap(
                    [scorers[(label, s)] for s in seeds],
                    [scorers[(base, s)] for s in seeds],
                    name,
                    draws,
                    level,
                )
            if interval is not None:
                ci = [interval.low, interval.high]
                ci_examples = [interval.examples_low, interval.examples_high]
            why = "not a task metric"
            if folds:
                why = "a fold without it"
            elif scorers is None:
                why = "no stored test predictions"
            noise = "seed and fold" if folds else "seed and test-sample"
            sentence = verdict(
                label, base, metric, mean, tuple(ci) if ci else None, level, why, noise
            )
            sentences.append(sentence)
            diffs.append(
                {
                    "arm": label,
                    "baseline": base,
                    "per_seed": per_seed,
                    "mean": mean,
                    "ci": ci,
                    "ci_examples": ci_examples,
                    "sentence": sentence,
                }
            )
        out[metric] = {"arms": arms, "differences": diffs}
    return {"seeds": seeds, "cv_folds": folds, "metrics": out, "sentences": sentences}


def fold_table(runs: Sequence[Run], metric: str) -> np.ndarray:
    """(seeds, folds) of a metric's per-fold validation values (NaN where a fold lacks it)."""
    return np.array([[fold.get(metric, np.nan) for fold in run.folds] for run in runs])


def check_stored_scores(runs: Sequence[Run], tolerance: float = 1e-4) -> list[str]:
    """Runs whose stored predictions do not reproduce their metrics.json test values (a
    warning each: the interval would be about other numbers than the table)."""
    problems = []
    for run in runs:
        if run.predictions is None:
            continue
        scorer = scorer_for(run.task, run.predictions["logits"], run.predictions["labels"])
        for name, value in scorer.point().items():
            recorded = run.test.get(f"test/{name}")
            if recorded is not None and np.isfinite(value) and abs(recorded - value) > tolerance:
                problems.append(f"{run.dir}: test/{name} {recorded:.6f} vs {value:.6f} stored")
    return problems
