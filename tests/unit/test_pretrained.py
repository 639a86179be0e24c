"""Resolving model.pretrained: the packaged default, local dirs, checksums, hub names offline."""

from __future__ import annotations

import shutil

import pytest

from bertlab.errors import ModelError
from bertlab.pretrained import DEFAULT_SHA256, resolve_pretrained, verify_sha256


def test_default_resolves_to_the_packaged_checkpoint():
    path = resolve_pretrained("default")
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_corrupted_weights_fail_the_checksum(tmp_path):
    weights = resolve_pretrained("default") / "model.safetensors"
    copy = tmp_path / "model.safetensors"
    shutil.copy(weights, copy)
    with open(copy, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="Checksum mismatch .*force-reinstall"):
        verify_sha256(copy, DEFAULT_SHA256)


def test_missing_local_directory(tmp_path):
    with pytest.raises(ModelError, match="no such checkpoint directory"):
        resolve_pretrained(str(tmp_path / "missing"))


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_pretrained(str(tmp_path))


def test_hub_name_offline_says_how_to_use_a_local_dir(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="point model.pretrained at a local"):
        resolve_pretrained("some-org/some-bert-that-is-not-cached")


def test_local_directory_is_accepted(tiny_model_dir):
    assert resolve_pretrained(str(tiny_model_dir)) == tiny_model_dir
