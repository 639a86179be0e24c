"""What a run leaves behind besides checkpoints: the HParams entry and failure markers."""

from __future__ import annotations

import traceback
from pathlib import Path

from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from bertlab.utils.io import atomic_write_text

HPARAM_KEYS = (
    "seed",
    "data.batch_size",
    "data.max_length",
    "model.pretrained",
    "model.dropout",
    "model.optimizer.lr",
    "model.optimizer.weight_decay",
    "model.scheduler.warmup_fraction",
    "trainer.max_epochs",
    "trainer.precision",
)


def flat_hparams(cfg: DictConfig) -> dict[str, object]:
    """The hyperparameters worth comparing across runs, as flat scalars."""
    out = {}
    for key in HPARAM_KEYS:
        value = OmegaConf.select(cfg, key, default=None)
        out[key] = value if isinstance(value, (int, float, bool, str)) else str(value)
    source = OmegaConf.select(cfg, "data.source", default=None)
    out["data.source"] = str(OmegaConf.to_container(source, resolve=True) if source else "")
    return out


def log_hparams(loggers: list, cfg: DictConfig, best_val: float, test: dict | None) -> None:
    """Write the TensorBoard HParams entry with hp_metric = the best validation score."""
    metrics = {"hp_metric": best_val}
    if test:
        metrics.update({f"hp/{k}": v for k, v in test.items()})
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(flat_hparams(cfg), metrics)
            logger.finalize("success")


def write_failure(out: Path, err: BaseException) -> None:
    """Leave FAILED.txt (the error) in the run dir, so nothing there looks like a good run."""
    if not out.is_dir():
        return
    text = "".join(traceback.format_exception_only(type(err), err))
    atomic_write_text(out / "FAILED.txt", text)
