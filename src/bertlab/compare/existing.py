"""`--runs`: run dirs that already exist, found below the given folders and grouped into arms
by what their configs compute (the seed aside)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bertlab.compare.arms import RUN_PLACEHOLDER, VOLATILE
from bertlab.compare.runs import Run, read_run
from bertlab.errors import ConfigError
from bertlab.train.run_dir import RunDir
from bertlab.train.verify import RESUME_FREE, flat


def find_runs(paths: Sequence[Path]) -> list[Path]:
    """Run dirs (with metrics.json) at or below `paths` (three levels deep at most); below a
    folder, only tested or cross-validated runs (a sweep's trials and a k-fold run's folds are
    neither).

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
            if {"test", "cv"} & set(RunDir(p.parent).metrics())
        )
        if not below:
            raise ConfigError(
                f"--runs {path}: no tested or cross-validated run dir in it ({RunDir.METRICS} "
                "with test or cv metrics)."
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
    configs = [(path, RunDir(path).config()) for path in paths]
    computed = [(path, _what_it_computes(cfg, path)) for path, cfg in configs]
    # Keys that follow the seed (data.seed: batch order) equal it in every run; a key that
    # equals the seed in some runs only (cv.seed follows data.split_seed) is a setting.
    follows = set.intersection(
        *(
            {k for k, v in values.items() if k.endswith(".seed") and v == cfg.get("seed")}
            for (_, cfg), (_, values) in zip(configs, computed, strict=True)
        )
    )
    keyed = []
    for path, values in computed:
        values = {k: v for k, v in values.items() if k not in follows}
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
    out = {}
    for key, value in values.items():
        if key.split(".", 1)[0] in VOLATILE or key in RESUME_FREE:
            continue
        out[key] = value.replace(str(path), RUN_PLACEHOLDER) if isinstance(value, str) else value
    return out
