"""A run keeps its text → batch encoding (encoding.json, with the tokenizer files' sha256);
prediction and evaluation use it and refuse a tokenizer whose files changed."""

from __future__ import annotations

import json
import shutil

import pytest
from omegaconf import OmegaConf

import bertlab
from bertlab.data.encoding import Encoding
from bertlab.data.tokenize import tokenizer_fingerprint
from bertlab.testing import shuffled_tokenizer
from bertlab.tools.evaluate import main as evaluate_main
from bertlab.tools.loading import run_encoding
from bertlab.tools.predict import main as predict_main
from helpers.trained import trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir, tiny_csv):
    return trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)


def test_the_run_records_the_datamodules_encoding_pinned(run, tiny_model_dir):
    recorded = json.loads((run / "encoding.json").read_text())
    cfg = OmegaConf.load(run / "config.yaml")
    expected = Encoding.from_config(cfg.data)
    assert recorded["tokenizer_sha256"] == tokenizer_fingerprint(tiny_model_dir)
    assert Encoding.from_json(recorded) == expected.pinned()
    assert bertlab.load(run).encoding == expected.pinned()


def test_encoding_json_round_trips():
    enc = Encoding("x", 64, pad_to_multiple_of=[16, 32, 64], tokenizer_sha256="ab")
    assert Encoding.from_json(json.loads(json.dumps(enc.to_json()))) == enc
    assert enc.padding("cpu") == (16, 32, 64)
    assert Encoding(max_length=64).padding("cpu") is None


def test_a_changed_tokenizer_is_refused(run, tiny_model_dir, tiny_csv, tmp_path, capsys):
    """The tokenizer directory's vocabulary is shuffled after training: predict and evaluate
    exit 2 naming the directory (they gave other outputs, exit 0)."""
    tok = tmp_path / "tok"
    shutil.copytree(tiny_model_dir, tok)
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    cfg = OmegaConf.load(copy / "config.yaml")
    cfg.data.tokenizer = str(tok)
    OmegaConf.save(cfg, copy / "config.yaml")
    enc = json.loads((copy / "encoding.json").read_text())
    (copy / "encoding.json").write_text(json.dumps({**enc, "tokenizer": str(tok)}))
    texts = tmp_path / "texts.csv"
    shutil.copy(tiny_csv, texts)
    assert predict_main([str(copy), str(texts), "-o", str(tmp_path / "a.csv")]) == 0
    assert run_encoding(copy).tokenizer_sha256 == tokenizer_fingerprint(tok)

    shuffled_tokenizer(tiny_model_dir, tok)  # the same files, other ids
    capsys.readouterr()
    assert predict_main([str(copy), str(texts), "-o", str(tmp_path / "b.csv")]) == 2
    assert "tokenizer files in" in capsys.readouterr().err
    assert not (tmp_path / "b.csv").exists()
    assert evaluate_main([str(copy)]) == 2
    assert "tokenizer files in" in capsys.readouterr().err
