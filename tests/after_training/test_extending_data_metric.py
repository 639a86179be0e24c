"""docs/extending.md examples 3 and 4, run as written: a new data source, an extra metric."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import bertlab
from bertlab.tools.evaluate import run_datamodule
from helpers.inprocess import run_here
from helpers.runs import ROOT, with_epochs
from helpers.trained import write_block


def test_example_3_new_data_source(tmp_path, tiny_model_dir, tiny_csv):
    write_block("my_sources.py", tmp_path / "pkg")
    write_block("configs/data/folders.yaml", tmp_path / "conf")
    root = tmp_path / "reviews"
    table = pd.read_csv(tiny_csv).head(120)
    for i, row in table.iterrows():
        (root / row["label"]).mkdir(parents=True, exist_ok=True)
        (root / row["label"] / f"{i:04d}.txt").write_text(row["text"], encoding="utf-8")
    assert (
        "python train.py data=folders data.source.root=" in (ROOT / "docs/extending.md").read_text()
    )
    out = tmp_path / "run"
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "pkg"), os.environ.get("PYTHONPATH", "")])}
    proc = run_here(
        ROOT / "train.py",
        "--config-dir",
        str(tmp_path / "conf"),
        "data=folders",
        f"data.source.root={root}",
        *with_epochs(
            tiny_model_dir, tiny_csv, out, tmp_path / "c", "data", "data.source.path", epochs=1
        ),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    labels = json.loads((out / "label_map.json").read_text())["id2label"]
    assert labels == {"0": "neg", "1": "pos"}
    splits = json.loads((out / "split_manifest.json").read_text())["splits"]
    assert sum(s["size"] for s in splits.values()) == 120


def test_example_4_extra_metric(tmp_path, tiny_model_dir, tiny_csv):
    write_block("configs/model/minilm_balanced.yaml", tmp_path / "conf")
    out = tmp_path / "run"
    proc = run_here(
        ROOT / "train.py",
        "--config-dir",
        str(tmp_path / "conf"),
        "model=minilm_balanced",
        "objective.metric=val/balanced_acc",
        *with_epochs(tiny_model_dir, tiny_csv, out, tmp_path / "c", epochs=2),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((out / "metrics.json").read_text())
    assert record["objective"] == "val/balanced_acc" and "val/balanced_acc" in record["best_val"]
    predictor = bertlab.load(out)
    data = run_datamodule(out).dataset("test")
    truth = data.corpus.labels[data.rows]
    loader, order = predictor.loader(data)
    texts_pred = np.zeros(len(truth), int)
    for rows, logits in zip(
        order, predictor.trainer().predict(predictor.model, loader), strict=True
    ):
        texts_pred[rows] = logits.argmax(-1).numpy()
    recall = np.mean([np.mean(texts_pred[truth == c] == c) for c in (0, 1)])
    assert record["test"]["test/balanced_acc"] == pytest.approx(recall, abs=1e-6)
