"""Config schema of the ``bertlab_optuna`` sweeper, registered as ``hydra/sweeper``."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class BertlabOptunaSweeperConf:
    """Fields of ``hydra.sweeper`` (see ``configs/hparams_search/optuna.yaml``)."""

    _target_: str = "hydra_plugins.bertlab_optuna_sweeper.sweeper.BertlabOptunaSweeper"
    # Search space: override key -> choice(...), interval(a,b), tag(log, interval(a,b)),
    # range(a,b[,step]). Sweep overrides on the command line are added to it.
    params: dict[str, Any] | None = None
    # Trials in the study, counting finished trials of earlier runs and other workers.
    # None with the grid sampler: the grid size.
    n_trials: int | None = 20
    study_name: str = "bertlab"
    # True: the study is named <study_name>-<8 hex of sha256 over the search space and the
    # fixed task overrides>, so a changed command starts a new study and the same command
    # resumes. A study_name given on the command line is always used as it is.
    hash_study_name: bool = False
    # None: <sweep_dir>/optuna.journal. Or an Optuna RDB URL (sqlite:///..., postgresql://...)
    # or a *.journal path; workers sharing it share the study.
    storage: str | None = None
    # max/maximize or min/minimize; None: objective.mode of the task config.
    direction: str | None = None
    # None: objective.metric of the task config (must start with val/).
    metric: str | None = None
    # name: tpe | random | grid | cmaes; seed: None -> the task's `seed`. Other keys go
    # to the sampler's constructor (e.g. n_startup_trials for tpe); one it does not take is
    # an error.
    sampler: dict[str, Any] = field(default_factory=lambda: {"name": "tpe", "seed": None})
    # name: none | median | percentile | successive_halving | hyperband | threshold;
    # other keys go to the pruner's constructor (e.g. n_warmup_steps); one it does not take
    # is an error.
    pruner: dict[str, Any] = field(default_factory=lambda: {"name": "none"})
    # Abort once failed trials exceed this fraction of n_trials.
    max_failure_rate: float = 0.25
    # A RUNNING trial whose worker has not beaten for grace_period_s is failed and re-queued
    # (on the same host a dead worker pid is noticed at once).
    heartbeat_interval_s: float = 60.0
    grace_period_s: float = 600.0
    # How many trials keep their (best, weights-only) checkpoint: the top k COMPLETE trials
    # by objective; the others' checkpoint files are deleted once they fall out. None: all.
    keep_checkpoints: int | None = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="bertlab_optuna", node=BertlabOptunaSweeperConf, provider="bertlab"
)
