"""docs/extending.md example 5, run as written: a new task (ordinal ratings) from its own module."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

import bertlab
from bertlab.tools.evaluate import evaluate
from helpers.inprocess import run_here
from helpers.runs import ROOT, with_epochs
from helpers.trained import write_block

WORDS = {1: "awful dreadful", 2: "fine okay", 3: "superb brilliant"}


def ratings_csv(path) -> None:
    rng = np.random.default_rng(0)
    filler = ["the", "film", "plot", "acting", "was", "really", "quite"]
    rows = []
    for i in range(180):
        rating = int(rng.integers(1, 4))
        words = [*rng.choice(filler, 4), *WORDS[rating].split()]
        rng.shuffle(words)
        rows.append({"text": " ".join(words) + f" {i}", "label": rating})
    pd.DataFrame(rows).to_csv(path, index=False)


def test_example_5_ordinal_task(tmp_path, tiny_model_dir, monkeypatch):
    write_block("my_tasks.py", tmp_path / "pkg")
    assert "data.task=my_tasks.Ordinal" in (ROOT / "docs/extending.md").read_text()
    ratings_csv(tmp_path / "ratings.csv")
    out = tmp_path / "run"
    pkg = str(tmp_path / "pkg")
    # named on the user's own command line: no BERTLAB_TRUSTED_TARGETS (it was needed)
    env = {"PYTHONPATH": os.pathsep.join([pkg, os.environ.get("PYTHONPATH", "")])}
    opts = with_epochs(tiny_model_dir, tmp_path / "ratings.csv", out, tmp_path / "c", epochs=6)
    proc = run_here(
        ROOT / "train.py",
        *opts,
        "data.task=my_tasks.Ordinal",
        "objective.metric=val/mae",
        "objective.mode=min",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    label_map = json.loads((out / "label_map.json").read_text())
    assert label_map["problem_type"] == "ordinal"
    assert list(label_map["id2label"].values()) == ["1", "2", "3"]
    record = json.loads((out / "metrics.json").read_text())
    assert {"test/acc", "test/mae"} <= set(record["test"])

    monkeypatch.syspath_prepend(pkg)
    monkeypatch.setenv("BERTLAB_TRUSTED_TARGETS", "my_tasks.")
    predictor = bertlab.load(out)
    assert predictor.model.network.classifier.out_features == 2  # K - 1 thresholds
    texts = ["superb brilliant film", "awful dreadful plot", "fine okay acting"]
    probs = predictor.predict_proba(texts)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1, atol=1e-6)
    assert set(predictor.predict(texts)) <= {"1", "2", "3"}
    assert evaluate(out)["metrics"] == record["test"]
    # without trusting the module, a run that names it is refused, not imported
    monkeypatch.delenv("BERTLAB_TRUSTED_TARGETS")
    sys.modules.pop("my_tasks", None)
    with pytest.raises(bertlab.errors.ConfigError, match="BERTLAB_TRUSTED_TARGETS"):
        bertlab.load(out)
    copied = shutil.copytree(out, tmp_path / "copied")  # a run dir someone sent
    with pytest.raises(bertlab.errors.ConfigError, match="BERTLAB_TRUSTED_TARGETS"):
        evaluate(copied)
    assert "my_tasks" not in sys.modules  # refused before importing it
