"""Open the lockbox: retrain a sweep's best configuration with K seeds and test each once.

    python -m bertlab.sweep.final outputs/train/sweeps/bertlab --seeds 3

This is the only place a test metric is computed. The best trial's own overrides are
composed again with ``test_after_fit=true`` and ``seed=s`` for s = its seed, +1, ..., and
``data.split_seed`` pinned to the trial's, so every run keeps the sweep's train/val/test split
(the seeds vary initialisation, dropout and batch order). A trial that cross-validated
(``cv=kfold``) is retrained once per seed on that normal split, without folds.
Runs go to ``<sweep_dir>/final/<opening>/seed_<s>``;
each opening is recorded in ``<sweep_dir>/lockbox.json``, and a second one warns loudly.
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import sys
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from bertlab.errors import BertlabError
from bertlab.sweep import lockbox
from bertlab.sweep.errors import SweepError
from bertlab.sweep.summary import BEST
from bertlab.train.run_dir import RunDir
from bertlab.utils.latest import resolve_latest

log = logging.getLogger(__name__)


def best_run(sweep_dir: Path) -> tuple[dict[str, Any], Path]:
    """The sweep's ``best.yaml`` record and the best trial's run directory.

    Raises:
        SweepError: When the sweep has no best trial or its run dir lacks ``.hydra``.
    """
    path = sweep_dir / BEST
    if not path.exists():
        raise SweepError(f"No {BEST} in {sweep_dir}: has a trial of this sweep completed?")
    best = yaml.safe_load(path.read_text(encoding="utf-8"))
    run_dir = trial_dir(sweep_dir, best.get("run_dir"), best["trial"])
    if not RunDir(run_dir).hydra_file("hydra.yaml").exists():
        raise SweepError(
            f"{run_dir / RunDir.HYDRA} is missing; cannot recompose trial {best['trial']}."
        )
    return best, run_dir


def trial_dir(sweep_dir: Path, recorded: str | None, trial: int) -> Path:
    """A trial's run dir: recorded relative to the sweep dir (or absolute, by older sweeps).

    An absolute dir that no longer holds the trial (the sweep dir moved) falls back to
    ``<sweep_dir>/<trial>``.
    """
    if not recorded:
        return sweep_dir / str(trial)
    path = Path(recorded)
    if not path.is_absolute():
        return sweep_dir / path
    return path if (path / RunDir.HYDRA).is_dir() else sweep_dir / str(trial)


def final_overrides(run_dir: Path, seed: int) -> list[str]:
    """The trial's overrides with the test set unlocked, ``seed`` set and the split pinned."""
    trial_overrides = OmegaConf.load(RunDir(run_dir).hydra_file("overrides.yaml"))
    cfg = OmegaConf.load(RunDir(run_dir).hydra_config)
    drop = (lockbox.LOCK_KEY, "seed", "data.split_seed")
    keys = [o.split("=", 1)[0].lstrip("+~") for o in trial_overrides]
    kept = [
        o
        for o, key in zip(trial_overrides, keys, strict=True)
        if key not in drop and key.split(".", 1)[0] != "cv"
    ]
    if OmegaConf.select(cfg, "cv", default=None) is not None:
        kept.append("~cv")  # a cross-validated trial: retrain on the normal split, then test
    kept += [f"{lockbox.LOCK_KEY}=true", f"seed={seed}"]
    data_seed = OmegaConf.select(cfg, "data.split_seed", default=None)
    if data_seed is not None:
        kept.append(f"data.split_seed={data_seed}")
    return kept


def compose_run(run_dir: Path, overrides: list[str], out: Path) -> DictConfig:
    """Compose the trial's config again, as Hydra would for a run in ``out``, and write its
    ``.hydra`` copies there."""
    task = compose_config(*config_source(run_dir), overrides, out)
    write_hydra_copies(out, task, overrides)
    return task


def config_source(run_dir: Path) -> tuple[str, str, str, str]:
    """(schema, path, config name, launch dir) of the config a run was composed from."""
    hydra_cfg = OmegaConf.load(RunDir(run_dir).hydra_file("hydra.yaml")).hydra
    main = [s for s in hydra_cfg.runtime.config_sources if s.provider == "main"][0]
    return main.schema, main.path, hydra_cfg.job.config_name, hydra_cfg.runtime.cwd


def compose_config(
    schema: str, path: str, config_name: str, cwd: str, overrides: list[str], out: Path
) -> DictConfig:
    """Compose ``config_name`` from a config dir (``schema`` "file") or module with
    ``overrides``, as Hydra would for a run in ``out`` (its HydraConfig set, so that
    ``${hydra:...}`` resolves); writes nothing.

    Returns:
        The task config (without the ``hydra`` node), unresolved.
    """
    from hydra import compose, initialize_config_dir, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    GlobalHydra.instance().clear()
    if schema == "file":
        init = initialize_config_dir(config_dir=path, version_base="1.3", job_name="final")
    else:
        init = initialize_config_module(path, version_base="1.3", job_name="final")
    with init:
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.runtime.output_dir = str(out.absolute())
        cfg.hydra.runtime.cwd = cwd
        cfg.hydra.job.num, cfg.hydra.job.id = 0, "final"
    HydraConfig.instance().set_config(cfg)
    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def write_hydra_copies(out: Path, task: DictConfig, overrides: list[str]) -> None:
    """Hydra's ``.hydra/config.yaml`` and ``overrides.yaml`` of a composed run."""
    target = RunDir(out)
    target.hydra_config.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(task, target.hydra_config)
    OmegaConf.save(OmegaConf.create(overrides), target.hydra_file("overrides.yaml"))


def retrain_and_test(sweep_dir: Path, seeds: int = 1) -> dict[str, Any]:
    """Retrain the best trial's configuration ``seeds`` times and test each run once.

    Returns:
        ``{"trial", "seeds", "test": {metric: [per seed]}, "mean", "std"}``.

    Raises:
        SweepError: No best trial, a run without test metrics, or a changed test split.
    """
    from bertlab.train.pipeline import run

    sweep_dir = resolve_latest(sweep_dir).absolute()
    best, run_dir = best_run(sweep_dir)
    base = int(OmegaConf.load(RunDir(run_dir).hydra_config).get("seed", 0))
    seed_list = [base + i for i in range(seeds)]
    entry = {"trial": best["trial"], "seeds": seed_list, "overrides": best.get("overrides")}
    index = lockbox.open_lockbox(sweep_dir, entry)
    per_seed: dict[str, list[float]] = {}
    for seed in seed_list:
        out = sweep_dir / "final" / str(index) / f"seed_{seed}"
        cfg = compose_run(run_dir, final_overrides(run_dir, seed), out)
        log.info("Final run, seed %d: %s", seed, out)
        run(cfg)
        _check_same_split(run_dir, out)
        test = lockbox.read_metrics(out).get("test")
        if not test:
            raise SweepError(f"{out / RunDir.METRICS} has no test metrics.")
        for key, value in test.items():
            per_seed.setdefault(key, []).append(float(value))
    result = {
        "trial": best["trial"],
        "seeds": seed_list,
        "test": per_seed,
        "mean": {k: statistics.fmean(v) for k, v in per_seed.items()},
        "std": {k: statistics.stdev(v) if len(v) > 1 else 0.0 for k, v in per_seed.items()},
    }
    lockbox.close_lockbox(sweep_dir, index, result)
    return result


def _check_same_split(trial_dir: Path, final_dir: Path) -> None:
    """Refuse a final run whose test split differs from the one the sweep held out."""

    def ids(run: Path) -> str | None:
        manifest = RunDir(run).manifest()
        return manifest.get("splits", {}).get("test", {}).get("ids_sha256")

    before, after = ids(trial_dir), ids(final_dir)
    if before and after and before != after:
        raise SweepError(f"The test split of {final_dir} differs from the sweep's ({trial_dir}).")


def print_result(result: dict[str, Any]) -> None:
    """Print test metrics as mean ± std over seeds."""
    from rich.console import Console
    from rich.table import Table

    n = len(result["seeds"])
    table = Table(title=f"Test set, best trial {result['trial']}, {n} seed(s)")
    for col in ("metric", "mean ± std", "per seed"):
        table.add_column(col)
    for key, values in result["test"].items():
        spread = f"{result['mean'][key]:.4f} ± {result['std'][key]:.4f}"
        table.add_row(key, spread, ", ".join(f"{v:.4f}" for v in values))
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bertlab.sweep.final SWEEP_DIR [--seeds K]``."""
    parser = argparse.ArgumentParser(prog="python -m bertlab.sweep.final", description=__doc__)
    parser.add_argument("sweep_dir", type=Path, help="the sweep directory (hydra.sweep.dir)")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds (default 1)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s] %(message)s")
    from bertlab.utils.quiet import silence_noise

    silence_noise()  # as train.py: no Lightning adverts or routine warnings per seed
    try:
        result = retrain_and_test(args.sweep_dir, args.seeds)
    except BertlabError as err:
        log.error("%s", err)
        return 2
    print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
