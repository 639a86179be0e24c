"""data.truncation=chunks: windows, splits per document, pooled per-document evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertlab.data import LocalFile, TextClassificationDataModule
from bertlab.data.chunks import DocumentBatchSampler, DocumentSplit, window_spans
from bertlab.model import TextClassifier
from bertlab.model.pooling import pool_logits
from bertlab.testing import FILLER, make_toy_corpus

MAX, OVERLAP = 32, 6


@pytest.mark.parametrize("overlap", [0, 1, 7])
def test_windows_cover_each_text_with_the_configured_overlap(overlap):
    lengths = np.array([0, 1, 9, 10, 11, 25, 100])
    width = 10
    text, start, stop = window_spans(lengths, width, overlap)
    for i, n in enumerate(lengths):
        s, e = start[text == i], stop[text == i]
        assert s[0] == 0 and e[-1] == n
        assert ((e - s)[:-1] == width).all() and 0 <= e[-1] - s[-1] <= width
        assert (e[:-1] - s[1:] == overlap).all()  # consecutive windows share `overlap` tokens
        assert len(s) == 1 or e[-2] < n  # no window is redundant


@pytest.fixture(scope="module")
def long_csv(tmp_path_factory):
    """120 reviews of 20 to 150 words: most need several windows of MAX tokens."""
    rng = np.random.default_rng(1)
    table = make_toy_corpus(120)
    table["text"] = [
        f"{t} " + " ".join(rng.choice(FILLER, size=int(rng.integers(20, 150))))
        for t in table["text"]
    ]
    path = tmp_path_factory.mktemp("long") / "long.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def chunked(long_csv, tiny_model_dir, tmp_path_factory):
    dm = TextClassificationDataModule(
        LocalFile(path=str(long_csv)),
        tokenizer=str(tiny_model_dir),
        max_length=MAX,
        eval_batch_size=16,
        truncation="chunks",
        chunk_stride=OVERLAP,
        cache_dir=str(tmp_path_factory.mktemp("cache")),
    )
    dm.setup()
    return dm


def test_window_ids_rebuild_the_document(chunked):
    corpus, docs = chunked.corpus, chunked.dataset("validation")
    assert isinstance(docs, DocumentSplit) and len(docs) == len(chunked.indices["validation"])
    for i, row in enumerate(docs.windows.rows):
        full = corpus.input_ids[corpus.offsets[row] : corpus.offsets[row + 1]].tolist()
        windows = [ids.tolist() for ids, _, _ in docs[i]]
        assert all(w[0] == full[0] and w[-1] == full[-1] and len(w) <= MAX for w in windows)
        content = windows[0][1:-1] + [t for w in windows[1:] for t in w[1 + OVERLAP : -1]]
        assert content == full[1:-1]
    assert (docs.windows.counts > 1).mean() > 0.5  # the corpus really is long


def test_windows_of_a_document_stay_in_its_split(chunked):
    rows = {}
    for split in ("train", "validation", "test"):
        windows = chunked.dataset(split, train=True)
        rows[split] = set(windows.rows[windows.doc].tolist())
        assert rows[split] == set(chunked.indices[split].tolist())
        labels = chunked.corpus.labels[windows.rows[windows.doc]]
        assert [int(windows[i][2]) for i in range(len(windows))] == labels.tolist()
    assert not (rows["train"] & rows["validation"] or rows["train"] & rows["test"])
    assert not rows["validation"] & rows["test"]
    manifest = chunked.split_manifest()["splits"]
    assert sum(s["size"] for s in manifest.values()) == len(chunked.corpus) == 120


def test_eval_batches_hold_whole_documents(chunked):
    docs = chunked.dataset("validation")
    seen = []
    for batch in chunked.val_dataloader():
        n = batch["labels"].shape[0]
        assert batch["doc_index"].tolist() == sorted(batch["doc_index"].tolist())
        assert torch.bincount(batch["doc_index"], minlength=n).min() >= 1
        seen.append(torch.bincount(batch["doc_index"], minlength=n))
    assert torch.cat(seen).sum() == len(docs.windows)
    assert sorted(torch.cat(seen).tolist()) == sorted(docs.windows.counts.tolist())


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pool_logits_matches_per_document_reduction(pooling):
    logits = torch.randn(7, 3)
    doc_index = torch.tensor([0, 0, 0, 1, 2, 2, 2])
    reduce = (lambda t: t.mean(0)) if pooling == "mean" else (lambda t: t.max(0).values)
    expected = torch.stack([reduce(logits[doc_index == d]) for d in range(3)])
    torch.testing.assert_close(pool_logits(logits, doc_index, 3, pooling), expected)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_validation_scores_documents_on_pooled_window_logits(chunked, tiny_model_dir, pooling):
    torch.manual_seed(0)
    model = TextClassifier(str(tiny_model_dir), num_labels=2, label_names=chunked.label_names)
    model.eval()
    docs = chunked.dataset("validation")
    loader = chunked.val_dataloader()
    loader.collate_fn.pooling = pooling
    with torch.no_grad():
        pooled = torch.cat([model._step(batch, "val")[1] for batch in loader])
        metrics = model.stage_metrics("val")
        metrics.flush()
        assert metrics.loss.weight == len(docs)  # loss and metrics count documents
        values = metrics.compute()
        expected = []
        for i in sorted(range(len(docs)), key=lambda i: docs.lengths[i]):
            one = [
                model(
                    {
                        "input_ids": torch.as_tensor(ids[None], dtype=torch.long),
                        "token_type_ids": torch.zeros(1, len(ids), dtype=torch.long),
                        "attention_mask": torch.ones(1, len(ids), dtype=torch.long),
                    }
                )[0]
                for ids, _, _ in docs[i]
            ]
            stacked = torch.stack(one)
            expected.append(stacked.mean(0) if pooling == "mean" else stacked.max(0).values)
    expected = torch.stack(expected)
    torch.testing.assert_close(pooled, expected, atol=1e-5, rtol=1e-4)
    labels = torch.as_tensor(chunked.corpus.labels[docs.windows.rows])
    order = np.argsort(docs.lengths, kind="stable")
    acc = (expected.argmax(-1) == labels[order]).float().mean()
    torch.testing.assert_close(values["val/acc"], acc)


def test_document_batches_shard_across_ranks_without_repeats(chunked):
    docs = chunked.dataset("test")
    shards = [DocumentBatchSampler(docs, 10, num_replicas=2, rank=r) for r in (0, 1)]
    seen = [i for shard in shards for batch in shard for i in batch]
    assert sorted(seen) == list(range(len(docs)))
    assert len(shards[0]) == len(shards[1]) >= 2
