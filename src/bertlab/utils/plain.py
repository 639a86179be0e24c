"""Plain data: what a checkpoint's hyperparameters may hold (loaded with weights_only=True)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PLAIN_SCALARS = (str, int, float, bool, type(None))


def is_plain(value: Any) -> bool:
    """str, number, bool, None, and lists / tuples / dicts (str or int keys) of them."""
    if isinstance(value, Mapping):
        return all(isinstance(k, str | int) and is_plain(v) for k, v in value.items())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return all(is_plain(v) for v in value)
    return isinstance(value, PLAIN_SCALARS)
