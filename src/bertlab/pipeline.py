"""fit → select the best checkpoint → (test once) → record. `train.py` only composes."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import hydra
import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig
from transformers import AutoConfig

from bertlab.callbacks import ValidationHistory
from bertlab.distributed import distributed_job, job_is_multirun
from bertlab.errors import ConfigError
from bertlab.model.pretrained import resolve_pretrained
from bertlab.resume import RandomState, resume_checkpoint
from bertlab.sweep.context import trial_callbacks
from bertlab.utils.config import print_config_tree
from bertlab.utils.io import atomic_write_json
from bertlab.utils.record import log_hparams, write_failure

log = logging.getLogger(__name__)


def check_config(cfg: DictConfig) -> None:
    """Refuse inconsistent settings before any heavy work."""
    metric = cfg.objective.metric
    if not str(metric).startswith("val/"):
        raise ConfigError(
            f"objective.metric={metric}: model selection must use a validation metric "
            "(val/...); the test set is held out."
        )
    if cfg.objective.mode not in ("max", "min"):
        raise ConfigError(f"objective.mode={cfg.objective.mode}: use max or min.")
    path = resolve_pretrained(cfg.model.pretrained)
    limit = AutoConfig.from_pretrained(str(path)).max_position_embeddings
    if cfg.data.max_length > limit:
        raise ConfigError(
            f"data.max_length={cfg.data.max_length} exceeds the model's position limit of {limit} "
            f"tokens ({path}). Set data.max_length to at most {limit}."
        )


def should_test(cfg: DictConfig) -> bool:
    """`test_after_fit`, where null means: test a single run, never a multirun job."""
    value = cfg.get("test_after_fit")
    if value is not None:
        return bool(value)
    return not job_is_multirun()  # the same answer on every DDP rank


def build_callbacks(cfg: DictConfig) -> list[L.Callback]:
    nodes = cfg.get("callbacks") or {}
    return [hydra.utils.instantiate(node) for node in nodes.values() if node is not None]


def build_loggers(cfg: DictConfig) -> list:
    nodes = cfg.get("logger") or {}
    return [hydra.utils.instantiate(node) for node in nodes.values() if node is not None]


def run(cfg: DictConfig) -> float:
    """Train, select the best validation checkpoint, test it once if asked, record the run.

    Returns:
        The best value of `cfg.objective.metric` (what a sweep optimises); NaN if no
        validation ran.
    """
    out = Path(cfg.paths.output_dir)
    try:
        with distributed_job():  # a multirun's next job starts its own ranks afresh
            return _run(cfg, out)
    except BaseException as err:
        write_failure(out, err)
        raise


def _run(cfg: DictConfig, out: Path) -> float:
    check_config(cfg)
    ckpt_path = cfg.get("ckpt_path") or resume_checkpoint(cfg.get("resume"), out)
    L.seed_everything(cfg.seed, workers=True)
    first = rank_zero_only.rank == 0  # DDP re-runs this function in every rank's process
    if first:
        print_config_tree(cfg, save_to=out / "config.yaml", show=cfg.get("print_config", True))

    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    if first:
        (out / "FAILED.txt").unlink(missing_ok=True)  # a resumed run may have failed before
        atomic_write_json(out / "split_manifest.json", datamodule.split_manifest())
        atomic_write_json(
            out / "label_map.json",
            {
                "problem_type": datamodule.problem_type,
                "id2label": dict(enumerate(datamodule.label_names)),
            },
        )
    model = hydra.utils.instantiate(
        cfg.model,
        _convert_="partial",
        num_labels=datamodule.num_labels,
        problem_type=datamodule.problem_type,
        label_names=datamodule.label_names or None,
    )

    history = ValidationHistory()
    callbacks = [
        *build_callbacks(cfg),
        history,
        RandomState(),
        *trial_callbacks(cfg.objective.metric),
    ]
    loggers = build_loggers(cfg)
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)

    metric, mode = cfg.objective.metric, cfg.objective.mode
    best_row = history.best(metric, mode)
    best = best_row[metric] if best_row else math.nan
    checkpoint = trainer.checkpoint_callback
    best_path = checkpoint.best_model_path if checkpoint is not None else ""
    record = {
        "objective": metric,
        "mode": mode,
        "best_value": best,
        "best_val": best_row,
        "best_epoch": best_row["epoch"] if best_row else None,
        "best_checkpoint": best_path or None,
        "epochs_run": trainer.current_epoch,
        "global_step": trainer.global_step,
    }
    if should_test(cfg):
        results = trainer.test(model, datamodule=datamodule, ckpt_path=best_path or None)
        record["test"] = {k: float(v) for k, v in (results[0] if results else {}).items()}
    if trainer.is_global_zero:
        log_hparams(loggers, cfg, best, record.get("test"))
        atomic_write_json(out / "metrics.json", record)
    log.info("Best %s = %.4f (epoch %s); run dir %s", metric, best, record["best_epoch"], out)
    if "test" in record:
        log.info("Test: %s", ", ".join(f"{k} {v:.4f}" for k, v in record["test"].items()))
    return float(best)
