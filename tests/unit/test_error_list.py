"""Issue 20's error list, the cases refused before or around the data: each was a traceback,
a late failure or exit 1 before. In-process; the exit codes are tested in e2e/test_exit_codes.py."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from bertlab.data import LocalFile, TextClassificationDataModule
from bertlab.errors import ConfigError, DataError, DiskFullError, ModelError
from bertlab.pretrained import resolve_pretrained
from bertlab.tools import predict
from bertlab.train.config_checks import check_config
from bertlab.train.logger_checks import check_loggers, check_tracking_uri
from helpers.runs import ROOT


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


# ---- a truncated safetensors file in a model dir ----


@pytest.mark.parametrize("keep", [6, 2000, -100])  # no header / header cut / tensors cut
def test_a_truncated_safetensors_file_is_named(tiny_model_dir, tmp_path, keep):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    weights = model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:keep])
    with pytest.raises(ModelError, match="damaged") as err:
        resolve_pretrained(model)  # called by the config checks, before any data work
    assert str(weights) in str(err.value)


def test_an_intact_model_dir_passes(tiny_model_dir):
    assert resolve_pretrained(tiny_model_dir) == tiny_model_dir


# ---- predict --batch-size ----


@pytest.mark.parametrize("value", ["-5", "0", "x"])
def test_predict_refuses_a_batch_size_below_one(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        predict.parser().parse_args(["RUN", "in.csv", "--batch-size", value])
    assert exit_.value.code == 2
    assert "--batch-size" in capsys.readouterr().err


# ---- data.split.test=0 ----


def test_no_test_split_is_refused_up_front():
    """It trained, then `evaluate` (and the split manifest) failed with a traceback."""
    cfg = compose_train("data.split.train=0.9", "data.split.test=0")
    with pytest.raises(ConfigError, match=r"data\.split\.test=0 leaves no test split"):
        check_config(cfg)


def test_a_provided_test_file_allows_a_zero_test_ratio(tiny_csv, tiny_model_dir):
    cfg = compose_train(
        "data=csv",
        "data.source.path=null",
        f"+data.source.files={{train: {tiny_csv}, test: {tiny_csv}}}",
        "data.split.train=0.9",
        "data.split.test=0",
        f"model.pretrained={tiny_model_dir}",
    )
    check_config(cfg)


# ---- MLflow tracking URIs ----


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once closed


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("file:///tmp/mlruns", "refuses its file store"),
        ("./mlruns", "refuses its file store"),
        ("foo://bar", "cannot use this tracking store"),
        ("http://127.0.0.1:{port}", "cannot use this tracking store"),
    ],
)
def test_an_unusable_tracking_uri_is_refused_in_seconds(uri, problem):
    uri = uri.format(port=_closed_port())
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=problem) as err:
        check_tracking_uri(uri, "logger.mlflow.tracking_uri")
    assert "logger.mlflow.tracking_uri=" + uri in str(err.value)
    assert time.perf_counter() - start < 30  # no minutes of retries


def test_a_read_only_sqlite_store_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root ignores the mode: say what a non-root user sees
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == folder else real(p, m))
    with pytest.raises(ConfigError, match="read-only"):
        check_tracking_uri(f"sqlite:///{folder}/mlflow.db", "logger.mlflow.tracking_uri")


def test_the_loggers_of_a_config_are_checked():
    """The MLflow node as configs/logger/mlflow.yaml builds it, the key named."""
    cfg = compose_train(
        "logger=mlflow", "logger.mlflow.tracking_uri=file:///tmp/x", "logger.mlflow.run_name=r"
    )
    with pytest.raises(ConfigError, match=r"logger\.mlflow\.tracking_uri=file:///tmp/x"):
        check_loggers(cfg)


# ---- the cache dir: a file, full, read-only ----


def _datamodule(csv: Path, cache: Path) -> TextClassificationDataModule:
    return TextClassificationDataModule(
        LocalFile(path=str(csv)), tokenizer="default", cache_dir=str(cache)
    )


def test_a_cache_dir_that_is_a_file_is_named(tiny_csv, tmp_path):
    cache = tmp_path / "cache"
    cache.write_text("not a dir")
    with pytest.raises(DataError, match=r"is a file, not a directory.*paths\.cache_dir"):
        _datamodule(tiny_csv, cache).prepare_data()


def test_a_full_disk_while_caching_is_named_and_leaves_nothing(tiny_csv, tmp_path, monkeypatch):
    cache = tmp_path / "cache"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)  # the cache's array writes, only
    with pytest.raises(DiskFullError, match="No space left.*paths.cache_dir"):
        _datamodule(tiny_csv, cache).prepare_data()
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def _read_only(folder: Path, monkeypatch) -> None:
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root ignores the mode: say what a non-root user sees
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == folder else real(p, m))


def test_a_read_only_cache_with_a_built_entry_is_used(tiny_csv, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    built = _datamodule(tiny_csv, cache)
    built.setup()
    for lock in cache.glob("*.lock"):
        lock.unlink()  # a cache copied onto a read-only mount
    _read_only(cache, monkeypatch)
    try:
        again = _datamodule(tiny_csv, cache)
        again.setup()
        assert (again.corpus.input_ids == built.corpus.input_ids).all()
        assert not list(cache.glob("*.lock"))  # nothing written there
    finally:
        cache.chmod(0o755)


def test_a_read_only_cache_without_the_entry_is_refused(tiny_csv, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    _read_only(cache, monkeypatch)
    try:
        with pytest.raises(DataError, match="read-only and holds no entry"):
            _datamodule(tiny_csv, cache).prepare_data()
    finally:
        cache.chmod(0o755)


def test_an_empty_split_is_pinned():
    """A source giving no test rows: the split manifest failed on reshaping 0 labels."""
    from bertlab.data.split import label_pin

    assert label_pin(np.array([], str), np.array([], np.int64))["width"] == 1
    assert label_pin(np.array([], str), np.zeros((0, 3), np.float32))["width"] == 3
