"""The torch.compile decision for `TextClassifier` (model.compile / model.compile_mode).

`compile`:
- "auto" (default): compile on a CUDA device only, with dynamic shapes (one graph for every
  batch shape; measured: docs/performance.md). CPU stays eager (compiling was not faster there).
- True / "dynamic": compile on any device, dynamic shapes.
- "static": compile on any device, one static graph per batch shape, for bounded shapes
  (data.pad_to_multiple_of=auto on a GPU: buckets:<max_length>). Each shape compiles
  once (tens of seconds per shape for bert-base), so only worth it with few shapes; the
  recompile limit is raised to STATIC_RECOMPILE_LIMIT so that no shape falls back to eager.
- False: eager.

`compile_mode` "reduce-overhead" (CUDA graphs, recorded per batch shape: use it with bounded
shapes) or "max-autotune" (autotuning + CUDA graphs) need a CUDA device: elsewhere they are
dropped to the default mode with a warning. Not measured yet (no GPU in the session that wrote
this): see docs/performance.md.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

CUDA_GRAPH_MODES = {"reduce-overhead", "max-autotune"}
CHOICES = (True, False, "auto", "dynamic", "static")
# widths (<= 16) x batch sizes (train, last partial, eval, last partial) x train/eval modes
STATIC_RECOMPILE_LIMIT = 128


def compile_settings(wanted: bool | str, mode: str | None, device_type: str) -> dict | None:
    """`torch.compile` keyword arguments for `model.compile` = `wanted` on `device_type`, or
    None for eager."""
    if wanted not in CHOICES:
        raise ValueError(f"model.compile must be one of {CHOICES}, got {wanted!r}")
    if wanted == "auto":
        wanted = device_type == "cuda"
    if not wanted:
        return None
    if mode in CUDA_GRAPH_MODES and device_type != "cuda":
        log.warning(
            "model.compile_mode=%s records CUDA graphs: it needs a CUDA device, not %s; "
            "compiling with the default mode",
            mode,
            device_type,
        )
        mode = None
    return {"dynamic": wanted != "static", "mode": mode}


def compile_network(
    network: torch.nn.Module, wanted: bool | str, mode: str | None, device_type: str
) -> torch.nn.Module:
    """`network` compiled as `compile_settings` says (the module itself when eager)."""
    settings = compile_settings(wanted, mode, device_type)
    if settings is None:
        return network
    if not settings["dynamic"]:
        config = torch._dynamo.config
        name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
        setattr(config, name, max(getattr(config, name), STATIC_RECOMPILE_LIMIT))
    return torch.compile(network, **settings)
