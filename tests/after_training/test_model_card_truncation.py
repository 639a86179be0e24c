"""An exported model cuts long texts as its run did, or its card says that it does not."""

from __future__ import annotations

import numpy as np
from transformers import pipeline

import bertlab
from bertlab.data.truncation import Truncation
from bertlab.tools.card_usage import cut_note, kept
from bertlab.tools.export import main as export_main
from helpers.inprocess import train_in_process
from helpers.runs import with_epochs

LONG = [
    "good " * 5 + "awful dull boring " * 20 + "great wonderful",
    "bad " * 5 + "lovely great fine " * 20 + "terrible awful",
]


def scores(classifier, texts: list[str], names: tuple[str, ...]) -> np.ndarray:
    rows = classifier(texts, top_k=None, truncation=True, max_length=16)
    return np.array([[{d["label"]: d["score"] for d in row}[n] for n in names] for row in rows])


def test_a_tail_run_exports_a_tokenizer_that_keeps_the_tail(tmp_path, tiny_model_dir, tiny_csv):
    base = [*with_epochs(tiny_model_dir, tiny_csv, tmp_path / "run", tmp_path / "cache", epochs=1)]
    run = train_in_process(*base, "data.truncation=tail", "data.max_length=16").dir
    out = tmp_path / "hf"
    assert export_main([str(run), str(out)]) == 0
    card = (out / "README.md").read_text()
    assert "cut to its last 16 tokens" in card and "truncation_side is `left`" in card
    assert "| truncation | `tail` |" in card and "**Long texts:**" not in card

    names = ("neg", "pos")
    ours = bertlab.load(run).predict_proba(LONG)
    theirs = scores(pipeline("text-classification", model=str(out)), LONG, names)
    assert np.allclose(ours, theirs, atol=1e-5)
    head = pipeline("text-classification", model=str(out))
    head.tokenizer.truncation_side = "right"  # what the export would give without the fix
    assert not np.allclose(ours, scores(head, LONG, names), atol=1e-5)


def test_strategies_the_snippets_cannot_follow_are_called_out():
    head_tail = Truncation("head_tail", head_tokens=4)
    assert kept(head_tail, 16) == "cut to its first 4 and last 12 tokens"
    assert "**Long texts:**" in cut_note(head_tail, 16)
    assert "data.truncation=head_tail" in cut_note(head_tail, 16)
    chunks = Truncation("chunks", chunk_stride=4, chunk_pooling="max")
    assert kept(chunks, 16) == (
        "split into windows of 16 tokens overlapping by 4, the windows' logits max-pooled per text"
    )
    assert "bertlab-predict" in cut_note(chunks, 16)
    assert "**Long texts:**" not in cut_note(Truncation("head"), 16)
