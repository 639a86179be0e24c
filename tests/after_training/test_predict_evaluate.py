"""bertlab.load / predict / evaluate on a finished tiny run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bertlab
from bertlab.data.tokenize import TokenizedCorpus
from bertlab.tools.evaluate import evaluate
from bertlab.tools.evaluate import main as evaluate_main
from bertlab.tools.predict import main as predict_main
from helpers.inprocess import run_here, train_in_process
from helpers.runs import with_epochs
from helpers.trained import trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir, tiny_csv):
    return trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)


@pytest.fixture(scope="module")
def predictor(run):
    return bertlab.load(run)


def test_predict_is_batched_in_input_order(predictor, tiny_csv):
    texts = pd.read_csv(tiny_csv)["text"].tolist()[:40] + ["a great film", "dull " * 300]
    probs = predictor.predict_proba(texts)
    assert probs.shape == (42, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    predictor.batch_size = 3  # other batches, other padding: the same answers
    assert np.allclose(predictor.predict_proba(texts[::-1]), probs[::-1], atol=1e-5)
    predictor.batch_size = 128
    labels = predictor.predict(texts)
    assert labels == [predictor.label_names[i] for i in probs.argmax(1)]
    assert set(labels) <= {"neg", "pos"}


def test_prediction_tokenizes_like_training(predictor, run, tiny_csv):
    manifest = json.loads((run / "split_manifest.json").read_text())
    cache = TokenizedCorpus.load(run.parent / "cache" / manifest["cache_key"])
    encoded = predictor.encode(pd.read_csv(tiny_csv)["text"].tolist()).corpus
    assert np.array_equal(encoded.offsets, cache.offsets)
    assert np.array_equal(encoded.input_ids, cache.input_ids)


def test_trained_model_is_better_than_chance(predictor):
    assert predictor.predict(["great brilliant superb film", "dull boring awful tedious plot"]) == [
        "pos",
        "neg",
    ]


def test_predict_cli_writes_label_and_probabilities(predictor, run, tmp_path, tiny_csv):
    table = pd.read_csv(tiny_csv).head(25).rename(columns={"text": "review"})
    table.to_json(tmp_path / "in.jsonl", orient="records", lines=True)
    assert (
        predict_main(
            [
                str(run),
                str(tmp_path / "in.jsonl"),
                "-o",
                str(tmp_path / "o.csv"),
                "--text-column",
                "review",
            ]
        )
        == 0
    )
    out = pd.read_csv(tmp_path / "o.csv")
    assert list(out.columns) == ["review", "label", "predicted_label", "prob_neg", "prob_pos"]
    expected = predictor.predict_proba(table["review"].tolist())
    assert np.allclose(out[["prob_neg", "prob_pos"]].to_numpy(), expected, atol=1e-6)


def test_evaluate_test_split_reproduces_the_runs_test_metrics(run):
    proc = run_here("bertlab.evaluate", str(run))
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = json.loads((run / "eval" / "test.json").read_text())
    recorded = json.loads((run / "metrics.json").read_text())["test"]
    assert saved["examples"] == 30 and saved["precision"] == "32-true"
    assert saved["metrics"] == recorded  # exactly: the same test loop, batches and precision


def test_evaluate_validation_reproduces_the_best_epoch_with_val_keys(run):
    record = evaluate(run, split="val")
    best = json.loads((run / "metrics.json").read_text())["best_val"]
    assert record["metrics"] and all(k.startswith("val/") for k in record["metrics"])
    assert record["metrics"] == {k: v for k, v in best.items() if k.startswith("val/")}
    assert (run / "eval" / "validation.json").is_file()


def test_evaluate_reproduces_a_bf16_runs_test_metrics(tmp_path, tiny_model_dir, tiny_csv):
    out = tmp_path / "run"
    opts = with_epochs(tiny_model_dir, tiny_csv, out, tmp_path / "cache", epochs=1)
    train_in_process(*opts, "trainer.precision=bf16-mixed")
    record = evaluate(out)
    assert record["precision"] == "bf16-mixed"
    assert record["metrics"] == json.loads((out / "metrics.json").read_text())["test"]


def test_evaluate_new_labelled_file(predictor, run, tmp_path, tiny_csv):
    table = pd.read_csv(tiny_csv).tail(60).rename(columns={"text": "t", "label": "y"})
    table.to_csv(tmp_path / "new.csv", index=False)
    record = evaluate(run, file=tmp_path / "new.csv", text_column="t", label_column="y")
    assert (run / "eval" / "new.json").is_file() and record["examples"] == 60
    accuracy = np.mean(np.array(predictor.predict(table["t"].tolist())) == table["y"].to_numpy())
    assert record["metrics"]["new/acc"] == pytest.approx(accuracy, abs=1e-6)


def test_evaluate_refuses_unknown_labels_and_non_runs(run, tmp_path, capsys):
    pd.DataFrame({"text": ["a film", "a plot"], "label": ["pos", "meh"]}).to_csv(
        tmp_path / "bad.csv", index=False
    )
    assert evaluate_main([str(run), "--file", str(tmp_path / "bad.csv")]) == 2
    assert "['meh']" in capsys.readouterr().err
    assert evaluate_main([str(tmp_path)]) == 2
    assert "not inside a bertlab run dir" in capsys.readouterr().err
    assert predict_main([str(run), str(tmp_path / "bad.csv"), "--text-column", "review"]) == 2
    assert "no column 'review'" in capsys.readouterr().err
