"""`ckpt_path=` from another run (issue 20.8): metrics.json describes the checkpoint it names
(before, best_value / best_epoch came from the source run's history carried in the
checkpoint, while best_checkpoint named one of the new run's files)."""

from __future__ import annotations

import json

import pytest
import torch

from helpers.distributed import fast
from helpers.inprocess import train_in_process

pytestmark = pytest.mark.slow


def test_record_describes_the_checkpoint_it_names(tmp_path, tiny_model_dir, tiny_csv):
    source, overrides = fast(tmp_path, "source", tiny_model_dir, tiny_csv, tmp_path / "cache")
    train_in_process(*overrides)
    start = next((source / "checkpoints").glob("epoch00-*.ckpt"), None) or (
        source / "checkpoints" / "last.ckpt"
    )
    new, overrides = fast(
        tmp_path,
        "new",
        tiny_model_dir,
        tiny_csv,
        tmp_path / "cache",
        f"ckpt_path={start}",
        "trainer.max_epochs=3",
    )
    train_in_process(*overrides)
    record = json.loads((new / "metrics.json").read_text())
    named = torch.load(new / record["best_checkpoint"], map_location="cpu", weights_only=True)
    assert record["best_epoch"] == named["epoch"]
    assert record["best_val"]["step"] == named["global_step"]
    assert record["best_value"] == record["best_val"][record["objective"]]
