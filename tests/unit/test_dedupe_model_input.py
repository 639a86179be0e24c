"""Duplicates are what the model sees, not raw bytes (issue 20.4): NFC vs NFD, a zero-width
space, case and whitespace variants under an uncased tokenizer are one input."""

from __future__ import annotations

import json
import unicodedata

import pandas as pd
import pytest
from transformers import AutoTokenizer

from bertlab.data.clean import clean, model_input_key

VARIANTS = [
    "Café society is great",
    unicodedata.normalize("NFD", "Café society is great"),
    "Café soc\u200biety is great",
    "CAFÉ SOCIETY IS GREAT",
    "  café   society\tis great ",
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def test_the_variants_are_token_identical(tokenizer):
    """The premise: the uncased tokenizer gives all variants the same ids."""
    assert len({tuple(tokenizer(v)["input_ids"]) for v in VARIANTS}) == 1


def test_variants_of_a_test_text_are_dropped_from_train_and_counted(tokenizer):
    table = pd.DataFrame(
        {
            "text": [VARIANTS[0], "another review", *VARIANTS[1:], "a third one"],
            "label": ["pos", "neg", "pos", "pos", "neg", "pos", "neg"],
            "split": ["test", "test", "train", "train", "train", "validation", "train"],
        }
    )
    out, report = clean(table, max_drop_fraction=0.0, input_key=model_input_key(tokenizer))
    assert out["split"].tolist() == ["test", "test", "train"]
    assert report.duplicates == {"train": 3, "validation": 1}
    json.dumps(report.as_dict())


def test_unsplit_corpus_keeps_one_of_the_variants(tokenizer):
    table = pd.DataFrame({"text": [*VARIANTS, "other"], "label": [1, 1, 1, 0, 1, 0]})
    out, report = clean(table, max_drop_fraction=0.0, input_key=model_input_key(tokenizer))
    assert out["text"].tolist() == [VARIANTS[0], "other"]
    assert report.duplicates == {"unsplit": 4}


def test_a_cased_tokenizer_keeps_case_variants_apart():
    """Without a tokenizer normaliser: Unicode-normalised, zero-width-stripped, whitespace-
    collapsed, case kept."""
    key = model_input_key(None)
    assert key(VARIANTS[0]) == key(VARIANTS[1]) == key(VARIANTS[2])
    assert key(VARIANTS[0]) == key(" Café  society is\ngreat ")
    assert key(VARIANTS[0]) != key(VARIANTS[3])


def test_text_pairs_are_part_of_the_key(tokenizer):
    table = pd.DataFrame(
        {"text": ["a b", "A  B", "a b"], "text_pair": ["c", "C", "d"], "label": [0, 0, 1]}
    )
    out, report = clean(table, max_drop_fraction=0.0, input_key=model_input_key(tokenizer))
    assert out["text_pair"].tolist() == ["c", "d"]
