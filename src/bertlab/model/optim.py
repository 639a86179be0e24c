"""Optimizer parameter groups and the learning-rate schedule."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping

import torch
from torch.optim.lr_scheduler import LambdaLR

from bertlab.errors import ConfigError
from bertlab.model.layers import block_name, depth, num_encoder_layers

log = logging.getLogger(__name__)


def check_layer_decay(node: Mapping | None) -> float | None:
    """The validated `model.optimizer_groups.layer_decay` (None: off).

    Raises:
        ConfigError: an unknown key, or a decay outside (0, 1].
    """
    node = dict(node or {})
    if unknown := sorted(set(node) - {"layer_decay"}):
        raise ConfigError(f"model.optimizer_groups: unknown key(s) {unknown}; known: layer_decay.")
    decay = node.get("layer_decay")
    if decay is None:
        return None
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 < decay <= 1:
        raise ConfigError(
            f"model.optimizer_groups.layer_decay={decay!r}: use a number in (0, 1] "
            "(e.g. 0.8), or null for one learning rate."
        )
    return float(decay)


def no_weight_decay(name: str, param: torch.nn.Parameter) -> bool:
    """Biases, LayerNorm and other 1-d parameters get no weight decay."""
    return param.ndim < 2 or name.endswith(".bias") or "LayerNorm" in name or "norm" in name


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: weight decay on weight matrices, none on biases and LayerNorm."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if no_weight_decay(name, param) else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def layer_decay_groups(
    model: torch.nn.Module, weight_decay: float, layer_decay: float
) -> list[dict]:
    """Layer-wise learning-rate decay, split into decay / no-decay groups per block.

    Encoder layer i of L gets `lr_scale` = layer_decay ** (L - i), the embeddings
    layer_decay ** (L + 1), the head (pooler, classifier) 1. Groups are named
    `<block>/decay` and `<block>/no_decay` (LearningRateMonitor logs them by name), bottom
    block first. Frozen parameters are left out.

    Raises:
        ConfigError: the model has no parameters named like BERT encoder layers.
    """
    num_layers = num_encoder_layers(model)
    if num_layers == 0:
        raise ConfigError(
            "model.optimizer_groups.layer_decay needs BERT encoder layers (parameters named "
            "...encoder.layer.<i>...); this model has none. Set it to null."
        )
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        block, skip = depth(name, num_layers), no_weight_decay(name, param)
        group = groups.setdefault(
            (block, skip),
            {
                "params": [],
                "weight_decay": 0.0 if skip else weight_decay,
                "lr_scale": layer_decay**block,
                "name": f"{block_name(block, num_layers)}/{'no_decay' if skip else 'decay'}",
            },
        )
        group["params"].append(param)
    return [groups[key] for key in sorted(groups, key=lambda k: (-k[0], k[1]))]


def apply_lr_scales(optimizer: torch.optim.Optimizer) -> None:
    """Multiply each param group's lr by its `lr_scale` (then dropped); before the scheduler
    is built, which takes the groups' lrs as its base."""
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * group.pop("lr_scale", 1.0)


def describe_lrs(optimizer: torch.optim.Optimizer) -> str:
    """One line: each block's lr (groups named `<block>/...` share a block), or each group's."""
    lrs: dict[str, float] = {}
    for i, group in enumerate(optimizer.param_groups, start=1):
        lrs.setdefault(str(group.get("name", f"pg{i}")).split("/")[0], float(group["lr"]))
    return ", ".join(f"{name} {lr:.3g}" for name, lr in lrs.items())


def linear_warmup_decay(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float = 0.1
) -> LambdaLR:
    """Linear warmup over `warmup_fraction` of the steps, then linear decay to zero."""
    warmup = int(total_steps * warmup_fraction)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return LambdaLR(optimizer, factor)


SchedulerFactory = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]


def build_optimizer(
    network: torch.nn.Module,
    factory: Callable[..., torch.optim.Optimizer],
    layer_decay: float | None,
    fused: bool = True,
) -> torch.optim.Optimizer:
    """The optimizer of `network`: no weight decay on biases / LayerNorm, layer-wise lr decay
    if set, frozen parameters left out, `fused=True` where the optimizer takes it. Logs the
    groups' learning rates."""
    keywords = getattr(factory, "keywords", {})
    weight_decay = keywords.get("weight_decay", 0.0)
    if layer_decay is None:
        groups = decay_groups(network, weight_decay)
    else:
        groups = layer_decay_groups(network, weight_decay, layer_decay)
    takes_fused = "fused" in inspect.signature(factory).parameters and "fused" not in keywords
    optimizer = factory(groups, **({"fused": True} if fused and takes_fused else {}))
    apply_lr_scales(optimizer)
    log.info("Learning rates: %s", describe_lrs(optimizer))
    return optimizer
