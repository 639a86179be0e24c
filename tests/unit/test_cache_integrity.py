"""The tokenization cache verifies each entry it loads and rebuilds one that fails."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from bertlab.data import LocalFile, TextClassificationDataModule
from bertlab.utils.io import sha256_file


def prepared(path: Path, cache_dir: Path) -> TextClassificationDataModule:
    """A DataModule over `path` set up (corpus loaded, split made)."""
    dm = TextClassificationDataModule(
        LocalFile(path=str(path)), tokenizer="default", cache_dir=str(cache_dir)
    )
    dm.setup()
    return dm


def rewrite(entry: Path, name: str, array: np.ndarray) -> None:
    """Replace one array of an entry and its checksum: only the consistency checks can object."""
    np.save(entry / f"{name}.npy", array, allow_pickle=False)
    meta = json.loads((entry / "meta.json").read_text())
    meta.setdefault("checksums", {})[name] = sha256_file(entry / f"{name}.npy")
    (entry / "meta.json").write_text(json.dumps(meta))


def rebuilds(tiny_csv: Path, cache_dir: Path, caplog, problem: str) -> TextClassificationDataModule:
    """Prepare again; check for one warning naming the entry and `problem`, and a rebuild."""
    caplog.clear()
    dm = prepared(tiny_csv, cache_dir)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert dm.cache_path.name in warnings[0] and problem in warnings[0]
    assert "cache miss" in caplog.text
    assert len(list(cache_dir.glob(f"{dm.cache_path.name}.corrupt-*"))) == 1
    return dm


@pytest.fixture()
def built(tiny_csv, cache_dir, caplog) -> TextClassificationDataModule:
    """The toy corpus, prepared once into a fresh cache, with INFO logs captured."""
    caplog.set_level(logging.INFO, logger="bertlab")
    return prepared(tiny_csv, cache_dir)


def test_inverted_labels_are_caught_and_rebuilt(built, tiny_csv, cache_dir, caplog):
    np.save(built.cache_path / "labels.npy", 1 - built.corpus.labels, allow_pickle=False)
    again = rebuilds(tiny_csv, cache_dir, caplog, "labels.npy fails its sha256 checksum")
    assert np.array_equal(again.corpus.labels, built.corpus.labels)


def test_truncated_input_ids_are_rebuilt(built, tiny_csv, cache_dir, caplog):
    path = built.cache_path / "input_ids.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = rebuilds(tiny_csv, cache_dir, caplog, "input_ids.npy fails its sha256 checksum")
    assert np.array_equal(again.corpus.input_ids, built.corpus.input_ids)


@pytest.mark.parametrize("bad_id", [-1, 10**6])
def test_out_of_range_token_ids_are_rebuilt(built, tiny_csv, cache_dir, caplog, bad_id):
    ids = built.corpus.input_ids.copy()
    ids[3] = bad_id
    rewrite(built.cache_path, "input_ids", ids)
    again = rebuilds(tiny_csv, cache_dir, caplog, "outside [0, ")
    assert np.array_equal(again.corpus.input_ids, built.corpus.input_ids)


@pytest.mark.parametrize(
    ("name", "array", "problem"),
    [
        ("offsets", lambda c: c.offsets[::-1].copy(), "offsets"),
        ("offsets", lambda c: c.offsets[:-1].copy(), "offsets"),
        ("labels", lambda c: c.labels[1:].copy(), "labels has"),
    ],
    ids=["offsets-decrease", "offsets-short", "labels-short"],
)
def test_inconsistent_arrays_are_rebuilt(built, tiny_csv, cache_dir, caplog, name, array, problem):
    rewrite(built.cache_path, name, array(built.corpus))
    again = rebuilds(tiny_csv, cache_dir, caplog, problem)
    assert np.array_equal(again.corpus.offsets, built.corpus.offsets)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda p: p.write_text('{"label_names": ['), "meta.json cannot be read"),
        (lambda p: p.unlink(), "meta.json cannot be read"),
        (lambda p: p.write_text('{"label_names": ["neg", "pos"]}'), "lacks or mistypes format"),
    ],
    ids=["corrupt", "missing", "old-format"],
)
def test_bad_meta_is_rebuilt_then_hits(built, tiny_csv, cache_dir, caplog, damage, problem):
    damage(built.cache_path / "meta.json")
    again = rebuilds(tiny_csv, cache_dir, caplog, problem)
    assert again.label_names == built.label_names
    caplog.clear()
    third = prepared(tiny_csv, cache_dir)
    assert "cache hit" in caplog.text and "WARNING" not in caplog.text
    assert np.array_equal(third.corpus.labels, built.corpus.labels)


def test_stale_temp_dir_of_a_killed_save_is_removed(built, tiny_csv, cache_dir):
    stale = cache_dir / f".{built.cache_path.name}.k1lled"
    stale.mkdir()
    (stale / "input_ids.npy").write_bytes(b"half")
    prepared(tiny_csv, cache_dir)
    assert not stale.exists()
    assert built.cache_path.is_dir()


@pytest.mark.parametrize(
    ("umask", "dir_mode"), [(0o022, 0o755), (0o002, 0o775)], ids=["umask022", "umask002"]
)
def test_entry_permissions_follow_the_umask(tiny_csv, cache_dir, umask, dir_mode):
    old = os.umask(umask)
    try:
        entry = prepared(tiny_csv, cache_dir).cache_path
    finally:
        os.umask(old)
    assert stat.S_IMODE(entry.stat().st_mode) == dir_mode
    modes = {stat.S_IMODE(f.stat().st_mode) for f in entry.iterdir()}
    assert modes == {0o666 & ~umask}


def test_entry_of_another_key_is_rebuilt(built, tiny_csv, cache_dir, caplog):
    meta_path = built.cache_path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["key_parts"]["max_length"] = 999  # e.g. an entry copied in under the wrong name
    meta_path.write_text(json.dumps(meta))
    again = rebuilds(tiny_csv, cache_dir, caplog, "hash to another key")
    assert again.corpus.meta["key_parts"]["max_length"] == 128
