"""Loss options (`model.loss`): class weights and label smoothing for single-label tasks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from bertlab.errors import ConfigError
from bertlab.tasks import Task

BALANCED = "balanced"
KEYS = ("class_weights", "label_smoothing")


@dataclass(frozen=True)
class LossOptions:
    """Validated `model.loss` settings.

    Attributes:
        class_weights: None, "balanced" or one weight per class.
        label_smoothing: the cross entropy's label smoothing, in [0, 1).
    """

    class_weights: str | tuple[float, ...] | None = None
    label_smoothing: float = 0.0

    @classmethod
    def from_config(cls, node: Mapping | None, task: Task, num_labels: int) -> LossOptions:
        """Check a `model.loss` node against the task.

        Raises:
            ConfigError: an unknown key, a value out of range, a weight list of the wrong
                length, or an option set for a task other than single-label.
        """
        node = dict(node or {})
        if unknown := sorted(set(node) - set(KEYS)):
            raise ConfigError(f"model.loss: unknown key(s) {unknown}; known: {list(KEYS)}.")
        weights = _check_weights(node.get("class_weights"), num_labels)
        smoothing = _check_smoothing(node.get("label_smoothing") or 0.0)
        if (weights is not None or smoothing) and not task.weighted_loss:
            raise ConfigError(
                f"model.loss.class_weights / model.loss.label_smoothing apply to single-label "
                f"classification only, not {task.name}. Remove them for this task."
            )
        return cls(weights, smoothing)


def _check_weights(value: object, num_labels: int) -> str | tuple[float, ...] | None:
    if value is None or value == BALANCED:
        return value
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(
            f"model.loss.class_weights={value!r}: use null, balanced or a list of "
            f"{num_labels} weights (one per class, in label order)."
        )
    weights = tuple(float(w) for w in value)
    if len(weights) != num_labels:
        raise ConfigError(
            f"model.loss.class_weights has {len(weights)} weights but the task has "
            f"{num_labels} classes: give one weight per class, in label order."
        )
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
        raise ConfigError(
            f"model.loss.class_weights={list(weights)}: weights must be finite, non-negative "
            "and not all zero."
        )
    return weights


def _check_smoothing(value: object) -> float:
    smoothing = float(value)
    if not 0.0 <= smoothing < 1.0:
        raise ConfigError(f"model.loss.label_smoothing={value}: use a value in [0, 1).")
    return smoothing


def balanced_weights(counts: Sequence[int]) -> torch.Tensor:
    """n_samples / (n_classes * count_c): every class weighs the same in the summed loss.

    Raises:
        ConfigError: a class has no training examples.
    """
    counts_t = torch.as_tensor(counts, dtype=torch.float64)
    if (counts_t <= 0).any():
        raise ConfigError(
            f"model.loss.class_weights=balanced: train label counts {list(counts)} include "
            "a class with no examples; give explicit weights or fix the data."
        )
    return (counts_t.sum() / (len(counts_t) * counts_t)).float()


def class_weight_tensor(
    options: LossOptions, label_names: Sequence[str], label_counts: Mapping[str, int] | None
) -> torch.Tensor | None:
    """The cross-entropy weights in label order; None when unweighted.

    `balanced` needs the train split's label counts; without them (a model rebuilt to load a
    checkpoint, which carries the weights) the weights are ones until the checkpoint loads.
    """
    if options.class_weights is None:
        return None
    if options.class_weights != BALANCED:
        return torch.tensor(options.class_weights, dtype=torch.float32)
    if label_counts is None:
        return torch.ones(len(label_names))
    return balanced_weights([int(label_counts.get(name, 0)) for name in label_names])
