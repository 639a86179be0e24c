"""A Task of a user's own, with a constructor argument (tests of the `task` config group)."""

from __future__ import annotations

from bertlab.tasks import SingleLabel


class Tempered(SingleLabel):
    """Single-label classification whose loss divides the logits by a temperature."""

    name = "tempered"

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature

    def loss(self, logits, labels, weights=None, smoothing=0.0):
        return super().loss(logits / self.temperature, labels, weights, smoothing)
