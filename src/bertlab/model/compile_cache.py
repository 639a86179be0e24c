"""Compiled code kept on disk across processes: torch's Inductor FX-graph cache and
AOTAutograd cache, pointed at `<model.compile_cache>/<key>`.

The key names what compiled code depends on that the directory should not mix: torch
version, device (CUDA: name and compute capability), precision, and the network's shape (a
sha256 of the config fields that change the graph). Inside the directory torch keys every
entry by the graph's own hash, its inputs and the compile settings, so a stale entry is
never used for a different graph; a second process with the same key loads compiled code
instead of compiling (bench/compile_time.py measures it).

A damaged entry: torch itself treats an entry it cannot unpickle as a miss (checked on
torch 2.13: "fx graph cache unable to load compiled graph", a traceback at WARNING, then a
recompile with the same logits); `open_cache` also verifies the sha256 of every file that
`MANIFEST` recorded at the end of the last run and moves a directory with a damaged file
aside with one warning, so that a damaged cache is never read at all.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

MANIFEST = "bertlab-manifest.json"
# the directories torch writes compiled entries to (Inductor FX graphs, AOTAutograd graphs)
ENTRY_DIRS = ("fxgraph", "aotautograd")
SHAPE_FIELDS = (
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "vocab_size",
    "max_position_embeddings",
    "type_vocab_size",
    "num_labels",
    "problem_type",
    "_attn_implementation",
)


def device_name(device: torch.device | str) -> str:
    """`cpu`, or e.g. `cuda-NVIDIA_H200-sm90` (compiled kernels are specific to the chip)."""
    device = torch.device(device)
    if device.type != "cuda":
        return device.type
    name = torch.cuda.get_device_name(device).replace(" ", "_")
    major, minor = torch.cuda.get_device_capability(device)
    return f"cuda-{name}-sm{major}{minor}"


def cache_key(network: torch.nn.Module, device: torch.device | str, precision: str) -> str:
    """`torch<version>-<device>-<precision>-<sha256[:12] of the network's shape>`."""
    config = getattr(network, "config", None)
    shape = {f: getattr(config, f, None) for f in SHAPE_FIELDS} if config is not None else {}
    shape["class"] = type(network).__qualname__  # e.g. a pooled head
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()
    version = torch.__version__.replace("+", "_")
    return f"torch{version}-{device_name(device)}-{precision}-{digest[:12]}"


@dataclass(frozen=True)
class CompileCache:
    """One cache directory in use; `warm` = it held compiled entries when opened."""

    path: Path
    warm: bool

    def record(self) -> None:
        """Write `MANIFEST` (sha256 per entry file), after compiled steps have run."""
        files = {str(p.relative_to(self.path)): sha256(p) for p in entry_files(self.path)}
        tmp = self.path / f"{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(files, indent=0, sort_keys=True))
        tmp.replace(self.path / MANIFEST)

    def record_at_exit(self) -> None:
        """`record` when the process ends (compiled entries are written as steps first run)."""
        atexit.register(self._record_quietly)

    def _record_quietly(self) -> None:
        try:
            self.record()
        except OSError as error:  # a full disk or a removed directory must not fail the run
            log.warning("Compile cache %s: manifest not written (%s)", self.path, error)


def entry_files(path: Path) -> list[Path]:
    return sorted(p for d in ENTRY_DIRS for p in (path / d).rglob("*") if p.is_file())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damaged_entries(path: Path) -> list[str]:
    """Files recorded in `MANIFEST` whose sha256 no longer matches (or that are gone)."""
    manifest = path / MANIFEST
    if not manifest.is_file():
        return []
    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return [MANIFEST]
    return [
        name
        for name, digest in recorded.items()
        if not (path / name).is_file() or sha256(path / name) != digest
    ]


def open_cache(root: str | Path, key: str) -> CompileCache:
    """Point torch's compile caches at `<root>/<key>` for this process (before compiling).
    A directory with damaged entries is moved aside with a warning and started afresh."""
    path = Path(root).expanduser().resolve() / key
    damaged = damaged_entries(path) if path.is_dir() else []
    if damaged:
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        log.warning(
            "Compile cache %s: %d damaged file(s) (%s); moved aside to %s, compiling afresh",
            path,
            len(damaged),
            ", ".join(damaged[:3]),
            aside.name,
        )
        shutil.move(str(path), str(aside))
    path.mkdir(parents=True, exist_ok=True)
    warm = bool(entry_files(path))
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    torch._inductor.config.fx_graph_cache = True
    torch._functorch.config.enable_autograd_cache = True
    from torch._inductor.utils import clear_caches  # in-memory lookups of the previous dir

    clear_caches()
    return CompileCache(path, warm)
