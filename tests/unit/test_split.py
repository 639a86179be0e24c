"""The three-way split: stratified, seeded, provided splits respected, manifest stable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertlab.data.split import manifest, split_indices
from bertlab.errors import DataError

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def test_stratified_proportions_and_coverage():
    labels = np.array([0] * 700 + [1] * 300)
    parts = split_indices(1000, RATIOS, seed=0, strata=labels)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(1000))
    for name, size in (("validation", 100), ("test", 100)):
        assert len(parts[name]) == size
        assert (labels[parts[name]] == 1).sum() == 30  # 30% of each split is class 1


def test_same_seed_same_split_other_seed_other_split():
    labels = np.arange(200) % 2
    a = split_indices(200, RATIOS, 3, labels)
    b = split_indices(200, RATIOS, 3, labels)
    c = split_indices(200, RATIOS, 4, labels)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])


def test_ratios_must_sum_to_one():
    with pytest.raises(DataError, match="sum to 1: 0.8 \\+ 0.2 \\+ 0.1"):
        split_indices(10, {"train": 0.8, "validation": 0.2, "test": 0.1}, 0)


def test_too_few_examples_of_a_class():
    labels = np.array([0] * 50 + [1] * 2)
    with pytest.raises(DataError, match="Class 'rare' has only 2 example"):
        split_indices(52, RATIOS, 0, labels, names=["common", "rare"])


def test_provided_test_is_kept_and_validation_carved_from_train():
    provided = np.array(["train"] * 90 + ["test"] * 10)
    labels = np.arange(100) % 2
    parts = split_indices(100, RATIOS, 0, labels, provided)
    assert parts["test"].tolist() == list(range(90, 100))
    assert len(parts["validation"]) == 10  # 0.1 / (0.8 + 0.1) of the 90 train rows
    assert set(parts["validation"]).isdisjoint(parts["train"])
    assert max(parts["validation"]) < 90


def test_all_provided_splits_are_kept_as_given():
    provided = np.array(["train"] * 5 + ["validation"] * 3 + ["test"] * 2)
    parts = split_indices(10, RATIOS, 0, np.zeros(10, int), provided)
    assert [len(parts[k]) for k in ("train", "validation", "test")] == [5, 3, 2]


def test_manifest_is_byte_identical_for_same_input():
    labels = np.arange(100) % 2
    ids = np.array([f"{i:016x}" for i in range(100)])
    counts = {k: {"0": 1} for k in ("train", "validation", "test")}

    def dump(seed):
        parts = split_indices(100, RATIOS, seed, labels)
        return json.dumps(manifest(parts, ids, counts, {"seed": seed}), sort_keys=True)

    assert dump(1) == dump(1)
    assert dump(1) != dump(2)
