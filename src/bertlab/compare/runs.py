"""The runs of a comparison: found finished (reused) or trained and tested now (existing run
dirs given with ``--runs``: `bertlab.compare.existing`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from bertlab.compare.arms import (
    RUN_PLACEHOLDER,
    Arm,
    cv_folds,
    differences,
    fingerprint,
    run_config,
)
from bertlab.errors import ConfigError, DataError, RunDirError
from bertlab.sweep import final, lockbox
from bertlab.train.run_dir import RunDir

log = logging.getLogger(__name__)
RUNS = "runs"  # <compare dir>/runs/<fingerprint>/seed_<s>


@dataclass
class Run:
    """A finished run of an arm: tested once, or (``cv=kfold``) cross-validated."""

    arm: str
    seed: int
    dir: Path
    task: str
    test: dict[str, float]  # its scores: test metrics, or the k-fold means of val metrics
    predictions: dict[str, np.ndarray] | None
    test_split: str | None  # the sha256 of the examples it was scored on (folds: all of them)
    reused: bool = True
    folds: list[dict[str, float]] | None = None  # per fold, in fold order (cv runs only)


def read_run(path: Path, arm: str, reused: bool = True) -> Run:
    """A finished run dir as a `Run`.

    Raises:
        RunDirError: the run has neither test metrics nor a k-fold record (not finished, or
            never tested).
    """
    run = RunDir(path)
    metrics = run.metrics()
    cv = metrics.get("cv")
    if not (metrics.get("test") or cv) or (run / RunDir.FAILED).exists():
        raise RunDirError(
            f"{path} has no test metrics in {RunDir.METRICS}: compare needs finished runs "
            "tested once (test_after_fit=true), or cross-validated ones (cv=kfold)."
        )
    cfg = run.config()
    task, _ = (RunDir(path / "fold_0") if cv else run).labels()
    if cv:
        folds = [
            {k: float(v) for k, v in row.items() if k.startswith("val/")} for row in cv["per_fold"]
        ]
        scores = {k: float(v) for k, v in cv["mean"].items()}
        split, predictions = fold_split(path, len(folds)), None
    else:
        folds, scores = None, {k: float(v) for k, v in metrics["test"].items()}
        split = run.manifest().get("splits", {}).get("test", {}).get("ids_sha256")
        predictions = run.test_predictions()
    return Run(
        arm=arm,
        seed=int(cfg.get("seed", 0)),
        dir=path,
        task=str(task),
        test=scores,
        predictions=predictions,
        test_split=split,
        reused=reused,
        folds=folds,
    )


def fold_split(path: Path, k: int) -> str | None:
    """One sha256 over the validation examples of a k-fold run's folds, in fold order: equal
    for runs cross-validated on the same folds (None where a fold recorded none)."""
    shas = []
    for i in range(k):
        splits = RunDir(path / f"fold_{i}").manifest().get("splits", {})
        shas.append(splits.get("validation", {}).get("ids_sha256"))
    if None in shas:
        return None
    return hashlib.sha256(" ".join(shas).encode()).hexdigest()


def complete(path: Path) -> bool:
    """A run dir that finished: tested (its predictions stored), or cross-validated."""
    run = RunDir(path)
    metrics = run.metrics()
    if (run / RunDir.FAILED).exists():
        return False
    return "cv" in metrics or ("test" in metrics and (run / RunDir.TEST_PREDICTIONS).is_file())


def set_aside(path: Path, why: str) -> None:
    """Move an unusable run dir out of the way (kept, renamed), so a new run can claim it."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    path.rename(target)
    log.warning("%s: %s; moved to %s and trained again.", path, why, target)


def ensure_runs(
    arms: Sequence[Arm],
    seeds: Sequence[int],
    split_seed: int,
    common: list[str],
    store: Path,
    config_dir: Path,
    cwd: Path,
    train: Callable[[DictConfig], Any] | None = None,
) -> list[Run]:
    """Every arm × seed run, reused where a finished run with the same config exists in
    `store`, else trained and tested now. Test openings are recorded: in the store's
    `lockbox.json` when a run is tested now; in a sweep arm's sweep dir whenever its test
    numbers are read (a second time warns, as for `sweep.final`). When the arms
    cross-validate (``cv=kfold``), nothing is tested and no lockbox is opened.

    Raises:
        ConfigError / DataError: an arm that does not compose or whose run fails; arms of
            which some cross-validate and others do not.
    """
    if train is None:
        from bertlab.train.pipeline import run as train
    cv = cross_validation(arms, seeds[0], split_seed, common, store, config_dir, cwd)
    runs, opened = [], False
    placeholder = store / RUNS / RUN_PLACEHOLDER
    for arm in arms:
        if arm.kind == "sweep" and not cv:  # its test numbers are read, trained now or reused
            entry = {"tool": "bertlab.compare", "seeds": list(seeds), "overrides": arm.overrides}
            lockbox.open_lockbox(arm.sweep_dir, entry)
        for seed in seeds:
            args = (arm, common, seed, split_seed)
            _, first = run_config(*args, placeholder, config_dir, cwd)
            out = (store / RUNS / fingerprint(first) / f"seed_{seed}").absolute()
            overrides, cfg = run_config(*args, out, config_dir, cwd)
            if complete(out):
                changed = differences(RunDir(out).config(), cfg)
                if not changed:
                    log.info("%s, seed %d: reusing %s", arm.label, seed, out)
                    runs.append(read_run(out, arm.label))
                    continue
                log.warning("%s differs from this arm: %s", out, "; ".join(changed[:5]))
                set_aside(out, "changed")
            elif out.exists():
                set_aside(out, "unfinished")
            if not opened and not cv:
                entry = {"tool": "bertlab.compare", "arms": [a.label for a in arms]}
                lockbox.open_lockbox(store, {**entry, "seeds": list(seeds)}, warn=False)
                opened = True
            final.write_hydra_copies(out, cfg, overrides)
            log.info("%s, seed %d: training %s", arm.label, seed, out)
            train(cfg)
            runs.append(read_run(out, arm.label, reused=False))
    return runs


def cross_validation(
    arms: Sequence[Arm],
    seed: int,
    split_seed: int,
    common: list[str],
    store: Path,
    config_dir: Path,
    cwd: Path,
) -> int | None:
    """``cv.k`` when every arm cross-validates, None when none does.

    Raises:
        ConfigError: some arms cross-validate and others do not (a k-fold mean of validation
            metrics and a test score cannot be paired).
    """
    placeholder = store / RUNS / RUN_PLACEHOLDER
    args = (common, seed, split_seed, placeholder, config_dir, cwd)
    folds = {arm.label: cv_folds(run_config(arm, *args)[1]) for arm in arms}
    if len(set(folds.values())) > 1:
        detail = ", ".join(f"{label!r}: cv.k={k}" for label, k in folds.items())
        raise ConfigError(
            f"The arms do not cross-validate alike ({detail}): a k-fold mean of validation "
            "metrics cannot be paired with a test score. Put cv=kfold (and cv.k) in --common "
            "to compare every arm by cross-validation, or leave cv out of every arm."
        )
    return next(iter(folds.values()))


def check_one_test_set(runs: Sequence[Run]) -> None:
    """All runs were tested on the same examples.

    Raises:
        DataError: naming the runs whose test split differs from the first's.
    """
    first = runs[0]
    other = [r for r in runs if r.test_split != first.test_split]
    if other:
        raise DataError(
            f"The runs were scored on different examples ({first.dir} vs {other[0].dir}): a "
            "comparison needs runs of one kind (all tested, or all cross-validated) on one "
            "split (the same data and data.split_seed)."
        )
