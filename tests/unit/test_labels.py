"""Label maps and encodings per problem type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bertlab.data import labels
from bertlab.errors import DataError


def test_string_and_int_labels_are_sorted_naturally():
    assert labels.label_names(pd.Series(["pos", "neg", "pos"]), "single_label", None) == [
        "neg",
        "pos",
    ]
    assert labels.label_names(pd.Series([10, 2, 1]), "single_label", None) == ["1", "2", "10"]
    ids = labels.encode(pd.Series([10, 2, 1]), ["1", "2", "10"], "single_label", None)
    assert ids.tolist() == [2, 1, 0]


def test_multi_label_multi_hot():
    series = pd.Series(["a,b", "c", "b"])
    names = labels.label_names(series, "multi_label", ",")
    assert names == ["a", "b", "c"]
    assert labels.encode(series, names, "multi_label", ",").tolist() == [
        [1, 1, 0],
        [0, 0, 1],
        [0, 1, 0],
    ]


def test_multi_label_strings_need_a_separator():
    with pytest.raises(DataError, match="data.label_separator"):
        labels.label_names(pd.Series(["a,b"]), "multi_label", None)


def test_regression_values():
    out = labels.encode(pd.Series([0.5, 2]), [], "regression", None)
    assert out.dtype == np.float32 and out.tolist() == [0.5, 2.0]


def test_unknown_problem_type():
    with pytest.raises(DataError, match="single_label, multi_label, regression"):
        labels.check_problem_type("ordinal")
