"""Three-way split: stratified by label, seeded; provided splits are kept as given and only
the missing ones are carved out of train. A test split is never touched."""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bertlab.errors import DataError

log = logging.getLogger(__name__)

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
        out = {
            **{k: np.empty(0, np.int64) for k in SPLITS},
            **_carve(rows, strata, fractions, rng, names),
        }
        _warn_unhonoured(out, {**fractions, "train": ratios["train"]}, n)
        return out
    given = {k: rows[provided == k] for k in SPLITS}
    if (provided == "").any():
        raise DataError("Some rows name a split and others do not; give every row a split.")
    missing = [k for k in ("validation", "test") if len(given[k]) == 0 and ratios[k] > 0]
    if not missing:
        return given
    share = ratios["train"] + sum(ratios[k] for k in missing)
    fractions = {k: ratios[k] / share for k in missing}
    carved = _carve(given["train"], strata, fractions, rng, names)
    _warn_unhonoured(
        carved, {**fractions, "train": 1 - sum(fractions.values())}, len(given["train"])
    )
    return {**given, **carved}


def _warn_unhonoured(out: Mapping[str, np.ndarray], asked: Mapping[str, float], n: int) -> None:
    """Warn when a carved split's share is far from the asked one (stratifying many small
    classes takes at least one row of each class into every split)."""
    if not n:
        return
    got = {k: len(out[k]) / n for k in asked}
    off = [k for k in asked if abs(got[k] - asked[k]) > max(0.05, 1.5 / n)]
    if off:
        log.warning(
            "data.split cannot be honoured: asked %s, got %s of %d rows (a stratified split "
            "puts at least one row of every class in each split). Use fewer, larger classes, "
            "or provide the splits in the data.",
            ", ".join(f"{k} {asked[k]:.0%}" for k in asked),
            ", ".join(f"{k} {got[k]:.1%}" for k in asked),
            n,
        )


def manifest(
    indices: Mapping[str, np.ndarray],
    ids: np.ndarray,
    label_counts: Mapping[str, Mapping[str, int]],
    extra: Mapping[str, object],
    labels: np.ndarray | None = None,
) -> dict:
    """Per split: size, per-label counts, a sha256 of its sorted example ids and, given the
    encoded `labels`, a sha256 of its (id, label) pairs; the pairs themselves are pinned,
    compressed, under `label_pins` (so a check can say how many labels changed)."""
    splits, pins = {}, {}
    for name in SPLITS:
        rows = indices[name]
        digest = hashlib.sha256("\n".join(sorted(ids[rows].tolist())).encode()).hexdigest()
        splits[name] = {
            "size": int(len(rows)),
            "label_counts": dict(label_counts[name]),
            "ids_sha256": digest,
        }
        if labels is not None:
            pin = label_pin(ids[rows], labels[rows])
            splits[name]["labels_sha256"] = pin["sha256"]
            pins[name] = pin
    return {**extra, "splits": splits, **({"label_pins": pins} if labels is not None else {})}


def _pairs(ids: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels as (n, width) float64 rows, and both in (id, label) order."""
    values = np.asarray(labels, np.float64)
    values = values.reshape(len(ids), int(np.prod(values.shape[1:])) or 1)  # (0, w) if empty
    keys = [values[:, j] for j in reversed(range(values.shape[1]))]
    order = np.lexsort([*keys, np.asarray(ids).astype(str)])
    return np.asarray(ids).astype(str)[order], values[order]


def label_pin(ids: np.ndarray, labels: np.ndarray) -> dict:
    """A split's (id, label) pairs: their sha256 and the labels in id order, compressed."""
    ids, values = _pairs(ids, labels)
    whole = bool(np.all(values == np.round(values))) and bool(np.all(np.abs(values) < 2**31))
    dtype = "<i4" if whole else "<f8"
    raw = values.astype(dtype).tobytes()
    digest = hashlib.sha256("\n".join(ids).encode() + b"\0" + raw).hexdigest()
    return {
        "sha256": digest,
        "dtype": dtype,
        "width": int(values.shape[1]),
        "zlib_base64": base64.b64encode(zlib.compress(raw, 9)).decode("ascii"),
    }


def changed_labels(recorded: Mapping, current: Mapping) -> int | None:
    """How many examples of a split (same ids) have another label now than in `recorded`
    (two `label_pin`s); None when either pin cannot be read."""
    try:
        then, now = (
            np.frombuffer(zlib.decompress(base64.b64decode(p["zlib_base64"])), p["dtype"])
            .astype(np.float64)
            .reshape(-1, int(p["width"]))
            for p in (recorded, current)
        )
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    if then.shape != now.shape:
        return None
    return int((then != now).any(axis=1).sum())


def label_differences(recorded: Mapping, current: Mapping) -> list[str]:
    """Splits whose examples are the same but whose labels changed, e.g. "test: 5 of 300
    labels changed" (a manifest without pins, written before they existed, is not checked)."""
    out = []
    for name, now in current.get("splits", {}).items():
        then = recorded.get("splits", {}).get(name, {})
        if "labels_sha256" not in then or then.get("ids_sha256") != now.get("ids_sha256"):
            continue
        if then["labels_sha256"] != now.get("labels_sha256"):
            pins = recorded.get("label_pins", {}).get(name), current.get("label_pins", {}).get(name)
            count = changed_labels(*pins) if all(pins) else None
            what = f"{count} of {now['size']}" if count else "some"
            out.append(f"{name}: {what} labels changed (same texts)")
    return out
