"""Helpers for the distributed / resume / determinism tests: fast train.py runs."""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import OmegaConf

from bertlab.model.module import TextClassifier
from conftest import run_train, tiny_overrides  # tests/ is on sys.path

# 240 train rows / batch 16 = 15 steps per epoch; 2 epochs = 30 steps; step checkpoints
# at 5, 10, ..., 30 (the final state: last.ckpt is only rewritten when the monitor improves).
FAST = [
    "data.batch_size=16",
    "trainer.max_epochs=2",
    "trainer.log_every_n_steps=1",
    "callbacks.step_checkpoint.every_n_train_steps=5",
    "callbacks.step_checkpoint.delete_at_end=false",  # the tests compare step0000030.ckpt
]


def train(
    tmp: Path,
    name: str,
    model_dir: Path,
    csv: Path,
    cache: Path,
    *extra: str,
    env: dict | None = None,
    multirun: bool = False,
    run_dir: bool = True,
):
    """Run train.py on the tiny model into tmp/name (or where Hydra says if not `run_dir`);
    return (that dir, finished process)."""
    out = tmp / name
    base = [
        o
        for o in tiny_overrides(model_dir, csv, out, cache)
        if run_dir or not o.startswith("hydra.run.dir=")
    ]
    overrides = [*base, *FAST, f"paths.log_dir={tmp / 'logs'}", *extra]
    return out, run_train(*(["-m"] if multirun else []), *overrides, env=env)


def metrics(run_dir: Path) -> dict:
    """The run's metrics.json."""
    return json.loads((run_dir / "metrics.json").read_text())


def evaluate(run_dir, split: str, ckpt: str) -> dict[str, float]:
    """Evaluate a checkpoint in this process (one rank) on the run's own data config."""
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    datamodule = hydra.utils.instantiate(cfg.data)
    model = TextClassifier.load_from_checkpoint(ckpt, map_location="cpu", weights_only=True)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
    )
    run = trainer.validate if split == "val" else trainer.test
    return {k: float(v) for k, v in run(model, datamodule=datamodule, verbose=False)[0].items()}


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's model weights."""
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
