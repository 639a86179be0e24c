"""Shared fixtures: a tiny random BERT checkpoint and small labelled files (plain helper
functions are in tests/helpers/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bertlab.testing import make_tiny_checkpoint, make_toy_corpus

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on a network in tests
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, hidden-32 random BERT (max 128 positions) with the default tokenizer."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory) -> Path:
    """300 toy reviews, labels 'neg'/'pos', columns text,label."""
    path = tmp_path_factory.mktemp("data") / "toy.csv"
    make_toy_corpus(300).to_csv(path, index=False)
    return path


@pytest.fixture()
def cache_dir(tmp_path) -> Path:
    """A fresh tokenization cache directory."""
    return tmp_path / "cache"
