"""train.py's pipeline end to end (in this process) on a tiny random BERT and toy data: run dir,
TensorBoard, cache."""

from __future__ import annotations

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from helpers.inprocess import train_in_process
from helpers.runs import tiny_overrides


@pytest.fixture(scope="module")
def two_runs(tiny_model_dir, tiny_csv, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    cache = base / "cache"
    # mean pooling: the random tiny model's [CLS] head sits on the loss plateau (0.693) for
    # most of 3 epochs at most seeds; averaged tokens find the toy cue words within 2
    head = "model.head=mean"
    first = train_in_process(*tiny_overrides(tiny_model_dir, tiny_csv, base / "run1", cache), head)
    second = train_in_process(*tiny_overrides(tiny_model_dir, tiny_csv, base / "run2", cache), head)
    return base, first, second


def test_run_succeeds_and_records_everything(two_runs):
    base, first, _ = two_runs  # a failed run raised in the fixture
    run = base / "run1"
    assert first.dir == run
    for name in (
        "config.yaml",
        "split_manifest.json",
        "label_map.json",
        "metrics.json",
        "checkpoints/last.ckpt",
        ".hydra/config.yaml",
    ):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["objective"] == "val/acc"
    assert metrics["best_value"] == max(metrics["best_val"]["val/acc"], metrics["best_value"])
    assert metrics["best_value"] > 0.7  # the toy task is learnable
    assert 0.0 <= metrics["test"]["test/acc"] <= 1.0
    assert json.loads((run / "label_map.json").read_text())["id2label"] == {"0": "neg", "1": "pos"}
    assert not (run / "FAILED.txt").exists()


def test_tensorboard_has_scalars_and_hparams_with_best_val(two_runs):
    base, _, _ = two_runs
    events = EventAccumulator(str(base / "run1"), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    for tag in (
        "train/loss_step",
        "train/loss",
        "val/acc",
        "val/f1",
        "val/mcc",
        "val/auroc",
        "test/acc",
        "hp/best_val/acc",
    ):
        assert tag in scalars, (tag, scalars)
    assert any(t.startswith("train/lr") for t in scalars)
    best = json.loads((base / "run1" / "metrics.json").read_text())["best_value"]
    assert events.Scalars("hp/best_val/acc")[-1].value == pytest.approx(best)
    plugin = events.PluginTagToContent("hparams")
    session = plugin_data_pb2.HParamsPluginData.FromString(plugin["_hparams_/session_start_info"])
    assert "model.optimizer.lr" in session.session_start_info.hparams
    experiment = plugin_data_pb2.HParamsPluginData.FromString(plugin["_hparams_/experiment"])
    assert "hp/best_val/acc" in [m.name.tag for m in experiment.experiment.metric_infos]


def test_rerun_hits_the_tokenization_cache_and_splits_identically(two_runs):
    base, first, second = two_runs
    assert "cache miss" in first.log  # train.log: the lines the console shows
    log = second.log
    assert "cache hit" in log and "tokenized nothing" in log
    manifests = [(base / r / "split_manifest.json").read_bytes() for r in ("run1", "run2")]
    assert manifests[0] == manifests[1]
