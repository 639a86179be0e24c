"""An arm's seeds as one `python train.py -m` Hydra multirun, so that Hydra's launchers
(parallel workers, SLURM through hydra-submitit-launcher) train them. The command writes into
the dirs compare itself uses for that config, so compare reuses the runs instead of training
them: `--print-multirun` prints the commands, `--launch` runs them (then compares)."""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from bertlab.compare.arms import RUN_PLACEHOLDER, Arm, fingerprint, run_config
from bertlab.compare.runs import RUNS, complete, set_aside
from bertlab.errors import ConfigError, DataError
from bertlab.sweep import lockbox

log = logging.getLogger(__name__)


def multirun_job(
    arm: Arm, split_seed: int, common: list[str], out: Path, config_dir: Path
) -> tuple[list[str], Path]:
    """An arm's overrides without the seed, and the runs dir its seeds go to (composed once)."""
    placeholder = out / RUNS / RUN_PLACEHOLDER
    overrides, cfg = run_config(arm, common, 0, split_seed, placeholder, config_dir, Path.cwd())
    return [o for o in overrides if not o.startswith("seed=")], out / RUNS / fingerprint(cfg)


def multirun_words(fixed: list[str], runs_dir: Path, seeds: list[int]) -> list[str]:
    """`train.py -m <overrides> seed=a,b,... hydra.sweep.dir=<runs dir>` (no interpreter)."""
    return [
        "train.py",
        "-m",
        *fixed,
        f"seed={','.join(map(str, seeds))}",
        f"hydra.sweep.dir={runs_dir}",
        "hydra.sweep.subdir=seed_${seed}",
    ]


def print_multirun(
    arms: list[Arm],
    seeds: list[int],
    split_seed: int,
    common: list[str],
    out: Path,
    config_dir: Path,
) -> None:
    """Per arm, a `python train.py -m` command training its seeds as one Hydra multirun (any
    launcher: add hydra/launcher=...), into dirs a later compare call finds and reuses."""
    for arm in arms:
        if arm.kind == "sweep":
            print(f"# {arm.label}: a sweep arm; run compare itself (it composes the trial).")
            continue
        fixed, runs_dir = multirun_job(arm, split_seed, common, out, config_dir)
        words = ["python", *multirun_words(fixed, runs_dir, seeds)]
        print(f"# {arm.label}")
        print(" ".join(shlex.quote(w) for w in words))
    sys.stdout.flush()


def launch_multiruns(
    arms: list[Arm],
    seeds: list[int],
    split_seed: int,
    common: list[str],
    out: Path,
    config_dir: Path,
    launcher: list[str],
) -> tuple[Callable[[DictConfig], Any], set[Path]]:
    """Train every arm's missing seeds as one `train.py -m` job per arm, with `launcher`
    overrides (e.g. ``hydra/launcher=joblib``), and return the `train` that compare uses for
    runs still missing after them: it refuses a run a job should have made (the job failed
    there), and trains the rest (sweep arms) in this process; and the run dirs the jobs made.

    Raises:
        ConfigError: no train.py beside the configs.
        DataError: a job that exits non-zero.
    """
    from bertlab.train.pipeline import run as train_here

    script = config_dir.parent / "train.py"
    if not script.is_file():
        raise ConfigError(f"--launch needs train.py beside {config_dir}: none at {script}.")
    launched: set[Path] = set()
    for arm in arms:
        if arm.kind == "sweep":
            log.info("%s: a sweep arm, trained in this process.", arm.label)
            continue
        fixed, runs_dir = multirun_job(arm, split_seed, common, out, config_dir)
        missing = [s for s in seeds if not complete(runs_dir / f"seed_{s}")]
        if not missing:
            continue
        for seed in missing:
            if (runs_dir / f"seed_{seed}").exists():
                set_aside(runs_dir / f"seed_{seed}", "unfinished")
        lockbox.open_lockbox(out, {"tool": "bertlab.compare", "seeds": missing}, warn=False)
        command = [
            sys.executable,
            str(script),
            *multirun_words(fixed, runs_dir, missing)[1:],
            f"--config-path={config_dir}",
            *launcher,
        ]
        log.info("%s: launching %s", arm.label, shlex.join(command))
        if subprocess.run(command, cwd=Path.cwd()).returncode != 0:
            raise DataError(
                f"{arm.label}: the multirun job failed (see the run dirs under {runs_dir}); "
                "fix it and call compare again: finished runs are reused."
            )
        launched |= {(runs_dir / f"seed_{s}").absolute() for s in missing}

    def train(cfg: DictConfig) -> Any:
        where = Path(cfg.paths.output_dir).absolute()
        if where in launched:
            raise DataError(f"The multirun job did not finish {where}: see its train.log.")
        return train_here(cfg)

    return train, launched
