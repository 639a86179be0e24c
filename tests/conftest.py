"""Shared fixtures: a tiny random BERT checkpoint and small labelled files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bertlab.testing import make_tiny_checkpoint, make_toy_corpus

ROOT = Path(__file__).resolve().parents[1]
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


def run_train(
    *overrides: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    """Run `python train.py <overrides>` in a subprocess; return the finished process."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *overrides],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tiny_overrides(model_dir: Path, data_file: Path, out_dir: Path, cache: Path) -> list[str]:
    """Overrides for a fast run on the tiny model and toy data."""
    return [
        f"model.pretrained={model_dir}",
        "data=csv",
        f"data.source.path={data_file}",
        f"hydra.run.dir={out_dir}",
        f"paths.cache_dir={cache}",
        "trainer.max_epochs=3",
        "model.optimizer.lr=1e-2",
        "print_config=false",
        "~callbacks.rich_progress_bar",
        "trainer.enable_model_summary=false",
        "trainer.log_every_n_steps=5",
        "trainer.precision=32-true",
    ]  # exact comparisons; bf16 is covered by the real run
