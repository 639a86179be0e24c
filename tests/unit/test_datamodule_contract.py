"""The DataModule keeps Lightning's contract: prepare_data builds the cache and keeps no state;
setup loads it; hyperparameters are plain values (checkpoints load with weights_only)."""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from bertlab.data import LocalFile, TextClassificationDataModule
from bertlab.tasks import MultiLabel

SRC = Path(__file__).resolve().parents[2] / "src" / "bertlab"


def make(tiny_csv, cache_dir, **kw) -> TextClassificationDataModule:
    source = LocalFile(path=str(tiny_csv))
    return TextClassificationDataModule(source, tokenizer="default", cache_dir=str(cache_dir), **kw)


def test_prepare_data_builds_the_cache_entry_and_assigns_no_state(tiny_csv, cache_dir):
    dm = make(tiny_csv, cache_dir)
    before = dict(vars(dm))
    dm.prepare_data()
    assert dm.cache_path.is_dir() and (dm.cache_path / "meta.json").is_file()
    assert dm.corpus is None and dm.indices is None
    assert {k: v for k, v in vars(dm).items() if k in before} == before
    dm.setup("fit")
    assert dm.corpus is not None and len(dm.indices["train"]) > 0


def test_setup_alone_builds_what_prepare_data_would(tiny_csv, cache_dir):
    first, second = make(tiny_csv, cache_dir), make(tiny_csv, cache_dir)
    first.setup()
    second.prepare_data()
    second.setup()
    assert first.cache_path == second.cache_path
    assert first.split_manifest() == second.split_manifest()


def test_a_corpus_handed_over_is_used_and_the_source_never_read(tiny_csv, cache_dir, tmp_path):
    built = make(tiny_csv, cache_dir)
    built.setup()
    dm = make(tmp_path / "absent.csv", tmp_path / "other_cache")  # reading it would fail
    dm.corpus = built.corpus  # as bench/ hands over synthetic token ids
    dm.prepare_data()
    dm.setup()
    assert all((dm.indices[k] == v).all() for k, v in built.indices.items())
    assert len(next(iter(dm.train_dataloader()))["labels"]) > 0
    assert not (tmp_path / "other_cache").exists()


def test_hyperparameters_are_plain_values_that_load_with_weights_only(tiny_csv, tmp_path):
    cache_dir = tmp_path
    dm = make(tiny_csv, cache_dir, task=MultiLabel(), label_separator=",", fold=[0, 5])
    assert dm.hparams.task == "multi_label" and "source" not in dm.hparams
    path = tmp_path / "h.pt"
    torch.save(dict(dm.hparams), path)
    assert torch.load(path, weights_only=True) == dict(dm.hparams)


def test_the_data_layer_imports_nothing_from_the_model_layer():
    for path in (SRC / "data").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            assert not any(n.startswith("bertlab.model") for n in names), path


def test_problem_type_is_branched_on_only_inside_the_task_module():
    for path in SRC.rglob("*.py"):
        if "tasks" in path.relative_to(SRC).parts:
            continue
        text = path.read_text()
        assert "problem_type ==" not in text and "problem_type !=" not in text, path
