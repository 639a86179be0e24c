"""The exported Hugging Face directory gives the same predictions through transformers.pipeline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from after_training_helpers import trained_run
from transformers import pipeline

import bertlab
from bertlab.export import main as export_main


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir, tiny_csv):
    return trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)


def test_pipeline_matches_bertlab(run, tmp_path, tiny_csv):
    assert export_main([str(run), str(tmp_path / "hf")]) == 0
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    assert config["label2id"] == {"neg": 0, "pos": 1}
    texts = pd.read_csv(tiny_csv)["text"].tolist()[:30] + ["a great film", "tedious " * 400]
    ours = bertlab.load(run).predict_proba(texts)
    pipe = pipeline("text-classification", model=str(tmp_path / "hf"), device="cpu")
    out = pipe(texts, top_k=None, truncation=True)
    theirs = np.array(
        [[{d["label"]: d["score"] for d in row}[n] for n in ("neg", "pos")] for row in out]
    )
    assert np.allclose(ours, theirs, atol=1e-5)
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    assert len(set(ours.argmax(1))) == 2  # a trained model: both classes predicted
