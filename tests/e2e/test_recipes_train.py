"""Every training recipe through train.py, without `+` (moved out of tests/unit/test_recipes.py:
it trains)."""

from __future__ import annotations

import json

from bertlab.testing import make_toy_corpus
from helpers.inprocess import train_in_process
from helpers.runs import tiny_overrides


def test_train_py_takes_every_recipe_without_plus(tiny_model_dir, tmp_path):
    corpus = make_toy_corpus(300)
    skewed = tmp_path / "skewed.csv"  # 150 neg, 50 pos
    corpus[(corpus.label == "neg") | (corpus.index < 100)].to_csv(skewed, index=False)
    out = tmp_path / "run"
    done = train_in_process(
        *tiny_overrides(tiny_model_dir, skewed, out, tmp_path / "cache"),
        "debug=fast_dev_run",
        "model.loss.class_weights=balanced",
        "model.loss.label_smoothing=0.1",
        "model.optimizer_groups.layer_decay=0.8",
        "model.freeze.embeddings=true",
        "model.freeze.layers=1",
        "trainer.accumulate_grad_batches=2",
    )
    manifest = json.loads((out / "split_manifest.json").read_text())
    train = manifest["splits"]["train"]["label_counts"]
    n = train["neg"] + train["pos"]
    assert n < 200  # the train split, not the whole corpus
    weights = f"neg {n / (2 * train['neg']):.4g}, pos {n / (2 * train['pos']):.4g}"
    logs = done.log  # train.log: the lines the console shows
    assert f"Class weights (balanced, from the train split's label counts): {weights}" in logs
    assert "Learning rates: layer.1 0.008, head 0.01" in logs  # embeddings, layer 0 frozen
