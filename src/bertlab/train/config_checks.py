"""Refuse bad settings before any data work: each message names the key and a valid value."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf
from transformers import AutoConfig

from bertlab.data.encoding import Encoding
from bertlab.errors import ConfigError
from bertlab.pretrained import resolve_pretrained
from bertlab.tasks import get_task


def check_config(cfg: DictConfig) -> None:
    """Check the composed config; raise one ConfigError naming the first bad key."""
    check_data(cfg.data)
    check_trainer(cfg.get("trainer"))
    check_objective(cfg)
    lr = OmegaConf.select(cfg, "model.optimizer.lr", default=None)
    if lr is not None and not (_is_number(lr) and lr > 0):
        raise ConfigError(f"model.optimizer.lr={lr!r}: the learning rate must be a number > 0.")
    check_max_length(cfg)


def check_trainer(trainer: DictConfig | None) -> None:
    """Refuse a key Lightning's Trainer does not take (`+trainer.max_epoch=3`), naming the
    closest one, before any data is loaded."""
    import difflib
    import inspect

    if trainer is None or trainer.get("_target_") not in TRAINERS:
        return
    import lightning as L

    known = set(inspect.signature(L.Trainer.__init__).parameters) - {"self"}
    for key in trainer:
        if key.startswith("_") or key in known:
            continue
        close = difflib.get_close_matches(str(key), sorted(known), n=1)
        hint = f"; did you mean trainer.{close[0]}?" if close else "."
        raise ConfigError(f"trainer.{key} is not an argument of Lightning's Trainer{hint}")


TRAINERS = ("lightning.pytorch.Trainer", "lightning.Trainer", "pytorch_lightning.Trainer")


def check_data(data: DictConfig) -> None:
    """Batch sizes, max_length and truncation, the task, a validation split, a file for
    data=csv."""
    for key in ("batch_size", "eval_batch_size"):
        value = data.get(key)
        if not _is_int(value) or value < 1:
            raise ConfigError(f"data.{key}={value!r}: use a whole number of examples >= 1.")
    if not _is_int(data.get("max_length")) or data.max_length < 2:
        raise ConfigError(
            f"data.max_length={data.get('max_length')!r}: use a whole number >= 2 (room for "
            "[CLS] and [SEP]); 128 suits sentences, 512 long reviews."
        )
    source = data.get("source")
    Encoding.from_config(data).check()
    get_task(data.get("task"))  # raises ConfigError naming data.task
    if _lacks_file(source):
        raise ConfigError(
            "data=csv needs a file: set data.source.path=<file.csv|.tsv|.jsonl|.parquet> "
            "(or data.source.path=null '+data.source.files={train: a.csv, test: b.csv}')."
        )
    split = data.get("split")
    no_validation = isinstance(split, DictConfig) and split.get("validation") == 0
    if no_validation and not _provides(source, "validation"):
        raise ConfigError(
            "data.split.validation=0 leaves no validation split, but model selection and "
            "early stopping score on it. Use e.g. data.split.validation=0.1, or provide a "
            "validation file (data.source.files.validation) or split column."
        )
    if isinstance(split, DictConfig) and split.get("test") == 0 and not _provides(source, "test"):
        raise ConfigError(
            "data.split.test=0 leaves no test split, but the run's test and `evaluate` score "
            "on it (sweeps and cv never open it). Use e.g. data.split.test=0.1, or provide a "
            "test file (data.source.files.test) or split column."
        )


def check_objective(cfg: DictConfig) -> None:
    """objective.metric is a val/ metric this model logs; objective.mode is max or min."""
    metric = str(cfg.objective.metric)
    if not metric.startswith("val/"):
        raise ConfigError(
            f"objective.metric={metric}: model selection must use a validation metric "
            "(val/...); the test set is held out."
        )
    if cfg.objective.mode not in ("max", "min"):
        raise ConfigError(f"objective.mode={cfg.objective.mode}: use max or min.")
    task = get_task(cfg.data.get("task", "single_label"))
    extra = OmegaConf.select(cfg, "model.extra_metrics", default=None) or {}
    names = ("loss", *task.metric_names, *extra)
    if metric.removeprefix("val/") not in names:
        raise ConfigError(
            f"objective.metric={metric} is not logged by a {task.name} model; choose one of "
            f"{', '.join('val/' + n for n in names)}."
        )


def check_max_length(cfg: DictConfig) -> None:
    """data.max_length within the model's position limit."""
    path = resolve_pretrained(cfg.model.pretrained)
    limit = AutoConfig.from_pretrained(str(path)).max_position_embeddings
    if cfg.data.max_length > limit:
        raise ConfigError(
            f"data.max_length={cfg.data.max_length} exceeds the model's position limit of {limit} "
            f"tokens ({path}). Set data.max_length to at most {limit}."
        )


def _lacks_file(source: Any) -> bool:
    """A local-file source with neither a path nor per-split files."""
    # `"path" in source` is False while path is ??? (missing): ask the keys
    if not isinstance(source, DictConfig) or not {"path", "files"} <= set(source.keys()):
        return False
    return OmegaConf.is_missing(source, "path") or (not source.path and not source.files)


def _provides(source: Any, split: str) -> bool:
    """Whether the source may provide its own `split` (checked again after loading)."""
    if not isinstance(source, DictConfig):
        return True
    target = str(source.get("_target_", ""))
    if target.endswith("MovieReviews"):
        return False
    if target.endswith("LocalFile"):
        return bool(source.get("split_column")) or split in (source.get("files") or {})
    return True  # a hub dataset or your own source: the split step checks it


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
