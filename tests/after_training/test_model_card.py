"""The exported directory's README.md describes the run, and its usage snippet runs as written."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import bertlab
from bertlab.tools.export import main as export_main
from helpers.trained import trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir, tiny_csv):
    return trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("card") / "hf"
    assert export_main([str(run), str(out)]) == 0
    return out


def python_blocks(card: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", card, re.S)


def test_card_describes_task_labels_data_splits_and_metrics(run, exported, tiny_csv):
    card = (exported / "README.md").read_text()
    front = card.split("---\n")[1]
    assert "library_name: transformers" in front and "pipeline_tag: text-classification" in front
    assert "single-label classification" in card
    assert "0 `neg`, 1 `pos`" in card
    assert f"path `{tiny_csv.name}`" in card and "{" not in card.split("## Data")[1].split("##")[0]
    manifest = json.loads((run / "split_manifest.json").read_text())
    for name, split in manifest["splits"].items():
        assert f"| {name} | {split['size']} |" in card
        assert split["ids_sha256"] in card
    metrics = json.loads((run / "metrics.json").read_text())
    val, test = metrics["best_val"]["val/acc"], metrics["test"]["test/acc"]
    assert f"| acc | {val:.4f} | {test:.4f} |" in card
    for setting in ("| learning rate | `0.01` |", "| batch size | `32` |", "| seed (split seed) |"):
        assert setting in card
    assert "| max_length | `128` |" in card and "| precision | `32-true` |" in card
    assert "truncation=True, max_length=128" in card


def test_card_snippet_runs_and_gives_bertlabs_predictions(run, exported, monkeypatch):
    (snippet,) = python_blocks((exported / "README.md").read_text())
    assert 'model="."' in snippet  # relative to the export dir, where the card lies
    monkeypatch.chdir(exported)
    namespace: dict = {}
    exec(snippet, namespace)  # as a user would paste it
    theirs = np.array(
        [
            [{d["label"]: d["score"] for d in row}[n] for n in ("neg", "pos")]
            for row in namespace["predictions"]
        ]
    )
    ours = bertlab.load(run).predict_proba(namespace["texts"])
    assert np.allclose(ours, theirs, atol=1e-5)


def test_card_has_no_local_paths_and_says_use_limits_and_license(exported, tmp_path_factory):
    card = (exported / "README.md").read_text()
    assert str(tmp_path_factory.getbasetemp()) not in card  # no absolute local path anywhere
    section = card.split("## Intended use and limitations")[1].split("\n## ")[0]
    assert "Intended use:" in section and "Limitations:" in section
    assert "license unknown (see the base model's own card)" in section  # a local tiny model


def test_the_default_base_models_license_is_named():
    from bertlab.tools.model_card import _license

    assert _license("default") == "apache-2.0"  # the packaged all-MiniLM-L6-v2 weights
