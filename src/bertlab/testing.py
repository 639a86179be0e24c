"""Tiny stand-ins for tests, benchmarks and docs: a random BERT checkpoint and a toy corpus
that a small model can learn in seconds."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from bertlab.data.tokenize import TOKENIZER_FILES
from bertlab.pretrained import default_checkpoint_dir

POSITIVE = ["great", "wonderful", "moving", "brilliant", "funny", "charming", "superb", "fresh"]
NEGATIVE = ["dull", "boring", "awful", "tedious", "clumsy", "bland", "weak", "messy"]
FILLER = [
    "the",
    "film",
    "story",
    "cast",
    "plot",
    "movie",
    "acting",
    "script",
    "and",
    "a",
    "its",
    "was",
    "with",
    "this",
    "director",
    "scenes",
    "ending",
    "music",
    "characters",
    "really",
]


def make_tiny_checkpoint(
    path: str | Path, max_positions: int = 128, hidden: int = 32, layers: int = 2, seed: int = 0
) -> Path:
    """Save a randomly initialised small BERT with the default model's tokenizer files."""
    import torch
    from transformers import BertConfig, BertModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=max_positions,
    )
    BertModel(config).save_pretrained(path)
    source = default_checkpoint_dir()
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, path / name)
    return path


def shuffled_tokenizer(source: Path, target: Path, seed: int = 0) -> Path:
    """Write into `target` a copy of `source`'s tokenizer files (and config.json) whose
    vocabulary ids are permuted, specials kept: the same file names and format, other token
    ids for the same text."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", *TOKENIZER_FILES):  # a checkpoint dir as data.tokenizer names
        if (source / name).is_file():
            shutil.copy(source / name, target / name)
    words = (target / "vocab.txt").read_text(encoding="utf-8").splitlines()
    plain = [i for i, w in enumerate(words) if not w.startswith("[")]
    moved = plain[:]
    random.Random(seed).shuffle(moved)
    new = list(words)
    for i, j in zip(plain, moved, strict=True):
        new[j] = words[i]
    (target / "vocab.txt").write_text("\n".join(new) + "\n", encoding="utf-8")
    tok = json.loads((target / "tokenizer.json").read_text(encoding="utf-8"))
    tok["model"]["vocab"] = {w: i for i, w in enumerate(new)}
    (target / "tokenizer.json").write_text(json.dumps(tok), encoding="utf-8")
    return target


def make_toy_corpus(
    n: int = 300, seed: int = 0, labels: tuple[str, str] = ("neg", "pos")
) -> pd.DataFrame:
    """Short reviews whose label is given by sentiment words amid filler (learnable fast)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        y = i % 2
        words = list(rng.choice(FILLER, size=rng.integers(4, 20)))
        cue = POSITIVE if y else NEGATIVE
        for _ in range(rng.integers(1, 3)):
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(cue)))
        rows.append({"text": " ".join(words) + f" #{i}", "label": labels[y]})
    return pd.DataFrame(rows)
