"""For the distributed / resume / determinism tests: fast train.py runs, read back."""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import OmegaConf

from bertlab.model.module import TextClassifier
from helpers.inprocess import train_in_process
from helpers.runs import run_train, tiny_overrides

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
    out, overrides = fast(tmp, name, model_dir, csv, cache, *extra, run_dir=run_dir)
    return out, run_train(*(["-m"] if multirun else []), *overrides, env=env)


def train_here(tmp: Path, name: str, model_dir: Path, csv: Path, cache: Path, *extra: str) -> Path:
    """`train`'s run, in this process (`helpers.inprocess`); return its dir."""
    out, overrides = fast(tmp, name, model_dir, csv, cache, *extra)
    train_in_process(*overrides)
    return out


def fast(
    tmp: Path, name: str, model_dir: Path, csv: Path, cache: Path, *extra: str, run_dir: bool = True
) -> tuple[Path, list[str]]:
    """(tmp/name, the overrides of a FAST run of the tiny model into it; without
    hydra.run.dir if not `run_dir`)."""
    out = tmp / name
    base = [
        o
        for o in tiny_overrides(model_dir, csv, out, cache)
        if run_dir or not o.startswith("hydra.run.dir=")
    ]
    return out, [*base, *FAST, f"paths.log_dir={tmp / 'logs'}", *extra]


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
