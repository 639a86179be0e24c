"""Label encoding for the three problem types, and the label map saved with each run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bertlab.errors import DataError

PROBLEM_TYPES = ("single_label", "multi_label", "regression")


def _sort_key(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def label_names(labels: pd.Series, problem_type: str, separator: str | None) -> list[str]:
    """The sorted distinct label names (numbers in numeric order); [] for regression."""
    if problem_type == "regression":
        return []
    if problem_type == "multi_label":
        names = {n for row in labels for n in _split_multi(row, separator)}
    else:
        names = {_name(v) for v in labels}
    return sorted(names, key=_sort_key)


def _name(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _split_multi(value, separator: str | None) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_name(v) for v in value]
    if separator is None:
        raise DataError(
            "Multi-label string labels need data.label_separator (e.g. ',' for 'a,b'), or "
            "give labels as JSON lists in a JSONL file."
        )
    return [p.strip() for p in str(value).split(separator) if p.strip()]


def encode(
    labels: pd.Series, names: Sequence[str], problem_type: str, separator: str | None
) -> np.ndarray:
    """Labels as model targets: int64 ids, float32 multi-hot rows, or float32 values."""
    if problem_type == "regression":
        try:
            return labels.astype("float32").to_numpy()
        except (TypeError, ValueError) as err:
            raise DataError(f"Regression labels must be numbers: {err}") from err
    index = {n: i for i, n in enumerate(names)}
    if problem_type == "multi_label":
        out = np.zeros((len(labels), len(names)), dtype=np.float32)
        for row, value in enumerate(labels):
            for name in _split_multi(value, separator):
                out[row, index[name]] = 1.0
        return out
    return np.fromiter((index[_name(v)] for v in labels), dtype=np.int64, count=len(labels))


def check_problem_type(problem_type: str) -> None:
    if problem_type not in PROBLEM_TYPES:
        raise DataError(
            f"data.problem_type={problem_type} is unknown; use one of {', '.join(PROBLEM_TYPES)}."
        )
