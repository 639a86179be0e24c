"""train.py data.truncation=chunks end to end; the run's predict / evaluate pool per document."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import bertlab
from bertlab.testing import FILLER, make_toy_corpus
from bertlab.tools.evaluate import evaluate
from helpers.inprocess import train_in_process
from helpers.runs import tiny_overrides


@pytest.fixture(scope="module")
def chunks_run(tmp_path_factory, tiny_model_dir):
    """One epoch of the tiny model on 200 long reviews, in windows of 32 tokens."""
    base = tmp_path_factory.mktemp("chunks")
    rng = np.random.default_rng(0)
    table = make_toy_corpus(200)
    table["text"] = [
        f"{t} " + " ".join(rng.choice(FILLER, size=int(rng.integers(40, 120))))
        for t in table["text"]
    ]
    table.to_csv(base / "long.csv", index=False)
    overrides = tiny_overrides(tiny_model_dir, base / "long.csv", base / "run", base / "cache")
    train_in_process(
        *overrides,
        "trainer.max_epochs=1",
        "data.max_length=32",
        "data.truncation=chunks",
        "data.chunk_stride=8",
        "data.chunk_pooling=max",
    )
    return base / "run"


def test_chunks_run_records_per_document_metrics(chunks_run):
    metrics = json.loads((chunks_run / "metrics.json").read_text())
    assert {"val/acc", "val/loss", "val/f1"} <= set(metrics["best_val"])
    assert "test/acc" in metrics["test"]
    splits = json.loads((chunks_run / "split_manifest.json").read_text())["splits"]
    assert sum(s["size"] for s in splits.values()) == 200  # documents, not windows
    record = evaluate(chunks_run, "test")
    assert record["examples"] == splits["test"]["size"]
    assert record["metrics"]["test/acc"] == pytest.approx(metrics["test"]["test/acc"])


def test_predict_pools_the_windows_of_each_text(chunks_run):
    predictor = bertlab.load(chunks_run, device="cpu")
    assert predictor.truncation.strategy == "chunks" and predictor.max_length == 32
    texts = [" ".join(["great"] + FILLER * k) for k in (1, 3, 6)]
    labels = predictor.predict(texts)
    assert len(labels) == 3 and set(labels) <= {"neg", "pos"}
    docs = predictor.encode(texts)
    assert (docs.windows.counts[1:] > 1).all()  # long texts: several windows
    with torch.inference_mode():
        expected = [
            torch.stack(
                [
                    predictor.model(
                        {
                            "input_ids": torch.as_tensor(ids[None], dtype=torch.long),
                            "token_type_ids": torch.zeros(1, len(ids), dtype=torch.long),
                            "attention_mask": torch.ones(1, len(ids), dtype=torch.long),
                        }
                    )[0]
                    for ids, _, _ in docs[i]
                ]
            )
            .max(0)
            .values.numpy()
            for i in range(3)
        ]
    np.testing.assert_allclose(predictor.logits(texts), np.stack(expected), atol=1e-5)


def test_export_records_the_runs_strategy(chunks_run, tmp_path):
    from bertlab.tools.export import export

    export(chunks_run, tmp_path / "exported")
    record = json.loads((tmp_path / "exported" / "bertlab_export.json").read_text())
    assert record["truncation"] == {
        "strategy": "chunks",
        "head_tokens": 128,
        "chunk_stride": 8,
        "chunk_pooling": "max",
    }


def test_mistakes_panel_shows_each_documents_own_first_window(chunks_run, tiny_model_dir):
    """The panel's rows are per document: the text is that document's first window."""
    import pandas as pd
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from transformers import AutoTokenizer

    acc = EventAccumulator(str(chunks_run), size_guidance={"tensors": 0})
    acc.Reload()
    panels = [
        p.tensor_proto.string_val[0].decode()
        for stage in ("val", "test")
        for p in acc.Tensors(f"{stage}/confident_mistakes/text_summary")
    ]
    rows = [line for t in panels for line in t.splitlines()[2:] if line.startswith("| 0.")]
    assert rows, panels  # one epoch of a tiny model makes mistakes
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    table = pd.read_csv(chunks_run.parent / "long.csv")
    first = {
        tokenizer.decode(
            tokenizer(text, truncation=True, max_length=32)["input_ids"], skip_special_tokens=True
        ): label
        for text, label in zip(table["text"], table["label"], strict=True)
    }
    cells = [[c.strip() for c in line.strip("|").split(" | ", 3)] for line in rows]
    shown = [(text.partition(" … (first of "), true, pred) for _, pred, true, text in cells]
    # each row shows its own document's first window, under that document's label
    assert [first.get(window) for (window, _, _), _, _ in shown] == [t for _, t, _ in shown]
    for (_, _, more), true, predicted in shown:
        assert predicted != true and int(more.removesuffix(" windows)")) > 1  # long documents


def test_balanced_class_weights_count_the_windows_the_loss_sees(tmp_path, tiny_model_dir):
    """Positive reviews are long (several windows each), negative ones short: weights from
    document counts would leave the loss dominated by positive windows."""
    from collections import Counter

    from bertlab.model.loss import balanced_weights
    from bertlab.tools.evaluate import run_datamodule

    rng = np.random.default_rng(1)
    table = make_toy_corpus(120)
    table["text"] = [
        f"{t} " + " ".join(rng.choice(FILLER, size=100 if y == "pos" else 2))
        for t, y in zip(table["text"], table["label"], strict=True)
    ]
    table.to_csv(tmp_path / "long.csv", index=False)
    overrides = tiny_overrides(tiny_model_dir, tmp_path / "long.csv", tmp_path / "run", tmp_path)
    run = train_in_process(
        *overrides,
        "trainer.max_epochs=1",
        "data.max_length=32",
        "data.truncation=chunks",
        "data.chunk_stride=8",
        "model.loss.class_weights=balanced",
    ).dir
    datamodule = run_datamodule(run)
    names = datamodule.label_names
    windows = Counter(names[int(label)] for _, _, label in datamodule.dataset("train", True))
    documents = json.loads((run / "split_manifest.json").read_text())["splits"]["train"]
    assert windows["pos"] > 2 * documents["label_counts"]["pos"]  # long: several windows each
    weights = bertlab.load(run, device="cpu").model.class_weights
    expected = balanced_weights([windows[n] for n in names])
    torch.testing.assert_close(weights, expected)
    by_document = balanced_weights([documents["label_counts"][n] for n in names])
    assert not torch.allclose(weights, by_document)
