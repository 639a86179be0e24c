"""The torch.compile decision for `TextClassifier` (model.compile / model.compile_mode).

`compile`:
- "auto" (default): compile only when the planned training steps can repay the compile
  (`plan_compile`; the estimate and the one log line saying what it chose and why). It
  compiles "regional"ly, and never for a run that only evaluates or predicts.
- "regional": compile the repeated encoder layer only (`layer.compile()` on each
  `encoder.layer[i]`: every layer runs the same code, so Dynamo builds one graph and reuses
  it for all of them); embeddings, pooler and head stay eager. Dynamic shapes. A fraction of
  the whole-model compile time (bench/compile_time.py).
- True / "dynamic" / "full": compile the whole network, dynamic shapes (one graph for every
  batch shape).
- "static": the whole network, one static graph per batch shape, for bounded shapes
  (data.pad_to_multiple_of=auto on a GPU: buckets:<max_length>). Each shape compiles
  once, so only worth it with few shapes; the recompile limit is raised to
  STATIC_RECOMPILE_LIMIT so that no shape falls back to eager.
- False / "eager": eager.

Compiled code is cached on disk across processes (`bertlab.model.compile_cache`).

`compile_mode` "reduce-overhead" (CUDA graphs, recorded per batch shape: use it with bounded
shapes) or "max-autotune" (autotuning + CUDA graphs) need a CUDA device: elsewhere they are
dropped to the default mode with a warning.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

CUDA_GRAPH_MODES = {"reduce-overhead", "max-autotune"}
CHOICES = (True, False, "auto", "dynamic", "static", "full", "regional", "eager")
# widths (<= 16) x batch sizes (train, last partial, eval, last partial) x train/eval modes
STATIC_RECOMPILE_LIMIT = 128

# `auto`'s estimate (CUDA; on other devices it stays eager: compiled steps were not measured
# faster on CPU, docs/performance.md). Derived from the H200 figures of issue 19 (bert-base,
# batch 32, bf16): a whole-model compile took ~90 s, steady compiled steps ~40 ms against
# ~55 ms eager, so ~12 ms saved a step; regional compile measured on CPU at a fraction of
# whole-model (bench/compile_time.py), taken here as 35% cold; a warm cache loads compiled
# code instead of compiling. Estimates until a GPU run measures them.
AUTO_STEP_SAVING_S = 0.012
AUTO_COST_S = {"cold": 30.0, "warm": 6.0}


@dataclass(frozen=True)
class CompilePlan:
    """What to compile: `how` is "eager", "full" or "regional"; `why` is said in the log."""

    how: str
    dynamic: bool = True
    mode: str | None = None
    why: str = ""

    @property
    def compiles(self) -> bool:
        return self.how != "eager"


def check_choice(wanted: bool | str) -> None:
    if wanted not in CHOICES:
        raise ValueError(f"model.compile must be one of {CHOICES}, got {wanted!r}")


def auto_plan(device_type: str, planned_steps: float | None, warm: bool) -> tuple[str, str]:
    """("regional" or "eager", why) for model.compile=auto: compile when
    planned_steps x AUTO_STEP_SAVING_S exceeds the estimated compile (cold or warm cache)."""
    if device_type != "cuda":
        return "eager", f"on {device_type} compiled steps were not measured faster"
    if not planned_steps:
        return "eager", "no training steps planned (evaluation or prediction only)"
    cost = AUTO_COST_S["warm" if warm else "cold"]
    cache = "warm compile cache" if warm else "cold compile cache"
    saving = planned_steps * AUTO_STEP_SAVING_S
    steps = "unbounded" if math.isinf(planned_steps) else f"{int(planned_steps):,}"
    words = f"{steps} planned steps x ~{AUTO_STEP_SAVING_S * 1e3:.0f} ms saved"
    if saving > cost:
        return "regional", f"{words} > ~{cost:.0f} s to compile ({cache})"
    return "eager", f"{words} = ~{saving:.0f} s < ~{cost:.0f} s to compile ({cache})"


def plan_compile(
    wanted: bool | str,
    mode: str | None,
    device_type: str,
    planned_steps: float | None = None,
    warm: bool = False,
) -> CompilePlan:
    """The plan for `model.compile` = `wanted` on `device_type`; `planned_steps` (training
    steps of this fit, None or 0 when not training) and `warm` (a compile cache for this model
    exists) inform `auto` only."""
    check_choice(wanted)
    why = f"model.compile={wanted}"
    if wanted == "auto":
        how, reason = auto_plan(device_type, planned_steps, warm)
        why = f"model.compile=auto: {'eager' if how == 'eager' else how + ' compile'}, {reason}"
    elif wanted in (True, "dynamic", "full", "static"):
        how = "full"
    else:
        how = "eager" if wanted in (False, "eager") else wanted
    if how == "eager":
        return CompilePlan("eager", why=why)
    if mode in CUDA_GRAPH_MODES and device_type != "cuda":
        log.warning(
            "model.compile_mode=%s records CUDA graphs: it needs a CUDA device, not %s; "
            "compiling with the default mode",
            mode,
            device_type,
        )
        mode = None
    return CompilePlan(how, dynamic=wanted != "static", mode=mode, why=why)


def compile_settings(wanted: bool | str, mode: str | None, device_type: str) -> dict | None:
    """`torch.compile` keyword arguments for `model.compile` = `wanted` on `device_type`, or
    None for eager (`auto` without a step count: eager)."""
    plan = plan_compile(wanted, mode, device_type)
    return {"dynamic": plan.dynamic, "mode": plan.mode} if plan.compiles else None


def encoder_layers(network: torch.nn.Module) -> torch.nn.ModuleList | None:
    """The repeated transformer layers (`...encoder.layer`), or None if the network has none."""
    for name, module in network.named_modules():
        if name.rsplit(".", 2)[-2:] == ["encoder", "layer"] and isinstance(
            module, torch.nn.ModuleList
        ):
            return module
    return None


def apply_plan(
    network: torch.nn.Module, plan: CompilePlan, backend: str = "inductor"
) -> torch.nn.Module:
    """`network` compiled as `plan` says: a compiled wrapper ("full"), the network itself with
    its encoder layers compiled in place ("regional"), or the network untouched ("eager")."""
    if not plan.compiles:
        return network
    settings = {"dynamic": plan.dynamic, "mode": plan.mode, "backend": backend}
    if plan.how == "regional":
        layers = encoder_layers(network)
        if layers is not None:
            for layer in layers:
                layer.compile(**settings)
            return network
        log.warning("model.compile=regional: no encoder.layer list found; compiling it whole")
    if not plan.dynamic:
        config = torch._dynamo.config
        name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
        setattr(config, name, max(getattr(config, name), STATIC_RECOMPILE_LIMIT))
    return torch.compile(network, **settings)


def compile_network(
    network: torch.nn.Module, wanted: bool | str, mode: str | None, device_type: str
) -> torch.nn.Module:
    """`network` compiled as `compile_settings` says (the module itself when eager)."""
    return apply_plan(network, plan_compile(wanted, mode, device_type))


def compile_with_cache(
    network: torch.nn.Module,
    wanted: bool | str,
    mode: str | None,
    device_type: str,
    planned_steps: float | None = None,
    precision: str = "32-true",
    cache_root: str | None = None,
) -> torch.nn.Module | None:
    """What `TextClassifier` runs: the plan (auto's choice logged in one line when training:
    `planned_steps` not None), the on-disk compile cache opened under `cache_root` when it
    compiles, then the compile. Returns the module to call (a compiled wrapper, or `network`
    with compiled layers), None when eager."""
    from bertlab.model.compile_cache import cache_key, open_cache

    plan = plan_compile(wanted, mode, device_type, planned_steps, warm=True)
    if plan.compiles and cache_root:
        cache = open_cache(cache_root, cache_key(network, device_type, precision))
        plan = plan_compile(wanted, mode, device_type, planned_steps, warm=cache.warm)
        if plan.compiles:
            cache.record_at_exit()
    if wanted == "auto" and planned_steps is not None:
        log.info(plan.why)
    return apply_plan(network, plan) if plan.compiles else None
