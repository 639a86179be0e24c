"""What an arm of a comparison is, and the config of each of its runs.

An arm given on the command line is one of:

- a quoted set of overrides, e.g. ``"model=minilm_mean model.optimizer.lr=5e-5"``
  (``""`` or ``default``: the default configuration);
- an experiment name, e.g. ``imdb_minilm`` (``configs/experiment/imdb_minilm.yaml``);
- a sweep dir: its best trial's configuration (as ``python -m bertlab.sweep.final`` retrains
  it; the trial's ``cv`` is dropped).

Every run of every arm gets ``test_after_fit=true``, ``seed=<s>`` and the comparison's
``data.split_seed``, so all arms train on one split and are tested once on its test set. With
``cv=kfold`` (in ``--common`` or in every arm) the runs cross-validate instead: each is scored
on its k-fold means of validation metrics, on the same folds, and the test set stays shut. A
run's identity (its dir under ``<compare dir>/runs/<fingerprint>/seed_<s>``) is the composed
config with the seed and where-it-runs keys left out: arms with equal configs share runs, and
a rerun finds the runs it already has.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from bertlab.errors import ConfigError
from bertlab.sweep import final
from bertlab.sweep.summary import BEST
from bertlab.train.verify import RESUME_FREE, config_differences, flat

# Top-level keys that say where or how verbosely a run goes, not what it computes.
VOLATILE = (
    "seed",
    "paths",
    "hydra",
    "task_name",
    "print_config",
    "test_after_fit",
    "resume",
    "ckpt_path",
    "logger",
)
RUN_PLACEHOLDER = "<run dir>"
TESTED = "test_after_fit=true"
DEFAULT = ("", "default")


@dataclass
class Arm:
    """One arm: a label (as given) and how its runs are composed."""

    label: str
    kind: str  # "overrides" | "experiment" | "sweep"
    overrides: list[str] = field(default_factory=list)
    sweep_dir: Path | None = None
    trial_dir: Path | None = None  # a sweep arm's best trial

    def describe(self) -> str:
        if self.kind == "sweep":
            what = " ".join(self.overrides) or "(defaults)"
            return f"best trial of sweep {self.sweep_dir}: {what}"
        return " ".join(self.overrides) or "(defaults)"


def parse_arm(text: str, config_dir: Path) -> Arm:
    """An arm from its command-line text.

    Raises:
        ConfigError: an unknown experiment, or a dir that is no sweep dir.
    """
    label = text.strip() or "default"
    path = Path(text).expanduser()
    if text.strip() and path.is_dir():
        if not (path / BEST).is_file():
            raise ConfigError(
                f"Arm {text!r} is a directory without {BEST}: give a sweep dir (its best trial "
                "is the arm), or compare finished runs with --runs."
            )
        _, trial = final.best_run(path.absolute())
        drop = ("seed", "data.split_seed", "test_after_fit")  # set per run
        kept = [o for o in final.final_overrides(trial, 0) if _key(o) not in drop]
        return Arm(label, "sweep", kept, path.absolute(), trial)
    if text.strip() in DEFAULT:
        return Arm(label, "overrides", [])
    words = shlex.split(text)
    if len(words) == 1 and "=" not in words[0] and not words[0].startswith(("~", "+")):
        name = words[0]
        if not (config_dir / "experiment" / f"{name}.yaml").is_file():
            known = sorted(p.stem for p in (config_dir / "experiment").glob("*.yaml"))
            raise ConfigError(
                f"Arm {text!r}: no experiment {name!r} in {config_dir / 'experiment'} "
                f"(known: {', '.join(known) or 'none'}). An arm is quoted overrides "
                '("model=minilm_mean"), an experiment name or a sweep dir.'
            )
        return Arm(label, "experiment", [f"experiment={name}"])
    return Arm(label, "overrides", words)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def run_overrides(arm: Arm, common: list[str], seed: int, split_seed: int) -> list[str]:
    """The overrides of an arm's run with `seed`: the common ones the arm does not set
    itself (its own setting wins), the arm's, then the test unlocked, the seed and the split
    pinned."""
    own = {_key(o) for o in arm.overrides}
    return [
        *(o for o in common if _key(o) not in own),
        *arm.overrides,
        TESTED,
        f"seed={seed}",
        f"data.split_seed={split_seed}",
    ]


def cv_folds(cfg: DictConfig) -> int | None:
    """``cv.k`` of a composed config: the run cross-validates (scored on its k-fold means of
    validation metrics, the test set never opened), or None."""
    node = cfg.get("cv")
    return None if node is None else node.get("k")


def run_config(
    arm: Arm, common: list[str], seed: int, split_seed: int, out: Path, config_dir: Path, cwd: Path
) -> tuple[list[str], DictConfig]:
    """The overrides and composed config of an arm's run with `seed` in `out`: tested once
    (``test_after_fit=true``), or, where the config cross-validates (``cv=kfold``), not
    tested at all (``test_after_fit=false``): its score is the k-fold mean."""
    overrides = run_overrides(arm, common, seed, split_seed)
    cfg = compose(arm, overrides, out, config_dir, cwd)
    if cv_folds(cfg):
        overrides = ["test_after_fit=false" if o == TESTED else o for o in overrides]
        cfg = compose(arm, overrides, out, config_dir, cwd)
    return overrides, cfg


def compose(arm: Arm, overrides: list[str], out: Path, config_dir: Path, cwd: Path) -> DictConfig:
    """The task config of an arm's run in `out` (HydraConfig set; nothing written)."""
    if arm.kind == "sweep":
        return final.compose_config(*final.config_source(arm.trial_dir), overrides, out)
    return final.compose_config("file", str(config_dir), "train", str(cwd), overrides, out)


def fingerprint(cfg: DictConfig) -> str:
    """12 hex digits naming what a run computes: its resolved config with the seed (and what
    follows it) fixed, where it runs left out (`VOLATILE`, `RESUME_FREE`)."""
    node = cfg.copy()
    OmegaConf.update(node, "seed", 0, force_add=True)
    OmegaConf.update(node, "paths.output_dir", RUN_PLACEHOLDER, force_add=True)
    values = flat(OmegaConf.to_container(node, resolve=True))
    kept = {
        k: v
        for k, v in values.items()
        if k.split(".", 1)[0] not in VOLATILE and k not in RESUME_FREE
    }
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def differences(recorded: DictConfig, current: DictConfig) -> list[str]:
    """What a finished run computed differently from `current` (both resolved, same seed)."""
    keys = {str(k) for k in (*recorded.keys(), *current.keys())} - set(VOLATILE)
    return config_differences(recorded, current, tuple(sorted(keys)))
