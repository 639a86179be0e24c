"""Cleaning: drop empty texts and missing labels (refuse past a fraction), drop exact
duplicates so that no text can sit in two splits."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import pandas as pd

from bertlab.errors import DataError

log = logging.getLogger(__name__)

# When duplicates span provided splits, keep the copy in the most protected split.
_SPLIT_PRIORITY = {"test": 0, "validation": 1, "train": 2}


@dataclass(frozen=True)
class CleanReport:
    """How many rows cleaning removed, by reason."""

    rows_in: int
    empty_text: int
    missing_label: int
    duplicates: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def example_ids(table: pd.DataFrame) -> pd.Series:
    """A stable id per example: sha1 of its text (and text pair), 16 hex characters."""
    pair = table["text_pair"] if "text_pair" in table else pd.Series("", index=table.index)
    joined = table["text"].astype(str) + "\x1f" + pair.astype(str)
    return joined.map(lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest()[:16])


def _is_blank(column: pd.Series) -> pd.Series:
    return column.isna() | column.astype(str).str.strip().eq("")


def clean(table: pd.DataFrame, max_drop_fraction: float = 0.05) -> tuple[pd.DataFrame, CleanReport]:
    """Drop unusable rows and exact duplicates.

    Args:
        table: text[, text_pair], label[, split].
        max_drop_fraction: refuse the corpus when more than this fraction of rows have an empty
            text or a missing label (a sign of a wrong column or a broken file).

    Raises:
        DataError: too many unusable rows, or nothing left.
    """
    rows_in = len(table)
    empty = _is_blank(table["text"])
    if "text_pair" in table:
        empty |= _is_blank(table["text_pair"])
    missing = table["label"].isna() & ~empty
    bad = int(empty.sum() + missing.sum())
    if rows_in and bad / rows_in > max_drop_fraction:
        raise DataError(
            f"{bad} of {rows_in} rows ({bad / rows_in:.1%}) have an empty text "
            f"({int(empty.sum())}) or a missing label ({int(missing.sum())}), more than "
            f"data.max_drop_fraction={max_drop_fraction}. Check the column names, or raise "
            "data.max_drop_fraction to drop them."
        )
    table = table[~(empty | missing)]
    ids = example_ids(table)
    if "split" in table:
        order = table["split"].map(_SPLIT_PRIORITY).to_numpy().argsort(kind="stable")
        keep = ~ids.iloc[order].duplicated()
        keep = keep.reindex(table.index)
    else:
        keep = ~ids.duplicated()
    duplicates = int((~keep).sum())
    table = table[keep].reset_index(drop=True)
    report = CleanReport(rows_in, int(empty.sum()), int(missing.sum()), duplicates)
    if bad or duplicates:
        log.info(
            "Cleaning dropped %d empty texts, %d missing labels, %d exact duplicates",
            report.empty_text,
            report.missing_label,
            report.duplicates,
        )
    if table.empty:
        raise DataError("No usable examples left after cleaning; check the data file.")
    return table, report
