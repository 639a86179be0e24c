"""Cleaning: empty texts, missing labels, duplicates."""

from __future__ import annotations

import pandas as pd
import pytest

from bertlab.data.clean import clean
from bertlab.errors import DataError


def table(texts, labels, splits=None):
    df = pd.DataFrame({"text": texts, "label": labels})
    if splits is not None:
        df["split"] = splits
    return df


def test_empty_and_unlabelled_rows_are_dropped_and_counted():
    df = table(["a", "  ", None, "b", "c"], [1, 0, 1, None, 0])
    out, report = clean(df, max_drop_fraction=0.8)
    assert out["text"].tolist() == ["a", "c"]
    assert (report.empty_text, report.missing_label) == (2, 1)


def test_too_many_bad_rows_are_refused_with_the_option_named():
    df = table(["a", "", "", "b"], [1, 0, 1, 0])
    with pytest.raises(DataError, match="data.max_drop_fraction"):
        clean(df, max_drop_fraction=0.25)


def test_exact_duplicates_are_dropped():
    out, report = clean(table(["a", "b", "a", "a"], [1, 0, 1, 0]))
    assert out["text"].tolist() == ["a", "b"]
    assert report.duplicates == 2


def test_duplicate_across_provided_splits_stays_in_test():
    df = table(["a", "b", "a"], [1, 0, 1], ["train", "train", "test"])
    out, _ = clean(df)
    assert sorted(zip(out["text"], out["split"], strict=True)) == [("a", "test"), ("b", "train")]
