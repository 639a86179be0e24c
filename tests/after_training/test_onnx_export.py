"""`export --onnx`: model.onnx gives the PyTorch model's logits for any batch size and length."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import torch

import bertlab
from bertlab.tools.export import main as export_main
from helpers.inprocess import train_in_process
from helpers.runs import ROOT, with_epochs
from helpers.trained import trained_run

NAMES = ["input_ids", "attention_mask", "token_type_ids"]
TEXTS = [
    "a great film",
    "dull",
    "an uneven, overlong but often funny and warm comedy about two brothers",
    "tedious " * 300,  # cut at max_length
    "brilliant",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir, tiny_csv):
    return trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "hf"
    assert export_main([str(run), str(out), "--onnx"]) == 0
    return out


def onnx_and_torch_logits(out, predictor, texts):
    """Logits of model.onnx and of the PyTorch network on one padded batch of `texts`."""
    batch = predictor.tokenizer(
        texts,
        padding=True,
        truncation=True,
        max_length=predictor.max_length,
        return_token_type_ids=True,
        return_tensors="np",
    )
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    (ours,) = session.run(["logits"], {name: batch[name] for name in NAMES})
    with torch.no_grad():
        theirs = predictor.model({name: torch.from_numpy(batch[name]) for name in NAMES})
    return ours, theirs.numpy()


def test_onnx_graph_has_named_inputs_and_dynamic_axes(exported):
    session = onnxruntime.InferenceSession(str(exported / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == NAMES
    assert [o.name for o in session.get_outputs()] == ["logits"]
    for tensor in session.get_inputs():
        assert all(isinstance(dim, str) for dim in tensor.shape), tensor.shape  # symbolic
    assert isinstance(session.get_outputs()[0].shape[0], str)


@pytest.mark.parametrize("texts", [TEXTS[:2], TEXTS], ids=["2x4", "5x128"])
def test_onnx_logits_equal_torch(run, exported, texts):
    predictor = bertlab.load(run, device="cpu")
    ours, theirs = onnx_and_torch_logits(exported, predictor, texts)
    assert ours.shape == (len(texts), 2)
    assert np.abs(ours - theirs).max() < 1e-4


def test_card_shows_both_snippets_and_the_onnx_one_runs(run, exported, monkeypatch):
    card = (exported / "README.md").read_text()
    monkeypatch.chdir(exported)  # the snippets name the export dir relatively
    assert "- onnx" in card.split("---")[1]
    _, onnx_code = re.findall(r"```python\n(.*?)```", card, re.S)
    namespace: dict = {}
    exec(onnx_code, namespace)
    expected = bertlab.load(run, device="cpu").predict_proba(namespace["texts"])
    assert np.allclose(namespace["scores"], expected, atol=1e-5)


def test_missing_onnx_packages_are_one_clear_error(run, tmp_path):
    code = (
        "import sys; sys.modules['onnxscript'] = None; from bertlab.tools.export import main; "
        f"raise SystemExit(main([{str(run)!r}, {str(tmp_path / 'hf')!r}, '--onnx']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "pip install 'bertlab[onnx]'" in proc.stderr
    assert not (tmp_path / "hf").exists()


@pytest.mark.slow
def test_mean_pooling_head_exports_as_onnx_only(tmp_path, tiny_model_dir, tiny_csv, monkeypatch):
    run = tmp_path / "run"
    train_in_process(
        "model=minilm_mean", *with_epochs(tiny_model_dir, tiny_csv, run, tmp_path / "c", epochs=1)
    )
    out = tmp_path / "onnx"
    assert export_main([str(run), str(out), "--onnx"]) == 0
    assert not (out / "model.safetensors").exists() and not (out / "config.json").exists()
    predictor = bertlab.load(run, device="cpu")
    ours, theirs = onnx_and_torch_logits(out, predictor, TEXTS)
    assert np.abs(ours - theirs).max() < 1e-4
    card = (out / "README.md").read_text()
    assert "library_name: onnx" in card and "PooledNetwork" in card
    (snippet,) = re.findall(r"```python\n(.*?)```", card, re.S)
    monkeypatch.chdir(out)
    exec(snippet, {})
