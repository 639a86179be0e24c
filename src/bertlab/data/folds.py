"""k-fold cross-validation splits: folds of the pooled train+validation rows, stratified and
seeded. The test rows are left exactly as the three-way split gave them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from bertlab.errors import ConfigError

log = logging.getLogger(__name__)


def check_fold(fold: tuple[int, int]) -> tuple[int, int]:
    """Return ``(index, k)`` as ints if ``0 <= index < k`` and ``k >= 2``.

    Raises:
        ConfigError: naming the bad fold.
    """
    index, k = (int(v) for v in fold)
    if k < 2 or not 0 <= index < k:
        raise ConfigError(f"fold={index}/{k}: k-fold needs k >= 2 and 0 <= fold < k.")
    return index, k


def assign_folds(n: int, k: int, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """A fold id in ``0..k-1`` for each of ``n`` rows.

    Rows are shuffled with ``seed``, grouped by stratum (if given) and dealt out to the folds
    in turn, so fold sizes differ by one at most and each class spreads evenly over the folds.

    Args:
        n: number of rows.
        k: number of folds.
        seed: the same seed and rows give the same folds.
        strata: per-row class ids (single-label), or None for plain random folds.
    """
    order = np.random.default_rng(seed).permutation(n)
    if strata is not None:
        order = order[np.argsort(np.asarray(strata)[order], kind="stable")]
    folds = np.empty(n, np.int64)
    folds[order] = np.arange(n) % k
    return folds


def fold_split(
    indices: Mapping[str, np.ndarray],
    fold: tuple[int, int],
    seed: int,
    strata: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Train / validation / test row indices of one fold.

    Args:
        indices: the three-way split (``split_indices``); train and validation are pooled.
        fold: ``(index, k)``: validation is fold ``index`` of ``k``, train the other folds.
        seed: fold assignment seed.
        strata: per-corpus-row class ids to stratify on, or None.
    """
    index, k = check_fold(fold)
    pool = np.sort(np.concatenate([indices["train"], indices["validation"]]))
    if strata is not None and index == 0:
        _warn_small_classes(np.asarray(strata)[pool], k)
    folds = assign_folds(len(pool), k, seed, None if strata is None else strata[pool])
    return {
        "train": pool[folds != index],
        "validation": pool[folds == index],
        "test": indices["test"],
    }


def _warn_small_classes(strata: np.ndarray, k: int) -> None:
    """Warn when a class has fewer rows than folds: some validation folds lack it, and their
    F1 / MCC are computed without it."""
    classes, counts = np.unique(strata, return_counts=True)
    small = [(int(c), int(n)) for c, n in zip(classes, counts, strict=True) if n < k]
    if small:
        log.warning(
            "cv.k=%d but class(es) %s have fewer examples in train+validation than folds "
            "(class id: count); %d fold(s) validate without them. Use a smaller cv.k or add "
            "examples of those classes.",
            k,
            ", ".join(f"{c}: {n}" for c, n in small[:10]) + (" ..." if len(small) > 10 else ""),
            k - min(n for _, n in small),
        )
