"""The runs of a comparison: found finished (reused) or trained and tested now; or, with
``--runs``, existing run dirs grouped into arms by what their configs compute."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from bertlab.compare.arms import (
    RUN_PLACEHOLDER,
    VOLATILE,
    Arm,
    compose,
    differences,
    fingerprint,
    run_overrides,
)
from bertlab.errors import ConfigError, DataError, RunDirError
from bertlab.sweep import final, lockbox
from bertlab.train.run_dir import RunDir
from bertlab.train.verify import RESUME_FREE, flat

log = logging.getLogger(__name__)
RUNS = "runs"  # <compare dir>/runs/<fingerprint>/seed_<s>


@dataclass
class Run:
    """A finished, tested run of an arm."""

    arm: str
    seed: int
    dir: Path
    task: str
    test: dict[str, float]
    predictions: dict[str, np.ndarray] | None
    test_split: str | None  # the sha256 of its test example ids (split_manifest.json)
    reused: bool = True


def read_run(path: Path, arm: str, reused: bool = True) -> Run:
    """A finished run dir as a `Run`.

    Raises:
        RunDirError: the run has no test metrics (not finished, or never tested).
    """
    run = RunDir(path)
    metrics = run.metrics()
    if not metrics.get("test") or (run / RunDir.FAILED).exists():
        raise RunDirError(
            f"{path} has no test metrics in {RunDir.METRICS}: compare needs finished runs "
            "tested once (test_after_fit=true)."
        )
    cfg = run.config()
    task, _ = run.labels()
    split = run.manifest().get("splits", {}).get("test", {}).get("ids_sha256")
    return Run(
        arm=arm,
        seed=int(cfg.get("seed", 0)),
        dir=path,
        task=str(task),
        test={k: float(v) for k, v in metrics["test"].items()},
        predictions=run.test_predictions(),
        test_split=split,
        reused=reused,
    )


def complete(path: Path) -> bool:
    """A run dir that finished and was tested (its predictions stored)."""
    run = RunDir(path)
    return (
        "test" in run.metrics()
        and not (run / RunDir.FAILED).exists()
        and (run / RunDir.TEST_PREDICTIONS).is_file()
    )


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
    numbers are read (a second time warns, as for `sweep.final`).

    Raises:
        ConfigError / DataError: an arm that does not compose or whose run fails.
    """
    if train is None:
        from bertlab.train.pipeline import run as train
    runs, opened = [], False
    placeholder = store / RUNS / RUN_PLACEHOLDER
    for arm in arms:
        if arm.kind == "sweep":  # its test numbers are read, trained now or reused
            entry = {"tool": "bertlab.compare", "seeds": list(seeds), "overrides": arm.overrides}
            lockbox.open_lockbox(arm.sweep_dir, entry)
        for seed in seeds:
            overrides = run_overrides(arm, common, seed, split_seed)
            out = store / RUNS / fingerprint(compose(arm, overrides, placeholder, config_dir, cwd))
            out = (out / f"seed_{seed}").absolute()
            cfg = compose(arm, overrides, out, config_dir, cwd)
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
            if not opened:
                entry = {"tool": "bertlab.compare", "arms": [a.label for a in arms]}
                lockbox.open_lockbox(store, {**entry, "seeds": list(seeds)}, warn=False)
                opened = True
            final.write_hydra_copies(out, cfg, overrides)
            log.info("%s, seed %d: training %s", arm.label, seed, out)
            train(cfg)
            runs.append(read_run(out, arm.label, reused=False))
    return runs


def check_one_test_set(runs: Sequence[Run]) -> None:
    """All runs were tested on the same examples.

    Raises:
        DataError: naming the runs whose test split differs from the first's.
    """
    first = runs[0]
    other = [r for r in runs if r.test_split != first.test_split]
    if other:
        raise DataError(
            f"The runs were tested on different test sets ({first.dir} vs {other[0].dir}): a "
            "comparison needs one split (the same data and data.split_seed)."
        )


def find_runs(paths: Sequence[Path]) -> list[Path]:
    """Run dirs (with metrics.json) at or below `paths` (three levels deep at most); below a
    folder, only tested runs (a sweep's trials and k-fold folds are not).

    Raises:
        ConfigError: a path that does not exist or holds no tested run.
    """
    found: list[Path] = []
    for path in paths:
        path = Path(path).expanduser().absolute()
        if not path.exists():
            raise ConfigError(f"--runs {path}: no such directory.")
        if (path / RunDir.METRICS).is_file():
            found.append(path)
            continue
        below = sorted(
            p.parent
            for depth in ("*", "*/*", "*/*/*")
            for p in path.glob(f"{depth}/{RunDir.METRICS}")
            if "test" in RunDir(p.parent).metrics()
        )
        if not below:
            raise ConfigError(
                f"--runs {path}: no tested run dir in it ({RunDir.METRICS} with test metrics)."
            )
        found += below
    return list(dict.fromkeys(found))


def group_runs(paths: Sequence[Path]) -> tuple[list[Run], list[str]]:
    """Existing runs as arms: runs whose configs compute the same thing (seed aside) are one
    arm, labelled by the settings in which the arms differ.

    Returns:
        The runs (their `arm` set) and the arm labels in order of first appearance.

    Raises:
        ConfigError: fewer than two arms.
    """
    keyed = []
    for path in paths:
        values = _what_it_computes(RunDir(path).config(), path)
        keyed.append((path, values, json.dumps(values, sort_keys=True, default=str)))
    groups = list(dict.fromkeys(key for _, _, key in keyed))
    if len(groups) < 2:
        raise ConfigError(
            f"--runs: all {len(paths)} runs have one configuration (seeds aside); compare needs "
            "runs of two or more configurations."
        )
    by_key = {key: values for _, values, key in keyed}
    varying = sorted(
        k
        for k in set().union(*by_key.values())
        if len({json.dumps(v.get(k), default=str) for v in by_key.values()}) > 1
    )
    labels = {
        key: " ".join(f"{k}={values.get(k)}" for k in varying) or key[:12]
        for key, values in by_key.items()
    }
    runs = [read_run(path, labels[key]) for path, _, key in keyed]
    return runs, [labels[g] for g in groups]


def _what_it_computes(cfg: DictConfig, path: Path) -> dict[str, Any]:
    """A run's resolved settings, seed and where-it-runs keys left out."""
    values = flat(OmegaConf.to_container(cfg, resolve=True))
    seed = cfg.get("seed")
    out = {}
    for key, value in values.items():
        if key.split(".", 1)[0] in VOLATILE or key in RESUME_FREE:
            continue
        if key.endswith(".seed") and value == seed:
            continue  # follows the seed (data.seed: batch order)
        out[key] = value.replace(str(path), RUN_PLACEHOLDER) if isinstance(value, str) else value
    return out
