"""Odd data through `train.py`: a provided test split is tested row for row, and each data
oddity stops the run with one clear message (exit code 2, FAILED.txt, no metrics.json).
train.py's command line runs in this process, but in a real one where the child process's
permissions are the point."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bertlab.testing import make_toy_corpus
from helpers.inprocess import run_here, train_in_process
from helpers.runs import HANG_GUARD_S, ROOT, tiny_overrides


def assert_refused(proc: subprocess.CompletedProcess, run_dir: Path, *phrases: str) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output[-3000:]
    for phrase in phrases:
        assert phrase in output, (phrase, output[-3000:])
    assert "Traceback" not in output
    assert (run_dir / "FAILED.txt").is_file()
    assert not (run_dir / "metrics.json").exists()


@pytest.fixture()
def run(tiny_model_dir, tiny_csv, tmp_path):
    def go(*extra: str, data: Path = tiny_csv, in_process: bool = False):
        """train.py's command line run here (`run_here`: exit code and output), or with
        `in_process` the pipeline itself (it raises on failure)."""
        out = tmp_path / "run"
        overrides = tiny_overrides(tiny_model_dir, data, out, tmp_path / "cache")
        if in_process:
            return train_in_process(*overrides, "trainer.max_epochs=1", *extra), out
        return run_here(ROOT / "train.py", *overrides, "trainer.max_epochs=1", *extra), out

    return go


def test_provided_test_split_is_tested_row_for_row(run, tmp_path):
    corpus = make_toy_corpus(230, seed=1)
    test = pd.concat([corpus.iloc[200:], corpus.iloc[200:213]], ignore_index=True)  # 13 repeats
    train = pd.concat(
        [corpus.iloc[:200], corpus.iloc[[200, 201]], corpus.iloc[[5]]], ignore_index=True
    )  # two copies of test texts, one of a train text
    paths = {"train": tmp_path / "train.csv", "test": tmp_path / "test.csv"}
    train.to_csv(paths["train"], index=False)
    test.to_csv(paths["test"], index=False)
    files = f"+data.source.files={{train: {paths['train']}, test: {paths['test']}}}"
    _, out = run("data.source.path=null", files, in_process=True)
    manifest = json.loads((out / "split_manifest.json").read_text())
    splits = manifest["splits"]
    assert splits["test"]["size"] == len(pd.read_csv(paths["test"])) == 43
    assert splits["test"]["label_counts"] == test["label"].value_counts().sort_index().to_dict()
    assert splits["train"]["size"] + splits["validation"]["size"] == 200
    assert manifest["cleaning"]["duplicates"] == {"train": 3, "validation": 0}
    assert manifest["cleaning"]["repeated_in_test"] == 13
    assert "test/acc" in json.loads((out / "metrics.json").read_text())["test"]


def test_duplicate_column_name(run, tmp_path):
    path = tmp_path / "dupes.csv"
    frame = make_toy_corpus(60)
    frame["other"] = frame["label"]
    frame.to_csv(path, index=False, header=["text", "label", "label"])
    proc, out = run(data=path)
    assert_refused(proc, out, f"{path} has more than one column named 'label'", "Rename")


def test_list_texts_in_jsonl(run, tmp_path):
    path = tmp_path / "lists.jsonl"
    rows = make_toy_corpus(60).to_dict("records")
    rows[7]["text"] = rows[7]["text"].split()
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    proc, out = run(data=path)
    assert_refused(proc, out, "text column 'text' are not text but list", "data row 8")


def test_directory_given_as_data_file(run, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    proc, out = run(data=folder)
    assert_refused(proc, out, f"{folder} is a directory, not a data file")


def test_unreadable_data_file(tiny_model_dir, tiny_csv, tmp_path):
    """A real EACCES as root: the child loses the capabilities that let root read anything."""
    path, out = tmp_path / "locked.csv", tmp_path / "run"
    path.write_bytes(tiny_csv.read_bytes())
    path.chmod(0)
    if not _unreadable_to_child(path):
        pytest.skip("cannot make a file unreadable to this user here")
    overrides = tiny_overrides(tiny_model_dir, path, out, tmp_path / "cache")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *overrides, "trainer.max_epochs=1"],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        preexec_fn=_drop_read_override,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert_refused(proc, out, f"Cannot read data file {path}: Permission denied", "chmod a+r")


def _drop_read_override() -> None:
    """Before exec in the child: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
    bounding set, so that even root is refused a file without read permission (mode 000)."""
    if os.geteuid() != 0:
        return  # an ordinary user is refused anyway
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _unreadable_to_child(path: Path) -> bool:
    probe = [sys.executable, "-c", f"open({str(path)!r}).read()"]
    try:
        done = subprocess.run(probe, preexec_fn=_drop_read_override, capture_output=True, cwd=ROOT)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode != 0
