"""TextClassifier under a real Lightning Trainer for one epoch on the toy corpus (moved out of
tests/unit/test_module.py: it trains)."""

from __future__ import annotations

import functools

import lightning as L
import torch

from bertlab.model import TextClassifier


def test_fit_with_real_trainer_logs_epoch_metrics(tiny_model_dir, tiny_csv, cache_dir):
    from bertlab.data import LocalFile, TextClassificationDataModule

    dm = TextClassificationDataModule(
        LocalFile(path=str(tiny_csv)),
        tokenizer=str(tiny_model_dir),
        cache_dir=str(cache_dir),
        batch_size=16,
    )
    dm.setup()
    model = TextClassifier(
        str(tiny_model_dir),
        num_labels=dm.num_labels,
        optimizer=functools.partial(torch.optim.AdamW, lr=3e-3),
    )
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    metrics = trainer.callback_metrics
    assert {"train/loss", "train/acc", "val/acc", "val/auroc", "val/loss"} <= set(metrics)
