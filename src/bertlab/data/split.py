"""Three-way split: stratified by label, seeded; provided splits are kept as given and only
the missing ones are carved out of train. A test split is never touched."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bertlab.errors import DataError

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "eval": "validation",
}


def split_name(name: Any) -> str:
    """A split's canonical name: train, validation or test ("val", "dev", ... accepted).

    Raises:
        DataError: any other name.
    """
    name = str(name).strip().lower()
    name = SPLIT_ALIASES.get(name, name)
    if name not in SPLITS:
        raise DataError(f"Unknown split name '{name}': use one of {', '.join(SPLITS)}.")
    return name


def check_ratios(ratios: Mapping[str, float]) -> dict[str, float]:
    """Validate {train, validation, test} ratios: each in [0, 1), train > 0, summing to 1."""
    if set(ratios) != set(SPLITS):
        raise DataError(f"data.split needs exactly the keys {SPLITS}; got {sorted(ratios)}.")
    ratios = {k: float(ratios[k]) for k in SPLITS}
    total = sum(ratios.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        shown = " + ".join(f"{ratios[k]:g}" for k in SPLITS)
        raise DataError(
            f"Split ratios must sum to 1: {shown} = {total:g}. Fix data.split.train / "
            "validation / test (e.g. 0.8 / 0.1 / 0.1)."
        )
    if ratios["train"] <= 0 or any(not 0 <= v < 1 for v in ratios.values()):
        raise DataError(f"Split ratios must lie in [0, 1) with train > 0; got {ratios}.")
    return ratios


def _carve(
    pool: np.ndarray,
    strata: np.ndarray | None,
    fractions: Mapping[str, float],
    rng: np.random.Generator,
    names: Sequence[str] | None,
) -> dict[str, np.ndarray]:
    """Split row indices `pool` into train plus the splits in `fractions` (of the pool)."""
    groups = (
        [pool] if strata is None else [pool[strata[pool] == s] for s in np.unique(strata[pool])]
    )
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("train", *fractions)}
    for group in groups:
        group = rng.permutation(group)
        n, start = len(group), 0
        if strata is not None and n < len(fractions) + 1:
            label = names[strata[group[0]]] if names else strata[group[0]]
            raise DataError(
                f"Class '{label}' has only {n} example(s): a stratified split into "
                f"{', '.join(['train', *fractions])} needs at least {len(fractions) + 1}. Add "
                "examples, merge or drop that class, or provide the splits in the data."
            )
        for name, frac in fractions.items():
            take = max(1, round(n * frac)) if strata is not None else round(n * frac)
            out[name].append(group[start : start + take])
            start += take
        out["train"].append(group[start:])
    return {k: np.sort(np.concatenate(v)) if v else np.empty(0, np.int64) for k, v in out.items()}


def split_indices(
    n: int,
    ratios: Mapping[str, float],
    seed: int,
    strata: np.ndarray | None = None,
    provided: np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Row indices of train / validation / test.

    Args:
        n: number of rows.
        ratios: fractions of the whole corpus for each split (used for the missing splits).
        seed: the same seed and data give the same split.
        strata: per-row class ids to stratify on (single-label), or None for a random split.
        provided: per-row split names given by the corpus ("" where none), or None.
        names: class names for error messages.
    """
    ratios = check_ratios(ratios)
    rng = np.random.default_rng(seed)
    rows = np.arange(n)
    if provided is None or not (provided != "").any():
        fractions = {k: ratios[k] for k in ("validation", "test") if ratios[k] > 0}
        return {
            **{k: np.empty(0, np.int64) for k in SPLITS},
            **_carve(rows, strata, fractions, rng, names),
        }
    given = {k: rows[provided == k] for k in SPLITS}
    if (provided == "").any():
        raise DataError("Some rows name a split and others do not; give every row a split.")
    missing = [k for k in ("validation", "test") if len(given[k]) == 0 and ratios[k] > 0]
    if not missing:
        return given
    share = ratios["train"] + sum(ratios[k] for k in missing)
    fractions = {k: ratios[k] / share for k in missing}
    carved = _carve(given["train"], strata, fractions, rng, names)
    return {**given, **carved}


def manifest(
    indices: Mapping[str, np.ndarray],
    ids: np.ndarray,
    label_counts: Mapping[str, Mapping[str, int]],
    extra: Mapping[str, object],
) -> dict:
    """Per split: size, per-label counts and a sha256 of its sorted example ids."""
    splits = {}
    for name in SPLITS:
        rows = indices[name]
        digest = hashlib.sha256("\n".join(sorted(ids[rows].tolist())).encode()).hexdigest()
        splits[name] = {
            "size": int(len(rows)),
            "label_counts": dict(label_counts[name]),
            "ids_sha256": digest,
        }
    return {**extra, "splits": splits}
