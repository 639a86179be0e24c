"""predict never harms an output (FIFO, symlink, stdout) and reads texts from stdin / --text."""

from __future__ import annotations

import io
import json
import os
import stat
import threading

import pandas as pd
import pytest

from bertlab.tools.predict import main as predict_main
from helpers.trained import trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir, tiny_csv):
    return trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)


@pytest.fixture()
def texts_csv(tmp_path, tiny_csv):
    pd.read_csv(tiny_csv).head(5).to_csv(tmp_path / "in.csv", index=False)
    return tmp_path / "in.csv"


def test_a_fifo_is_written_in_place_not_replaced(run, texts_csv, tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    assert predict_main([str(run), str(texts_csv), "-o", str(fifo)]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert got and got[0].splitlines()[0].endswith("predicted_label,prob_neg,prob_pos")
    assert len(got[0].splitlines()) == 6


def test_a_symlink_is_written_through_and_kept(run, texts_csv, tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert predict_main([str(run), str(texts_csv), "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(pd.read_csv(target)) == 5


def test_dash_output_is_stdout(run, texts_csv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert predict_main([str(run), str(texts_csv), "-o", "-"]) == 0
    out = capsys.readouterr()
    assert not (tmp_path / "-").exists()
    assert len(pd.read_csv(io.StringIO(out.out))) == 5
    assert "Wrote 5 predictions" in out.err


def test_texts_from_arguments_as_jsonl(run, capsys):
    argv = [str(run), "--text", "a great film", "--text", "a dull plot", "--format", "jsonl"]
    assert predict_main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["a great film", "a dull plot"]
    assert all(r["predicted_label"] in {"neg", "pos"} and "prob_pos" in r for r in rows)


def test_texts_from_stdin(run, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a great film\n\na dull plot\nfine\n"))
    assert predict_main([str(run), "-"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert table["text"].tolist() == ["a great film", "a dull plot", "fine"]


def test_no_input_and_no_text_is_a_usage_error(run, capsys):
    assert predict_main([str(run)]) == 2
    assert "--text" in capsys.readouterr().err
