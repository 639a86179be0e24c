"""Tokenization as the seed shows it, and the on-disk cache (miss, hit, key)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from bertlab.data import LocalFile, TextClassificationDataModule
from bertlab.errors import DataError

SEED_IDS = [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102]


def datamodule(path, cache_dir, **kw) -> TextClassificationDataModule:
    source = LocalFile(path=str(path), text_pair_column=kw.pop("pair", None))
    return TextClassificationDataModule(source, tokenizer="default", cache_dir=str(cache_dir), **kw)


def test_seed_sentence_tokenizes_like_the_bert_fast_tokenizer(tmp_path, cache_dir):
    path = tmp_path / "seed.csv"
    text = "The quick brown fox jumps over the lazy dog."
    pd.DataFrame({"text": [text, "another one"] * 10, "label": [0, 1] * 10}).assign(
        text=lambda d: d.text + [f" {i}" if i else "" for i in range(20)]
    ).to_csv(path, index=False)
    dm = datamodule(
        path,
        cache_dir,
        split={"train": 0.5, "validation": 0.25, "test": 0.25},
        pad_to_multiple_of=8,
    )
    dm.setup()
    corpus = dm.corpus
    assert corpus.input_ids[corpus.offsets[0] : corpus.offsets[1]].tolist() == SEED_IDS
    assert corpus.token_type_ids[: len(SEED_IDS)].tolist() == [0] * len(SEED_IDS)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert batch["input_ids"].shape[1] % 8 == 0


def test_cache_hit_tokenizes_nothing_and_key_follows_max_length(tiny_csv, cache_dir, caplog):
    caplog.set_level(logging.INFO, logger="bertlab")
    first = datamodule(tiny_csv, cache_dir)
    first.setup()
    assert "cache miss" in caplog.text
    caplog.clear()
    second = datamodule(tiny_csv, cache_dir)
    second.setup()
    assert "cache hit" in caplog.text and "tokenized nothing" in caplog.text
    assert "Tokenized" not in caplog.text
    assert second.cache_path == first.cache_path
    assert (second.corpus.input_ids == first.corpus.input_ids).all()
    caplog.clear()
    third = datamodule(tiny_csv, cache_dir, max_length=16)
    third.setup()
    assert "cache miss" in caplog.text and third.cache_path != first.cache_path
    assert third.corpus.lengths.max() <= 16


def test_sentence_pairs_get_token_type_ids_0_and_1(tmp_path, cache_dir):
    path = tmp_path / "pairs.csv"
    pd.DataFrame(
        {
            "text": [f"a premise {i}" for i in range(30)],
            "b": [f"a hypothesis {i}" for i in range(30)],
            "label": [i % 2 for i in range(30)],
        }
    ).to_csv(path, index=False)
    dm = datamodule(path, cache_dir, pair="b")
    dm.setup()
    types = dm.corpus.token_type_ids[dm.corpus.offsets[0] : dm.corpus.offsets[1]].tolist()
    assert types[0] == 0 and types[-1] == 1 and sorted(set(types)) == [0, 1]


def test_manifest_is_identical_across_datamodules(tiny_csv, cache_dir):
    a, b = datamodule(tiny_csv, cache_dir), datamodule(tiny_csv, cache_dir)
    a.setup()
    b.setup()
    assert a.split_manifest() == b.split_manifest()
    ids = {k: v["ids_sha256"] for k, v in a.split_manifest()["splits"].items()}
    assert len(set(ids.values())) == 3


def test_label_in_provided_test_that_train_never_saw(tmp_path, cache_dir):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(20)], "label": ["a", "b"] * 10}).to_csv(
        train, index=False
    )
    pd.DataFrame({"text": ["x", "y"], "label": ["a", "zebra"]}).to_csv(test, index=False)
    source = LocalFile(files={"train": str(train), "test": str(test)})
    dm = TextClassificationDataModule(source, cache_dir=str(cache_dir))
    with pytest.raises(DataError, match="test split has label\\(s\\) \\['zebra'\\]"):
        dm.setup()
