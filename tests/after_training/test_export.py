"""The exported Hugging Face directory gives the same predictions through transformers.pipeline,
appears whole or not at all, replaces a directory only with --force, and is readable as any file
the user writes (umask permissions)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from transformers import pipeline

import bertlab
from bertlab.errors import ModelError, RunDirError
from bertlab.tools.export import export
from bertlab.tools.export import main as export_main
from helpers.inprocess import run_here
from helpers.trained import trained_run


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


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def tool(*args: str) -> subprocess.CompletedProcess:
    """`python -m bertlab.export <args>`, run in this process (`run_here`)."""
    return run_here("bertlab.export", *args)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_every_exported_file_gets_the_umask_permissions(run, tmp_path, umask):
    previous = os.umask(umask)
    try:
        out = export(run, tmp_path / "hf")
    finally:
        os.umask(previous)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"model.safetensors", "tokenizer.json", "README.md"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {
        p.name: 0o666 & ~umask for p in files
    }
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask


def test_non_empty_dir_is_refused_in_one_line(run, tmp_path):
    out = tmp_path / "hf"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    proc = tool(str(run), str(out))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not empty" in lines[0] and "--force" in lines[0], proc.stderr
    assert tree(out) == {"notes.txt": b"mine"}


def test_force_replaces_the_whole_directory(run, tmp_path):
    fresh = export(run, tmp_path / "fresh")
    out = export(run, tmp_path / "hf")
    (out / "vocab.txt").write_text("a stale tokenizer file")
    (out / "sub").mkdir()
    (out / "sub" / "old.bin").write_bytes(b"\0")
    assert export(run, out, force=True) == out
    assert set(tree(out)) == set(tree(fresh))
    assert tree(out)["model.safetensors"] == tree(fresh)["model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "hf"]  # nothing left aside


def test_a_failed_export_leaves_the_target_as_it_was(run, tmp_path):
    broken = Path(shutil.copytree(run, tmp_path / "run"))
    (broken / "metrics.json").write_text('{"best_checkpoint": ')  # truncated: the card fails
    with pytest.raises(RunDirError, match="metrics.json"):  # after the weights were written
        export(broken, tmp_path / "new", checkpoint="last")
    previous = export(run, tmp_path / "hf")
    before = tree(previous)
    with pytest.raises(RunDirError, match="metrics.json"):
        export(broken, previous, checkpoint="last", force=True)
    assert tree(previous) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "run"]


def test_the_run_dir_is_never_a_target(run):
    before = sorted(p.name for p in run.iterdir())
    for target in (run, run.parent):
        with pytest.raises(ModelError, match="contains the run dir"):
            export(run, target, force=True)
    assert sorted(p.name for p in run.iterdir()) == before
