"""Data: sources, cleaning, split, tokenization cache, batching and the DataModule."""

from bertlab.data.datamodule import TextClassificationDataModule
from bertlab.data.sources import HubDataset, LocalFile, MovieReviews, Source
from bertlab.utils.instantiate import trust_subclasses

trust_subclasses(Source)  # bertlab's sources may be built from a run's config

__all__ = ["HubDataset", "LocalFile", "MovieReviews", "Source", "TextClassificationDataModule"]
