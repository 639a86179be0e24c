"""`--print-multirun`: an arm's seeds as one `python train.py -m` command, so that Hydra's
launchers (parallel workers, SLURM through hydra-submitit-launcher) train them; the command
writes into the dir compare itself uses for that config, so a later compare call reuses the
runs instead of training them."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from bertlab.compare.arms import RUN_PLACEHOLDER, Arm, fingerprint, run_config
from bertlab.compare.runs import RUNS


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
        placeholder = out / RUNS / RUN_PLACEHOLDER
        args = (common, seeds[0], split_seed, placeholder, config_dir, Path.cwd())
        overrides, cfg = run_config(arm, *args)
        fixed = [o for o in overrides if not o.startswith("seed=")]
        words = [
            "python",
            "train.py",
            "-m",
            *fixed,
            f"seed={','.join(map(str, seeds))}",
            f"hydra.sweep.dir={out / RUNS / fingerprint(cfg)}",
            "hydra.sweep.subdir=seed_${seed}",
        ]
        print(f"# {arm.label}")
        print(" ".join(shlex.quote(w) for w in words))
    sys.stdout.flush()
