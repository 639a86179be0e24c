"""Command line of `python -m bertlab.compare`.

    python -m bertlab.compare ARM ARM [ARM ...] [--seeds 5] [--common "OVERRIDES"] [--out DIR]
    python -m bertlab.compare --runs DIR [DIR ...] [--out DIR]

An ARM is quoted overrides ("model=minilm_mean"; "" or default: the defaults), an experiment
name, or a sweep dir (its best trial's configuration). The first arm is the baseline. With
--common "cv=kfold" the runs cross-validate and are compared on their k-fold means of
validation metrics (the test set stays shut); otherwise each run is tested once.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path

from bertlab.compare.analysis import analyse, check_stored_scores
from bertlab.compare.arms import Arm, parse_arm
from bertlab.compare.existing import find_runs, group_runs
from bertlab.compare.multirun import launch_multiruns, print_multirun
from bertlab.compare.runs import check_one_test_set, ensure_runs
from bertlab.errors import BertlabError, ConfigError

log = logging.getLogger("bertlab.compare")
DEFAULT_OUT = Path("outputs") / "compare"


def default_config_dir() -> Path:
    """./configs where it exists (train.py's own), else the source checkout's configs/."""
    here = Path.cwd() / "configs"
    if (here / "train.yaml").is_file():
        return here
    return Path(__file__).resolve().parents[3] / "configs"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bertlab.compare",
        description="Train arms on the same split and seeds, test each run once, and say "
        "whether their difference goes beyond seed noise.",
    )
    p.add_argument(
        "arms",
        nargs="*",
        help='overrides ("model=minilm_mean"; "" = defaults), '
        "an experiment name, or a sweep dir; the first is the baseline",
    )
    p.add_argument(
        "--runs",
        nargs="+",
        type=Path,
        help="compare these finished runs "
        "(dirs, or folders holding them) instead of training; arms by config",
    )
    p.add_argument("--seeds", type=int, default=3, help="training seeds per arm (default 3)")
    p.add_argument(
        "--first-seed",
        type=int,
        default=42,
        help="seeds are first, first+1, ... (default 42, train.yaml's seed)",
    )
    p.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="data.split_seed of every run (default: a sweep arm's, else --first-seed)",
    )
    p.add_argument(
        "--common",
        default="",
        help='overrides for every arm, before its own (e.g. "trainer=gpu trainer.max_epochs=2")',
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="the compare dir: runs/ (reused by later calls) and the report "
        f"(default {DEFAULT_OUT})",
    )
    p.add_argument(
        "--config-dir",
        type=Path,
        default=None,
        help="train.py's configs (default ./configs, else the checkout's)",
    )
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (2000)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (0.95)")
    p.add_argument("--bootstrap-seed", type=int, default=0, help="numpy seed of the bootstrap")
    p.add_argument(
        "--print-multirun",
        action="store_true",
        help="print, per arm, the `python train.py -m` command that trains its "
        "seeds with any Hydra launcher (then run compare again: it reuses them)",
    )
    p.add_argument(
        "--launch",
        nargs="?",
        const="",
        default=None,
        metavar="LAUNCHER_OVERRIDES",
        help="train each arm's missing seeds as one `train.py -m` job, with these Hydra "
        'overrides (e.g. "hydra/launcher=joblib hydra.launcher.n_jobs=2"; none: the basic '
        "launcher), then compare",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a comparison; exit 0, or 2 on bad input (one message)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s] %(message)s")
    try:
        check_args(args)
        return compare(args, argv if argv is not None else sys.argv[1:])
    except BertlabError as err:
        log.error("%s", err)
        return 2


def check_args(args: argparse.Namespace) -> None:
    """Refuse contradictory or impossible arguments.

    Raises:
        ConfigError: one message naming the argument.
    """
    if args.runs and args.arms:
        raise ConfigError("Give arms to train, or --runs to compare existing runs, not both.")
    if not args.runs and len(args.arms) < 2:
        raise ConfigError("Give two or more arms (the first is the baseline), or --runs DIR...")
    if args.seeds < 1:
        raise ConfigError("--seeds must be at least 1.")
    if not 0 < args.level < 1:
        raise ConfigError("--level must be between 0 and 1 (e.g. 0.95).")
    if args.resamples < 100:
        raise ConfigError("--resamples must be at least 100 (2000 is the default).")


def compare(args: argparse.Namespace, argv: list[str]) -> int:
    from bertlab.compare.report import write_report
    from bertlab.utils.quiet import silence_noise

    silence_noise()
    start = time.monotonic()
    out = args.out.expanduser().absolute()
    config_dir = (args.config_dir or default_config_dir()).expanduser().absolute()
    if args.runs:
        runs, labels = group_runs(find_runs(args.runs))
        arms_record = [{"label": lab, "what": lab} for lab in labels]
        split_seed = None
    else:
        if not (config_dir / "train.yaml").is_file():
            raise ConfigError(f"No train.yaml in {config_dir}: pass --config-dir.")
        arms = [parse_arm(text, config_dir) for text in args.arms]
        labels = unique_labels(arms)
        split_seed = args.split_seed if args.split_seed is not None else default_split(arms, args)
        seeds = [args.first_seed + i for i in range(args.seeds)]
        common = shlex.split(args.common)
        if args.print_multirun:
            print_multirun(arms, seeds, split_seed, common, out, config_dir)
            return 0
        train, launched = None, set()
        if args.launch is not None:
            launcher = shlex.split(args.launch)
            launch = (arms, seeds, split_seed, common, out, config_dir, launcher)
            train, launched = launch_multiruns(*launch)
        runs = ensure_runs(arms, seeds, split_seed, common, out, config_dir, Path.cwd(), train)
        for run in runs:
            run.reused = run.reused and run.dir.absolute() not in launched
        arms_record = [{"label": a.label, "what": a.describe(), "kind": a.kind} for a in arms]
    check_one_test_set(runs)
    for problem in check_stored_scores(runs):
        log.warning("Stored predictions disagree with metrics.json: %s", problem)
    result = analyse(runs, labels, args.resamples, args.level, args.bootstrap_seed)
    for record in arms_record:
        record["runs"] = {r.seed: str(r.dir) for r in runs if r.arm == record["label"]}
    result.update(
        command="python -m bertlab.compare " + " ".join(shlex.quote(a) for a in argv),
        arms=arms_record,
        split_seed=split_seed,
        trained=sum(not r.reused for r in runs),
        reused=sum(r.reused for r in runs),
        wall_time_s=time.monotonic() - start,
        bootstrap={"resamples": args.resamples, "level": args.level, "seed": args.bootstrap_seed},
    )
    write_report(out, result, runs)
    for sentence in result["sentences"]:
        print(sentence)
    print(f"Report: {out / 'compare.md'}")
    return 0


def unique_labels(arms: list[Arm]) -> list[str]:
    """The arms' labels, refused when two arms are given the same way.

    Raises:
        ConfigError: a repeated arm.
    """
    labels = [a.label for a in arms]
    if len(set(labels)) < len(labels):
        raise ConfigError(f"An arm is given twice: {labels}.")
    return labels


def default_split(arms: list[Arm], args: argparse.Namespace) -> int:
    """A sweep arm's split seed (its choice was made on that split's validation set, so its
    test set is the one never seen), else the first seed."""
    from omegaconf import OmegaConf

    from bertlab.train.run_dir import RunDir

    for arm in arms:
        if arm.kind == "sweep":
            cfg = OmegaConf.load(RunDir(arm.trial_dir).hydra_config)
            value = OmegaConf.select(cfg, "data.split_seed", default=None)
            if isinstance(value, int):
                return value
            seed = cfg.get("seed")
            if isinstance(seed, int):
                return seed
    return args.first_seed
