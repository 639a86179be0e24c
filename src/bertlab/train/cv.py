"""k-fold cross-validation: k fits in one job, one sub-run dir per fold, their mean returned.

``cv=kfold`` makes the pipeline fit fold i in ``<run dir>/fold_<i>/`` (its own checkpoints,
TensorBoard and metrics.json) with ``data.fold=[i, k]``: validation is fold i of the pooled
train+validation rows, and the test split is never opened. The job writes ``cv_summary.csv``
and ``metrics.json`` (``cv: {mean, std, per_fold}``) and returns the mean of
``objective.metric`` over folds, so a sweep trial's value is the k-fold mean. Inside a sweep
trial the running mean is reported to the pruner after each fold (step = fold index).
"""

from __future__ import annotations

import copy
import csv
import io
import logging
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, open_dict, read_write

from bertlab.callbacks.trial import current
from bertlab.errors import ConfigError
from bertlab.train.run_dir import RunDir
from bertlab.utils.io import atomic_write_text

log = logging.getLogger(__name__)

SUMMARY = "cv_summary.csv"


def fold_count(cfg: DictConfig) -> int | None:
    """The number of folds ``cv.k``, or None when the run does not cross-validate.

    Raises:
        ConfigError: k is not a whole number >= 2, or cv is combined with a test or a resume.
    """
    node = cfg.get("cv")
    if node is None or node.get("k") is None:
        return None
    k = node.k
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise ConfigError(f"cv.k={k!r}: k-fold cross-validation needs a whole number >= 2.")
    if cfg.get("test_after_fit"):
        raise ConfigError(
            "test_after_fit=true with cv=kfold: cross-validation scores on validation folds "
            "and never opens the test set. Test the chosen config in a run without cv, or "
            "with `python -m bertlab.sweep.final <sweep dir>`."
        )
    if cfg.get("resume") or cfg.get("ckpt_path"):
        raise ConfigError("resume / ckpt_path cannot be combined with cv=kfold: start it afresh.")
    return k


def fold_config(cfg: DictConfig, index: int, k: int) -> DictConfig:
    """The config of fold ``index``: its own output dir, ``data.fold`` set, never tested."""
    fold = copy.deepcopy(cfg)
    with read_write(fold), open_dict(fold):
        fold.paths.output_dir = str(Path(cfg.paths.output_dir) / f"fold_{index}")
        fold.data.fold = [index, k]
        fold.data.fold_seed = int(cfg.cv.seed)
        fold.test_after_fit = False
    return fold


def cross_validate(cfg: DictConfig, out: Path, fit: Callable[[DictConfig], dict]) -> float:
    """Fit every fold with ``fit`` (config → metrics record), then record and return the mean.

    Returns:
        The mean over folds of each fold's best ``cfg.objective.metric`` (NaN if one has none).
    """
    k, metric = int(cfg.cv.k), str(cfg.objective.metric)
    trial = current() if rank_zero_only.rank == 0 else None
    rows: list[dict[str, Any]] = []
    for index in range(k):
        log.info("Cross-validation: fold %d of %d", index, k)
        record = fit(fold_config(cfg, index, k))
        rows.append({"fold": index, "best_epoch": record.get("best_epoch"), **_val(record)})
        running = statistics.fmean(r.get(metric, math.nan) for r in rows)
        last = index == k - 1  # a trial that ran every fold is complete, never pruned
        if not last and _agree(trial is not None and trial.report(running, index)):
            log.info("Trial pruned after fold %d (running mean %s = %.4f)", index, metric, running)
            break
    result = summarize(rows)
    mean = result["mean"].get(metric, math.nan)
    if rank_zero_only.rank == 0:
        write_summary(out / SUMMARY, rows, result)
        head = {"objective": metric, "mode": cfg.objective.mode, "best_value": mean}
        RunDir(out).write_metrics({**head, "cv": {"k": k, **result}})
    spread = result["std"].get(metric, math.nan)
    log.info("%d-fold %s = %.4f ± %.4f; run dir %s", k, metric, mean, spread, out)
    return float(mean)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sample std over folds of every validation metric, and the rows themselves."""
    names = sorted({key for row in rows for key in row if key.startswith("val/")})
    values = {n: [float(r.get(n, math.nan)) for r in rows] for n in names}
    return {
        "mean": {n: statistics.fmean(v) for n, v in values.items()},
        "std": {n: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for n, v in values.items()},
        "per_fold": rows,
    }


def write_summary(path: Path, rows: list[dict[str, Any]], result: dict[str, Any]) -> Path:
    """Write ``cv_summary.csv``: one row per fold, then a mean and a std row."""
    names = sorted(result["mean"])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["fold", "best_epoch", *names], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    for stat in ("mean", "std"):
        writer.writerow({"fold": stat, **result[stat]})
    return atomic_write_text(path, buf.getvalue())


def _val(record: dict) -> dict[str, float]:
    """The validation metrics of a fold's best epoch."""
    best = record.get("best_val") or {}
    return {k: float(v) for k, v in best.items() if k.startswith("val/")}


def _agree(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (unchanged outside torch.distributed)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    box = [flag]
    dist.broadcast_object_list(box, src=0)
    return bool(box[0])
