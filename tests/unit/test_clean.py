"""Cleaning: empty texts, missing labels, duplicates (a provided test split is kept as given)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bertlab.data.clean import clean, example_ids
from bertlab.data.split import manifest, split_indices
from bertlab.errors import DataError

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


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
    assert report.duplicates == {"unsplit": 2}
    assert report.repeated_in_test == 0


def test_duplicate_across_provided_splits_stays_in_test():
    df = table(["a", "b", "a"], [1, 0, 1], ["train", "train", "test"])
    out, _ = clean(df)
    assert sorted(zip(out["text"], out["split"], strict=True)) == [("a", "test"), ("b", "train")]


def test_provided_test_split_with_repeats_keeps_every_row():
    test_texts = ["t1", "t2", "t1", "t3", "t1", "t2"]  # 3 rows repeat an earlier test row
    df = table(["a", "b"] + test_texts, [0, 1] + [0, 1, 0, 1, 0, 1], ["train"] * 2 + ["test"] * 6)
    out, report = clean(df)
    test_rows = out[out["split"] == "test"]
    assert test_rows["text"].tolist() == test_texts
    assert test_rows["label"].tolist() == [0, 1, 0, 1, 0, 1]
    assert report.repeated_in_test == 3
    assert report.duplicates == {"train": 0, "validation": 0}


def test_train_and_validation_copies_of_a_test_text_are_dropped():
    df = table(
        ["x", "a", "x", "b", "x", "x"],
        [0, 1, 0, 1, 0, 0],
        ["train", "train", "validation", "validation", "test", "test"],
    )
    out, report = clean(df)
    assert sorted(zip(out["text"], out["split"], strict=True)) == [
        ("a", "train"),
        ("b", "validation"),
        ("x", "test"),
        ("x", "test"),
    ]
    assert report.duplicates == {"train": 1, "validation": 1}
    assert report.repeated_in_test == 1


def test_train_copy_of_a_validation_text_is_dropped_and_validation_deduplicated():
    df = table(["v", "a", "v", "v"], [0, 1, 0, 0], ["train", "train", "validation", "validation"])
    out, report = clean(df)
    assert sorted(zip(out["text"], out["split"], strict=True)) == [
        ("a", "train"),
        ("v", "validation"),
    ]
    assert report.duplicates == {"train": 1, "validation": 1}


def test_train_internal_duplicates_are_dropped_and_counted_per_split():
    df = table(
        ["a", "a", "b", "a", "c", "t", "t"],
        [0, 0, 1, 0, 1, 1, 1],
        ["train"] * 5 + ["test"] * 2,
    )
    out, report = clean(df)
    assert out[out["split"] == "train"]["text"].tolist() == ["a", "b", "c"]
    assert out[out["split"] == "test"]["text"].tolist() == ["t", "t"]
    assert report.duplicates == {"train": 2, "validation": 0}
    assert report.repeated_in_test == 1


def test_text_pair_is_part_of_the_identity():
    df = table(["q", "q", "q"], [0, 1, 0], ["train"] * 3)
    df["text_pair"] = ["a", "b", "a"]
    out, report = clean(df)
    assert out["text_pair"].tolist() == ["a", "b"]
    assert report.duplicates["train"] == 1


def test_report_is_plain_json():
    df = table(["a", "a", "t", "t"], [0, 0, 1, 1], ["train", "train", "test", "test"])
    _, report = clean(df)
    assert json.loads(json.dumps(report.as_dict())) == {
        "rows_in": 4,
        "empty_text": 0,
        "missing_label": 0,
        "duplicates": {"train": 1, "validation": 0},
        "repeated_in_test": 1,
    }


def test_split_and_manifest_count_repeated_test_rows():
    train = [f"train {i}" for i in range(40)]
    test = ["t1", "t2", "t1", "t3", "t1"]
    df = table(train + test, [i % 2 for i in range(45)], ["train"] * 40 + ["test"] * 5)
    out, _ = clean(df)
    provided = out["split"].to_numpy(str)
    parts = split_indices(len(out), RATIOS, 0, out["label"].to_numpy(), provided)
    assert sorted(out["text"][parts["test"]].tolist()) == sorted(test)
    assert len(parts["validation"]) > 0  # carved from train only
    assert set(parts["validation"]).isdisjoint(parts["test"])
    ids = example_ids(out).to_numpy()
    counts = {k: {} for k in parts}
    sizes = manifest(parts, ids, counts, {})["splits"]
    assert sizes["test"]["size"] == 5
    assert sum(s["size"] for s in sizes.values()) == len(out) == 45
    assert np.unique(ids[parts["test"]]).size == 3
