"""Model: the LightningModule, metrics, optimizer groups and pretrained-checkpoint resolution."""

from bertlab.model.module import TextClassifier

__all__ = ["TextClassifier"]
