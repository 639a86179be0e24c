"""Where a parameter sits in a BERT stack, found from its module name (embeddings, encoder
layer i, or the head above them), and freezing the bottom of the stack (`model.freeze`).

Names are matched, not module classes, so the standard head (`bert.encoder.layer.3...`) and
the mean-pooling head (`encoder.encoder.layer.3...`) are treated alike."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from torch import nn

from bertlab.errors import ConfigError

log = logging.getLogger(__name__)

LAYER = re.compile(r"(?:^|\.)encoder\.layer\.(\d+)\.")
EMBEDDINGS = re.compile(r"(?:^|\.)embeddings\.")
FREEZE_KEYS = ("embeddings", "layers")


def encoder_layer(name: str) -> int | None:
    """The encoder layer index (0 = bottom) of a parameter name; None outside the layers."""
    match = LAYER.search(name)
    return int(match.group(1)) if match else None


def num_encoder_layers(network: nn.Module) -> int:
    """How many encoder layers the network's parameter names show (0 if none)."""
    found = {encoder_layer(name) for name, _ in network.named_parameters()} - {None}
    return max(found) + 1 if found else 0


def depth(name: str, num_layers: int) -> int:
    """Blocks between a parameter and the head: 0 for the head (pooler, classifier),
    num_layers - i for encoder layer i, num_layers + 1 for the embeddings."""
    layer = encoder_layer(name)
    if layer is not None:
        return num_layers - layer
    return num_layers + 1 if EMBEDDINGS.search(name) else 0


def block_name(block_depth: int, num_layers: int) -> str:
    """A readable name of the block at `block_depth`: embeddings, layer.<i> or head."""
    if block_depth == 0:
        return "head"
    if block_depth == num_layers + 1:
        return "embeddings"
    return f"layer.{num_layers - block_depth}"


@dataclass(frozen=True)
class FreezeOptions:
    """Validated `model.freeze` settings: freeze the embeddings and/or the bottom `layers`."""

    embeddings: bool = False
    layers: int = 0

    @classmethod
    def from_config(cls, node: Mapping | None) -> FreezeOptions:
        """Check a `model.freeze` node's keys and value types.

        Raises:
            ConfigError: an unknown key, or `layers` not a non-negative integer.
        """
        node = dict(node or {})
        if unknown := sorted(set(node) - set(FREEZE_KEYS)):
            raise ConfigError(
                f"model.freeze: unknown key(s) {unknown}; known: {list(FREEZE_KEYS)}."
            )
        layers = node.get("layers") or 0
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 0:
            raise ConfigError(f"model.freeze.layers={layers!r}: use a whole number >= 0.")
        return cls(bool(node.get("embeddings", False)), layers)


def freeze_layers(network: nn.Module, options: FreezeOptions) -> int:
    """Set `requires_grad=False` on the frozen parameters; returns how many were frozen.

    Raises:
        ConfigError: `layers` exceeds the network's encoder layers.
    """
    total = num_encoder_layers(network)
    if options.layers > total:
        raise ConfigError(
            f"model.freeze.layers={options.layers}, but the model has only {total} encoder "
            f"layers; use at most {total}."
        )
    frozen = 0
    for name, param in network.named_parameters():
        layer = encoder_layer(name)
        in_layers = layer is not None and layer < options.layers
        if in_layers or (options.embeddings and layer is None and EMBEDDINGS.search(name)):
            param.requires_grad_(False)
            frozen += param.numel()
    if frozen:
        log.info(
            "Frozen: %s%d of %d encoder layers (%d parameters)",
            "embeddings, " if options.embeddings else "",
            options.layers,
            total,
            frozen,
        )
    return frozen
