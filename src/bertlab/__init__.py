"""bertlab: fine-tune pretrained BERT models on text classification (Lightning + Hydra)."""

__version__ = "0.1.0"
