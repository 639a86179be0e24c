"""Data: sources, cleaning, split, tokenization cache, batching and the DataModule."""

from bertlab.data.datamodule import TextClassificationDataModule
from bertlab.data.sources import HubDataset, LocalFile, MovieReviews, Source

__all__ = ["HubDataset", "LocalFile", "MovieReviews", "Source", "TextClassificationDataModule"]
