"""Tasks: label encodings, outputs and the config name per problem type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bertlab.errors import ConfigError, DataError
from bertlab.tasks import MultiLabel, Regression, SingleLabel, Task, get_task, register_task


def test_string_and_int_labels_are_sorted_naturally():
    task = SingleLabel()
    assert task.label_names(pd.Series(["pos", "neg", "pos"]), None) == ["neg", "pos"]
    assert task.label_names(pd.Series([10, 2, 1]), None) == ["1", "2", "10"]
    assert task.encode(pd.Series([10, 2, 1]), ["1", "2", "10"], None).tolist() == [2, 1, 0]


def test_multi_label_multi_hot():
    task, series = MultiLabel(), pd.Series(["a,b", "c", "b"])
    names = task.label_names(series, ",")
    assert names == ["a", "b", "c"]
    encoded = task.encode(series, names, ",")
    assert encoded.tolist() == [[1, 1, 0], [0, 0, 1], [0, 1, 0]]
    assert task.label_counts(encoded, names) == {"a": 1, "b": 2, "c": 1}


def test_multi_label_strings_need_a_separator():
    with pytest.raises(DataError, match="data.label_separator"):
        MultiLabel().label_names(pd.Series(["a,b"]), None)


def test_regression_values():
    out = Regression().encode(pd.Series([0.5, 2]), [], None)
    assert out.dtype == np.float32 and out.tolist() == [0.5, 2.0]
    assert Regression().num_labels([]) == 1


def test_outputs_per_task():
    logits = torch.tensor([[2.0, -2.0], [-1.0, 3.0]])
    single = SingleLabel().scores(logits).numpy()
    assert np.allclose(single.sum(1), 1) and SingleLabel().decode(single, ["a", "b"]) == ["a", "b"]
    multi = MultiLabel().scores(logits).numpy()
    assert MultiLabel().decode(multi, ["a", "b"], 0.5) == [["a"], ["b"]]
    table = MultiLabel().table(multi, ["a", "b"], 0.5, "|")
    assert table["predicted_label"].tolist() == ["a", "b"] and "prob_b" in table


def test_unknown_task_names_the_choices():
    with pytest.raises(ConfigError, match="single_label, multi_label, regression"):
        get_task("ordinal")


def test_an_untrusted_class_path_from_a_run_is_refused_before_import(monkeypatch):
    monkeypatch.delenv("BERTLAB_TRUSTED_TARGETS", raising=False)
    with pytest.raises(ConfigError, match="BERTLAB_TRUSTED_TARGETS"):
        get_task("os.system", origin="run/config.yaml")
    with pytest.raises(ConfigError, match="not a subclass of bertlab.tasks.Task"):
        get_task("os.system")  # your own command line: imported, then refused as no Task


def test_registered_task_is_selected_by_name():
    class Binary(SingleLabel):
        name = "binary_test_task"

    register_task(Binary)
    assert isinstance(get_task("binary_test_task"), Binary)
    assert isinstance(get_task(Binary()), Task)
