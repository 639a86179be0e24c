"""The split manifest pins (text, label) per split (issue 20.1): relabelled examples with the
same texts are refused by the run checks that evaluate and resume= use, naming the split and
how many labels changed."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bertlab.data import LocalFile, TextClassificationDataModule
from bertlab.errors import DataError
from bertlab.testing import make_toy_corpus
from bertlab.train.run_dir import RunDir

MANIFEST = RunDir.MANIFEST


def check_same_split(run, current) -> None:
    RunDir(run).check_same_split(current)


def _datamodule(train, test, cache_dir) -> TextClassificationDataModule:
    validation = train.with_name("validation.csv")
    files = {"train": str(train), "validation": str(validation), "test": str(test)}
    source = LocalFile(path=None, files=files)
    return TextClassificationDataModule(
        source,
        tokenizer="default",
        cache_dir=str(cache_dir),
        split={"train": 0.8, "validation": 0.1, "test": 0.1},
    )


@pytest.fixture()
def files(tmp_path):
    corpus = make_toy_corpus(120)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    corpus.iloc[:80].to_csv(train, index=False)
    corpus.iloc[80:90].to_csv(tmp_path / "validation.csv", index=False)
    corpus.iloc[90:].to_csv(test, index=False)
    return train, test


def _flip(path, rows):
    table = pd.read_csv(path)
    for row in rows:
        table.loc[row, "label"] = "pos" if table.loc[row, "label"] == "neg" else "neg"
    table.to_csv(path, index=False)


def test_relabelled_test_rows_are_refused_naming_the_split_and_count(files, tmp_path):
    train, test = files
    run = tmp_path / "run"
    run.mkdir()
    (run / MANIFEST).write_text(
        json.dumps(_datamodule(train, test, tmp_path / "c1").split_manifest())
    )
    # the same label counts (3 pos→neg, 2 neg→pos would not be; flip pairs to keep them)
    table = pd.read_csv(test)
    pos = table.index[table.label == "pos"][:2].tolist()
    neg = table.index[table.label == "neg"][:2].tolist()
    _flip(test, pos + neg)
    now = _datamodule(train, test, tmp_path / "c2").split_manifest()
    with pytest.raises(DataError, match=r"test: 4 of 30 labels changed"):
        check_same_split(run, now)


def test_relabelled_train_rows_are_refused_too(files, tmp_path):
    train, test = files
    run = tmp_path / "run"
    run.mkdir()
    (run / MANIFEST).write_text(
        json.dumps(_datamodule(train, test, tmp_path / "c1").split_manifest())
    )
    _flip(train, [0, 5, 7])
    now = _datamodule(train, test, tmp_path / "c2").split_manifest()
    with pytest.raises(DataError, match=r"train: 3 of 80 labels changed"):
        check_same_split(run, now)


def test_an_unchanged_file_passes(files, tmp_path):
    train, test = files
    run = tmp_path / "run"
    run.mkdir()
    (run / MANIFEST).write_text(
        json.dumps(_datamodule(train, test, tmp_path / "c1").split_manifest())
    )
    check_same_split(run, _datamodule(train, test, tmp_path / "c2").split_manifest())
