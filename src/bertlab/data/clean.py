"""Cleaning: drop empty texts and missing labels (refuse past a fraction), drop duplicates
so that no model input can sit in two splits.

Duplicates are compared on what the model sees (`model_input_key`): the tokenizer's own
normaliser and pre-tokenizer, so NFC/NFD, a zero-width space, case under an uncased tokenizer
and whitespace variants are one input.

A provided test split is kept row for row: copies of its texts are dropped from train and
validation instead, and repeats inside it are only counted (so its figures stay comparable
with anyone else's on the same benchmark)."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from bertlab.errors import DataError

log = logging.getLogger(__name__)

# A text in two provided splits keeps the copy in the most protected split.
_SPLIT_PRIORITY = {"test": 0, "validation": 1, "train": 2}
# Key of `CleanReport.duplicates` for a corpus without provided splits.
UNSPLIT = "unsplit"
# Bump when clean() keeps or drops other rows of the same table, so that tokenization caches
# built by the old rules are not reused (2: a provided test split keeps every row; 3:
# duplicates by model input, label names NFC-normalised and stripped).
RULES_VERSION = 3
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


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


def model_input_key(tokenizer=None) -> Callable[[str], str]:
    """What a text is to the model, as a string: equal keys mean the same token ids.

    With a fast tokenizer: its normaliser (Unicode, accents, case when uncased, control and
    zero-width characters) then its pre-tokenizer's pieces. Otherwise (None, slow tokenizers):
    NFKC, zero-width characters dropped, whitespace collapsed, lower-cased when the tokenizer
    says `do_lower_case`.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    normalizer = getattr(backend, "normalizer", None)
    pre = getattr(backend, "pre_tokenizer", None)
    if backend is not None:

        def key(text: str) -> str:
            text = normalizer.normalize_str(text) if normalizer is not None else text
            if pre is None:
                return " ".join(text.split())
            return "\x1f".join(piece for piece, _ in pre.pre_tokenize_str(text))

        return key
    lower = bool(getattr(tokenizer, "do_lower_case", False))

    def plain_key(text: str) -> str:
        text = " ".join(unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).split())
        return text.lower() if lower else text

    return plain_key


def _input_ids(table: pd.DataFrame, key: Callable[[str], str]) -> pd.Series:
    """One id per distinct model input (text and text pair through `key`)."""
    keys = table["text"].astype(str).map(key)
    if "text_pair" in table:
        keys = keys + "\x1e" + table["text_pair"].astype(str).map(key)
    return keys.map(lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest()[:16])


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


def clean(
    table: pd.DataFrame,
    max_drop_fraction: float = 0.05,
    input_key: Callable[[str], str] | None = None,
) -> tuple[pd.DataFrame, CleanReport]:
    """Drop unusable rows and duplicate model inputs.

    Duplicates are dropped inside train, validation and an unsplit corpus; across provided
    splits the copy in test (else validation) is kept. A provided test split keeps every row.

    Args:
        table: text[, text_pair], label[, split].
        max_drop_fraction: refuse the corpus when more than this fraction of rows have an empty
            text or a missing label (a sign of a wrong column or a broken file).
        input_key: what a text is to the model (`model_input_key(tokenizer)`); default: the
            tokenizer-free normalisation of `model_input_key(None)`.

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
    ids = _input_ids(table, input_key or model_input_key(None))
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
            "Cleaning dropped %d empty texts, %d missing labels, %d duplicate model inputs (%s)",
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
