"""Shared fixtures: a tiny random BERT checkpoint and small labelled files (plain helper
functions are in tests/helpers/)."""

from __future__ import annotations

import os
from pathlib import Path

# One compute thread per process, set before torch is imported (and inherited by the
# subprocesses the tests start: DDP ranks, bench sides, train.py): on 2 cores, a second
# thread in each of several processes (pytest-xdist's workers, a test's subprocesses) only
# oversubscribes them, and the tiny model gains nothing from it.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on a network in tests
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from bertlab.testing import make_tiny_checkpoint, make_toy_corpus  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # were torch imported before


# Folders whose tests train a model or start processes: all marked `slow`, so that
# `make test-fast` (-m "not slow") runs the rest in a fraction of the time. Elsewhere
# (tests/unit, tests/sweep) such a test carries the mark itself.
SLOW_FOLDERS = {"after_training", "bench", "distributed", "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


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
