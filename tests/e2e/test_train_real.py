"""The real default: packaged all-MiniLM-L6-v2 weights on Rotten Tomatoes, a short budget."""

from __future__ import annotations

import json

import pytest

from helpers.inprocess import run_here
from helpers.runs import ROOT


@pytest.mark.slow
def test_real_weights_learn_rotten_tomatoes_quickly(tmp_path):
    out = tmp_path / "real"
    proc = run_here(  # train.py's command line, in this process
        ROOT / "train.py",
        f"hydra.run.dir={out}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "print_config=false",
        "~callbacks.rich_progress_bar",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=40",
        "+trainer.limit_val_batches=4",
        "+trainer.limit_test_batches=4",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    manifest = json.loads((out / "split_manifest.json").read_text())
    assert [manifest["splits"][k]["size"] for k in ("train", "validation", "test")] == [
        6826,
        852,
        852,
    ]
    assert manifest["splits"]["test"]["label_counts"] == {"negative": 426, "positive": 426}
    labels = json.loads((out / "label_map.json").read_text())["id2label"]
    assert labels == {"0": "negative", "1": "positive"}  # named, not the package's 0 / 1
    # 40 steps of 32 sentences lift the pretrained encoder well above chance (0.5).
    assert metrics["best_val"]["val/acc"] > 0.65, metrics
    assert metrics["test"]["test/acc"] > 0.65, metrics
