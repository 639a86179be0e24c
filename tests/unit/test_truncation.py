"""data.truncation: head / tail / head_tail ids, validation, and the cache key."""

from __future__ import annotations

import pandas as pd
import pytest
from transformers import AutoTokenizer

from bertlab.data import LocalFile, TextClassificationDataModule
from bertlab.data.tokenize import tokenize
from bertlab.data.truncation import Truncation
from bertlab.errors import ConfigError
from bertlab.pretrained import resolve_pretrained

LONG = " ".join(f"word{i} and the story number {i}" for i in range(60))
MAX = 32


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(resolve_pretrained("default")))


def cut_ids(tokenizer, truncation: Truncation, text: str = LONG) -> list[int]:
    ids, offsets, types = tokenize(tokenizer, [text], None, MAX, truncation=truncation)
    assert offsets.tolist() == [0, len(ids)] and not types.any()
    return ids.tolist()


def test_head_tail_and_head_tail_keep_exactly_the_expected_ids(tokenizer):
    full = tokenizer(LONG)["input_ids"]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert len(full) > 3 * MAX and full[0] == cls and full[-1] == sep
    assert cut_ids(tokenizer, Truncation("head")) == full[: MAX - 1] + [sep]
    assert cut_ids(tokenizer, Truncation("tail")) == [cls] + full[-(MAX - 1) :]
    head_tail = cut_ids(tokenizer, Truncation("head_tail", head_tokens=10))
    assert head_tail == full[:10] + full[-(MAX - 10) :]
    assert len(head_tail) == MAX and head_tail[0] == cls and head_tail[-1] == sep
    assert cut_ids(tokenizer, Truncation("chunks", chunk_stride=8)) == full


def test_short_texts_are_kept_whole_by_every_strategy(tokenizer):
    full = tokenizer("a short text")["input_ids"]
    for strategy in ("head", "tail", "head_tail", "chunks"):
        truncation = Truncation(strategy, head_tokens=10, chunk_stride=8)
        assert cut_ids(tokenizer, truncation, "a short text") == full


@pytest.mark.parametrize(
    ("truncation", "pairs", "key"),
    [
        (Truncation("head_tail", head_tokens=MAX - 2), False, "data.head_tokens"),
        (Truncation("head_tail", head_tokens=0), False, "data.head_tokens"),
        (Truncation("chunks", chunk_stride=MAX - 2), False, "data.chunk_stride"),
        (Truncation("chunks", 10, 8, "median"), False, "data.chunk_pooling"),
        (Truncation("middle"), False, "data.truncation"),
        (Truncation("tail"), True, "text pairs"),
    ],
)
def test_invalid_settings_raise_a_config_error_naming_the_key(truncation, pairs, key):
    with pytest.raises(ConfigError, match=key):
        truncation.check(MAX, pairs)


def test_default_head_tokens_need_max_length_above_130():
    Truncation("head_tail").check(512)
    with pytest.raises(ConfigError, match="data.head_tokens=128"):
        Truncation("head_tail").check(128)


def test_text_pairs_refuse_other_strategies_when_tokenized(tokenizer):
    with pytest.raises(ConfigError, match="text pairs"):
        tokenize(tokenizer, ["a"], ["b"], MAX, truncation=Truncation("chunks"))


def test_cache_key_follows_the_strategy_and_what_shapes_the_ids(tmp_path):
    path = tmp_path / "long.csv"
    pd.DataFrame({"text": [LONG + f" {i}" for i in range(20)], "label": [0, 1] * 10}).to_csv(
        path, index=False
    )

    def key(**kw) -> str:
        dm = TextClassificationDataModule(
            LocalFile(path=str(path)), max_length=MAX, cache_dir=str(tmp_path / "cache"), **kw
        )
        dm.setup()
        return dm.cache_path.name

    keys = {
        "head": key(),
        "tail": key(truncation="tail"),
        "head_tail": key(truncation="head_tail", head_tokens=10),
        "head_tail_12": key(truncation="head_tail", head_tokens=12),
        "chunks": key(truncation="chunks", chunk_stride=8),
    }
    assert len(set(keys.values())) == len(keys)
    # windows are cut when read: their overlap and pooling reuse the entry
    assert key(truncation="chunks", chunk_stride=4, chunk_pooling="max") == keys["chunks"]


def test_config_check_refuses_tail_for_a_text_pair_source_before_any_data_work():
    from omegaconf import OmegaConf

    from bertlab.train.config_checks import check_data

    data = {"batch_size": 8, "eval_batch_size": 8, "max_length": 64, "truncation": "tail"}
    data["task"] = "single_label"
    check_data(OmegaConf.create({**data, "source": {"text_pair_column": None}}))
    with pytest.raises(ConfigError, match="data.truncation=tail is not supported for text pairs"):
        check_data(OmegaConf.create({**data, "source": {"text_pair_column": "b"}}))
