"""fit → select the best checkpoint → (test once) → record; or k-fold cross-validation
(`bertlab.train.cv`). `train.py` only composes."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from bertlab.callbacks.predictions import TestPredictions
from bertlab.callbacks.pruning import trial_callbacks
from bertlab.callbacks.random_state import RandomState
from bertlab.callbacks.training import NonFiniteLossGuard, ValidationHistory
from bertlab.callbacks.trial import current
from bertlab.data.encoding import Encoding
from bertlab.errors import BertlabError, DataError, RunDirError
from bertlab.train.best import checkpoint_row
from bertlab.train.checkpoints import relative_path
from bertlab.train.config_checks import check_config
from bertlab.train.cv import cross_validate, fold_count
from bertlab.train.distributed import distributed_job
from bertlab.train.logger_checks import check_loggers
from bertlab.train.resume import resume_checkpoint
from bertlab.train.run_dir import RunDir
from bertlab.utils.config import print_config_tree
from bertlab.utils.instantiate import instantiate
from bertlab.utils.jobs import job_is_multirun
from bertlab.utils.record import log_failure, log_hparams

log = logging.getLogger(__name__)


def should_test(cfg: DictConfig) -> bool:
    """`test_after_fit`, where null means: test a single run, never a multirun job."""
    value = cfg.get("test_after_fit")
    if value is not None:
        return bool(value)
    return not job_is_multirun()  # the same answer on every DDP rank


def build_callbacks(cfg: DictConfig) -> list[L.Callback]:
    nodes = cfg.get("callbacks") or {}
    return [instantiate(node) for node in nodes.values() if node is not None]


def build_loggers(cfg: DictConfig) -> list:
    nodes = cfg.get("logger") or {}
    return [instantiate(node) for node in nodes.values() if node is not None]


def guard_callbacks(cfg: DictConfig) -> list[L.Callback]:
    """The non-finite loss guard, unless `max_nonfinite_steps` is null or 0."""
    steps = cfg.get("max_nonfinite_steps", 3)
    return [NonFiniteLossGuard(int(steps))] if steps else []


def check_labels(datamodule: L.LightningDataModule) -> None:
    """The train split has as many classes as the task needs (two for single-label).

    Raises:
        DataError: naming the classes found.
    """
    names, needed = datamodule.label_names, datamodule.task.min_classes
    if len(names) < needed:
        found = "one class only" if len(names) == 1 else f"{len(names)} classes"
        raise DataError(
            f"The training data has {found} ({names}): a {datamodule.task.name} "
            f"classifier needs {needed} or more. Check data.source.label_column, or the file's "
            "label column."
        )


def check_resumed_data(out: Path, datamodule: L.LightningDataModule, manifest: dict) -> None:
    """The resumed run's data must give the recorded labels and split.

    Raises:
        RunDirError: naming what changed (nothing has been written).
    """
    run = RunDir(out)
    try:
        run.check_same_labels(datamodule.task.name, datamodule.label_names)
        run.check_same_split(manifest)
    except BertlabError as err:
        raise RunDirError(f"resume={out}: {err}") from None


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
    except RunDirError:
        raise  # refused before writing: the dir is another run's, leave it as it was
    except BaseException as err:
        RunDir(out).write_failure(err)
        raise


def _run(cfg: DictConfig, out: Path) -> float:
    check_config(cfg)
    folds = fold_count(cfg)
    first = rank_zero_only.rank == 0  # DDP re-runs this function in every rank's process
    if first:
        check_loggers(cfg)  # an MLflow store that cannot be used: refused before the data
    resume = cfg.get("resume")
    ckpt_path = cfg.get("ckpt_path") or resume_checkpoint(resume, out)
    if resume:
        for change in RunDir(out).check_resume_compatible(cfg):
            log.info("Resuming with a changed setting: %s", change)
    elif first:
        RunDir(out).claim()
    L.seed_everything(cfg.seed, workers=True)
    if first:
        print_config_tree(cfg, show=cfg.get("print_config", "overrides"))
    datamodule, manifest = load_data(cfg, out, resume)
    if folds:
        return cross_validate(cfg, out, _fit_fold)
    record = train(cfg, out, datamodule, manifest, ckpt_path, test=should_test(cfg), report=True)
    return float(record["best_value"])


def _fit_fold(cfg: DictConfig) -> dict:
    """Fit one cross-validation fold in its own run dir (`cfg.paths.output_dir`)."""
    out = Path(cfg.paths.output_dir)
    if rank_zero_only.rank == 0:
        RunDir(out).claim()
    L.seed_everything(cfg.seed, workers=True)
    return train(cfg, out, *load_data(cfg, out), test=False, report=False)


def load_data(
    cfg: DictConfig, out: Path, resume: str | None = None
) -> tuple[L.LightningDataModule, dict]:
    """Build the DataModule, check it, and record the config, split and labels in `out`.

    Returns:
        The DataModule and its split manifest.
    """
    datamodule = instantiate(cfg.data)
    if rank_zero_only.rank == 0:
        datamodule.prepare_data()  # other ranks load the entry (waiting on its lock) in setup
    datamodule.setup("fit")
    check_labels(datamodule)
    manifest = datamodule.split_manifest()
    if resume:
        check_resumed_data(out, datamodule, manifest)
    if rank_zero_only.rank == 0:
        run = RunDir(out)
        run.write_config(cfg)
        run.clear_failure()  # a resumed run may have failed before
        run.write_manifest(manifest)
        run.write_encoding(run_encoding(cfg, datamodule).to_json())
        run.write_labels(datamodule.task.name, datamodule.label_names)
    return datamodule, manifest


def run_encoding(cfg: DictConfig, datamodule: L.LightningDataModule) -> Encoding:
    """The DataModule's encoding (a custom DataModule without one: the data config's), pinned
    to its tokenizer files' sha256."""
    encoding = getattr(datamodule, "encoding", None) or Encoding.from_config(cfg.data)
    return encoding.pinned()


def train(
    cfg: DictConfig,
    out: Path,
    datamodule: L.LightningDataModule,
    manifest: dict,
    ckpt_path: str | None = None,
    test: bool = False,
    report: bool = True,
) -> dict:
    """Fit, select the best validation epoch, test it if `test`, write `out/metrics.json`.

    Args:
        manifest: the DataModule's split manifest (its train label counts weight the loss).
        report: report each validation to an active sweep trial (its pruner may stop the fit).

    Returns:
        The metrics record written to `metrics.json`.
    """
    model = instantiate(
        cfg.model,
        _convert_="partial",
        num_labels=datamodule.num_labels,
        task=datamodule.task,
        label_names=datamodule.label_names or None,
        label_counts=train_label_counts(datamodule, manifest),
    )

    history = ValidationHistory()
    predictions = TestPredictions()
    callbacks = [
        *build_callbacks(cfg),
        history,
        RandomState(),
        *guard_callbacks(cfg),
        *(trial_callbacks(cfg.objective.metric) if report else []),
        *([predictions] if test else []),
    ]
    loggers = build_loggers(cfg)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    trial = current() if report else None
    swept = list(trial.trial.params) if trial is not None else None
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    except Exception:
        if trainer.is_global_zero:
            log_failure(loggers, cfg, swept)  # the HParams row says FAILED
        raise

    metric, mode = cfg.objective.metric, cfg.objective.mode
    checkpoint = trainer.checkpoint_callback
    best_path = checkpoint.best_model_path if checkpoint is not None else ""
    best_row = checkpoint_row(history.epochs, best_path) or history.best(metric, mode)
    best = best_row.get(metric, math.nan) if best_row else math.nan
    record = {
        "objective": metric,
        "mode": mode,
        "best_value": best,
        "best_val": best_row,
        "best_epoch": best_row["epoch"] if best_row else None,
        "best_checkpoint": relative_path(best_path, out),  # a moved run dir finds its own
        "epochs_run": trainer.current_epoch,
        "max_epochs": trainer.max_epochs,
        "global_step": trainer.global_step,
        "status": "PRUNED" if trial is not None and trial.pruned else "COMPLETE",
    }
    if test:
        results = trainer.test(
            model, datamodule=datamodule, ckpt_path=best_path or None, verbose=False
        )  # printed once, as the `Test:` line below
        record["test"] = {k: float(v) for k, v in (results[0] if results else {}).items()}
    if trainer.is_global_zero:
        write_test_predictions(out, datamodule, predictions.result() if test else None)
        RunDir(out).write_metrics(record)  # after the predictions (a finished run has them),
        log_hparams(loggers, cfg, record, swept)  # before the loggers (MLflow uploads it)
    log.info("Best %s = %.4f (epoch %s); run dir %s", metric, best, record["best_epoch"], out)
    if "test" in record:
        log.info("Test: %s", ", ".join(f"{k} {v:.4f}" for k, v in record["test"].items()))
    return record


def write_test_predictions(out: Path, datamodule: L.LightningDataModule, rows: dict | None) -> None:
    """Store the test rows (`TestPredictions.result()`) with their example ids (the corpus's
    stable ids; a DataModule without them: the position in the test split)."""
    if rows is None:
        log.warning("The test predictions could not be collected; none stored in %s.", out)
        return
    positions = rows["position"]
    corpus, indices = getattr(datamodule, "corpus", None), getattr(datamodule, "indices", None)
    example_ids = getattr(corpus, "example_ids", None)
    if example_ids is not None and indices is not None and "test" in indices:
        ids = np.asarray(example_ids)[np.asarray(indices["test"])[positions]].astype(str)
    else:
        ids = positions.astype(str)
    RunDir(out).write_test_predictions(ids, rows["logits"], rows["labels"])


def train_label_counts(datamodule: L.LightningDataModule, manifest: dict) -> dict[str, int]:
    """What `class_weights: balanced` is computed from: the DataModule's counts of what the
    loss sees (windows, under data.truncation=chunks), else the manifest's train counts."""
    counts = getattr(datamodule, "train_label_counts", None)
    return counts() if callable(counts) else manifest["splits"]["train"]["label_counts"]
