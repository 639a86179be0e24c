"""What a run leaves behind besides checkpoints: the loggers' final record, failure markers."""

from __future__ import annotations

import contextlib
import traceback
from pathlib import Path

from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
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


def log_hparams(loggers: list[Logger], cfg: DictConfig, record: dict) -> None:
    """Give each logger the run's final record, next to `flat_hparams(cfg)`.

    TensorBoard: the HParams entry, hp_metric = the best validation value (and hp/<test metric>).
    MLflow: params, metric best/<objective>, tags best_checkpoint and run_dir.
    W&B: config, summary best/<objective> and best_checkpoint.
    MLflow and W&B runs are named after the run dir by their configs.

    Args:
        loggers: The trainer's loggers; other kinds are left alone.
        cfg: The run's config.
        record: What metrics.json records (best_value, objective, best_checkpoint, test).
    """
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            _tensorboard(logger, cfg, record)
        elif isinstance(logger, MLFlowLogger):
            _mlflow(logger, cfg, record)
        elif isinstance(logger, WandbLogger):
            _wandb(logger, cfg, record)


def _best(record: dict) -> dict[str, float]:
    """The best validation value, keyed best/<objective> (e.g. best/val/acc)."""
    return {f"best/{record['objective']}": record["best_value"]}


def _tensorboard(logger: TensorBoardLogger, cfg: DictConfig, record: dict) -> None:
    """The HParams entry with hp_metric = the best validation value."""
    metrics = {"hp_metric": record["best_value"]}
    metrics.update({f"hp/{k}": v for k, v in (record.get("test") or {}).items()})
    logger.log_hyperparams(flat_hparams(cfg), metrics)
    logger.finalize("success")


def _mlflow(logger: MLFlowLogger, cfg: DictConfig, record: dict) -> None:
    """Params, the best value as a metric, the best checkpoint and run dir as tags."""
    client, run_id = logger.experiment, logger.run_id
    logger.log_hyperparams(flat_hparams(cfg))
    logger.log_metrics(_best(record), step=record["global_step"])
    client.set_tag(run_id, "run_dir", str(cfg.paths.output_dir))
    if record.get("best_checkpoint"):
        client.set_tag(run_id, "best_checkpoint", record["best_checkpoint"])
    logger.finalize("success")


def _wandb(logger: WandbLogger, cfg: DictConfig, record: dict) -> None:
    """Config, the best value and best checkpoint in the run's summary; then finish it."""
    run = logger.experiment
    logger.log_hyperparams(flat_hparams(cfg))
    run.summary.update({**_best(record), "best_checkpoint": record.get("best_checkpoint")})
    run.finish()  # Lightning leaves it open: unfinished, an offline run keeps no summary


def write_failure(out: Path, err: BaseException) -> None:
    """Leave FAILED.txt (the error) in the run dir, so nothing there looks like a good run."""
    if not out.is_dir():
        return
    text = "".join(traceback.format_exception_only(type(err), err))
    with contextlib.suppress(OSError):  # e.g. a full disk stopped the run: the error still shows
        atomic_write_text(out / "FAILED.txt", text)
