"""k-fold assignment: disjoint, complete, stratified, seeded; the test split is left alone."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from bertlab.data.folds import assign_folds, fold_split
from bertlab.data.split import split_indices
from bertlab.errors import ConfigError

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}
LABELS = np.array([0] * 700 + [1] * 250 + [2] * 50)


def folds_of(k: int, seed: int = 0, strata: np.ndarray | None = LABELS) -> tuple[dict, list[dict]]:
    base = split_indices(len(LABELS), RATIOS, seed=1, strata=LABELS)
    return base, [fold_split(base, (i, k), seed, strata) for i in range(k)]


@pytest.mark.parametrize("k", [2, 3, 5, 7])
def test_folds_are_disjoint_cover_the_pool_once_and_keep_the_test_split(k):
    base, folds = folds_of(k)
    pool = np.sort(np.concatenate([base["train"], base["validation"]]))
    held_out = np.concatenate([f["validation"] for f in folds])
    assert np.array_equal(np.sort(held_out), pool)  # each pooled row validated exactly once
    assert len(np.unique(held_out)) == len(held_out)
    for fold in folds:
        assert np.array_equal(fold["test"], base["test"])
        assert not np.isin(fold["validation"], base["test"]).any()
        assert not np.isin(fold["train"], base["test"]).any()
        assert np.array_equal(np.sort(np.concatenate([fold["train"], fold["validation"]])), pool)
    sizes = [len(f["validation"]) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_folds_are_stratified():
    base, folds = folds_of(5)
    pool = np.concatenate([base["train"], base["validation"]])
    for fold in folds:
        counts = np.bincount(LABELS[fold["validation"]], minlength=3)
        expected = np.bincount(LABELS[pool], minlength=3) / 5
        assert np.all(np.abs(counts - expected) <= 1), (counts, expected)


def test_unstratified_folds_still_balance_sizes():
    labels = np.zeros(103, np.int64)
    folds = assign_folds(103, 4, seed=0)
    assert sorted(np.bincount(folds).tolist()) == [25, 26, 26, 26]
    stratified = assign_folds(103, 4, seed=0, strata=labels)
    assert sorted(np.bincount(stratified).tolist()) == [25, 26, 26, 26]


def test_same_seed_same_folds_other_seed_other_folds():
    a, b, c = (assign_folds(len(LABELS), 5, s, LABELS) for s in (3, 3, 4))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("fold", [(5, 5), (-1, 5), (0, 1)])
def test_bad_fold_is_refused(fold):
    base = split_indices(len(LABELS), RATIOS, seed=1, strata=LABELS)
    with pytest.raises(ConfigError, match="k >= 2"):
        fold_split(base, fold, 0)


def test_datamodule_folds_leave_the_test_split_closed(tiny_model_dir, tiny_csv, cache_dir, caplog):
    from bertlab.data import LocalFile, TextClassificationDataModule

    def datamodule(fold: tuple[int, int] | None) -> TextClassificationDataModule:
        dm = TextClassificationDataModule(
            LocalFile(path=str(tiny_csv)),
            tokenizer=str(tiny_model_dir),
            cache_dir=str(cache_dir),
            fold=fold,
            fold_seed=7,
        )
        dm.setup()
        return dm

    caplog.set_level(logging.INFO, logger="bertlab")
    base = datamodule(None).indices
    folds = [datamodule((i, 3)) for i in range(3)]
    for dm in folds:
        list(dm.val_dataloader())
        assert np.array_equal(dm.indices["test"], base["test"])
        assert dm.split_manifest()["splits"]["test"]["size"] == len(base["test"])
    held_out = np.concatenate([dm.indices["validation"] for dm in folds])
    pool = np.concatenate([base["train"], base["validation"]])
    assert sorted(held_out.tolist()) == sorted(pool.tolist())
    assert "Building the test dataloader" not in caplog.text
    assert "Fold 2 of 3 (seed 7)" in caplog.text
