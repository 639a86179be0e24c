"""Cleaning: drop empty texts and missing labels (refuse past a fraction), drop exact
duplicates so that no text can sit in two splits.

A provided test split is kept row for row: copies of its texts are dropped from train and
validation instead, and repeats inside it are only counted (so its figures stay comparable
with anyone else's on the same benchmark)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import pandas as pd

from bertlab.errors import DataError

log = logging.getLogger(__name__)

# A text in two provided splits keeps the copy in the most protected split.
_SPLIT_PRIORITY = {"test": 0, "validation": 1, "train": 2}
# Key of `CleanReport.duplicates` for a corpus without provided splits.
UNSPLIT = "unsplit"
# Bump when clean() keeps or drops other rows of the same table, so that tokenization caches
# built by the old rules are not reused (2: a provided test split keeps every row).
RULES_VERSION = 2


@dataclass(frozen=True)
class CleanReport:
    """How many rows cleaning removed, by reason.

    Attributes:
        rows_in: rows before cleaning.
        empty_text: rows dropped for an empty text (or text pair).
        missing_label: rows dropped for a missing label.
        duplicates: exact duplicates dropped, by the split they were dropped from
            ({"train": n, "validation": m} with provided splits, {"unsplit": n} without).
        repeated_in_test: rows of a provided test split that repeat an earlier test row;
            kept, never dropped.
    """

    rows_in: int
    empty_text: int
    missing_label: int
    duplicates: dict[str, int] = field(default_factory=dict)
    repeated_in_test: int = 0

    @property
    def duplicates_dropped(self) -> int:
        """Exact duplicates dropped from all splits together."""
        return sum(self.duplicates.values())

    def as_dict(self) -> dict[str, int | dict[str, int]]:
        """Plain JSON-ready content (ints and a dict of ints)."""
        return {
            "rows_in": self.rows_in,
            "empty_text": self.empty_text,
            "missing_label": self.missing_label,
            "duplicates": dict(self.duplicates),
            "repeated_in_test": self.repeated_in_test,
        }


def example_ids(table: pd.DataFrame) -> pd.Series:
    """A stable id per example: sha1 of its text (and text pair), 16 hex characters."""
    pair = table["text_pair"] if "text_pair" in table else pd.Series("", index=table.index)
    joined = table["text"].astype(str) + "\x1f" + pair.astype(str)
    return joined.map(lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest()[:16])


def _is_blank(column: pd.Series) -> pd.Series:
    return column.isna() | column.astype(str).str.strip().eq("")


def _duplicates_unsplit(ids: pd.Series) -> tuple[pd.Series, dict[str, int], int]:
    """Keep the first copy of each text of a corpus without provided splits."""
    keep = ~ids.duplicated()
    return keep, {UNSPLIT: int((~keep).sum())}, 0


def _duplicates_split(ids: pd.Series, splits: pd.Series) -> tuple[pd.Series, dict[str, int], int]:
    """Keep each text only in its most protected provided split, and there once, except in
    test, where every row stays.

    Returns:
        The rows to keep, duplicates dropped per split, and test rows repeating an earlier one.
    """
    rank = splits.map(_SPLIT_PRIORITY).fillna(len(_SPLIT_PRIORITY)).astype(int)
    best = rank.groupby(ids).transform("min")
    in_test = splits.eq("test")
    repeat = pd.DataFrame({"id": ids, "split": splits}).duplicated()  # an earlier row, same split
    keep = rank.eq(best) & (in_test | ~repeat)
    dropped = splits[~keep].value_counts()
    per_split = {"train": 0, "validation": 0}
    per_split.update({str(k): int(v) for k, v in sorted(dropped.items())})
    return keep, per_split, int((in_test & repeat).sum())


def clean(table: pd.DataFrame, max_drop_fraction: float = 0.05) -> tuple[pd.DataFrame, CleanReport]:
    """Drop unusable rows and exact duplicates.

    Duplicates are dropped inside train, validation and an unsplit corpus; across provided
    splits the copy in test (else validation) is kept. A provided test split keeps every row.

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
        keep, duplicates, repeated = _duplicates_split(ids, table["split"])
    else:
        keep, duplicates, repeated = _duplicates_unsplit(ids)
    table = table[keep].reset_index(drop=True)
    report = CleanReport(
        rows_in, int(empty.sum()), int(missing.sum()), duplicates, repeated_in_test=repeated
    )
    _log_report(report)
    if table.empty:
        raise DataError("No usable examples left after cleaning; check the data file.")
    return table, report


def _log_report(report: CleanReport) -> None:
    if report.empty_text or report.missing_label or report.duplicates_dropped:
        per_split = ", ".join(f"{k} {v}" for k, v in report.duplicates.items())
        log.info(
            "Cleaning dropped %d empty texts, %d missing labels, %d exact duplicates (%s)",
            report.empty_text,
            report.missing_label,
            report.duplicates_dropped,
            per_split,
        )
    if report.repeated_in_test:
        log.info(
            "The provided test split has %d row(s) repeating the text of an earlier test row; "
            "all kept, so the test split stays as given",
            report.repeated_in_test,
        )
