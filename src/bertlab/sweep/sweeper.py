"""The Optuna sweeper: ask one trial, launch it as a Hydra job, tell the result, repeat.

One trial at a time per process, with no batch barrier: any number of processes started with
the same command and storage share the study. Each trial runs in ``<sweep_dir>/<trial number>``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from bertlab.sweep import context, lockbox, summary
from bertlab.sweep import study as st
from bertlab.sweep.errors import SweepError
from bertlab.sweep.space import SearchSpace, parse_space

log = logging.getLogger(__name__)

# A study name is a directory name under the sweep root (hydra.sweep.dir ends in it).
_STUDY_NAME = re.compile(r"[\w.-]+")


class OptunaSweeperImpl:
    """Implementation behind the ``bertlab_optuna`` Hydra sweeper (see its config for fields)."""

    def __init__(self, **conf: Any) -> None:
        self.conf = conf
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        """Keep the config and build the launcher (Hydra calls this before ``sweep``)."""
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        """Run trials until the study holds ``n_trials`` (this and other workers' together).

        Raises:
            SweepError: Bad space or objective (before any trial), or too many failures.
        """
        assert self.config is not None
        name = check_study_name(self.conf.get("study_name", "bertlab"))
        metric, direction = lockbox.sweep_objective(self.config, self.conf)
        space = lockbox.lock_space(parse_space(self.conf.get("params"), arguments))
        if not space.params:
            raise SweepError("Nothing to search: set hydra.sweeper.params or sweep overrides.")
        self._check_composes(space)
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        storage = st.resolve_storage(self.conf.get("storage"), sweep_dir)
        study = optuna.create_study(
            study_name=name,
            storage=st.storage_for(storage),
            direction=direction,
            sampler=self._sampler(space, 0),
            pruner=st.make_pruner(dict(self.conf.get("pruner") or {})),
            load_if_exists=True,
        )
        if study.direction.name.lower() != direction:
            raise SweepError(f"Study {name!r} in {storage} was created to {study.direction.name}.")
        n_trials = self._n_trials(space)
        retried = st.recover_stale(study, float(self.conf.get("grace_period_s", 600)))
        if retried:
            log.warning("Trials %s were left RUNNING by a dead worker: failed, re-queued.", retried)
        log.info("Study %r (%s): %d/%d trials", name, storage, st.budget_used(study), n_trials)

        returns: list[JobReturn] = []
        while st.budget_used(study) < n_trials:
            self._check_failures(study, n_trials)
            trial = self._ask(study, space)
            if trial is None:
                break
            ret = self._run(study, trial, space, storage, sweep_dir)
            if ret is not None:
                returns.append(ret)
            summary.write_summary(study, sweep_dir)
            summary.write_best(study, sweep_dir, metric)
        self._check_failures(study, n_trials)
        summary.write_summary(study, sweep_dir)
        summary.write_best(study, sweep_dir, metric)
        summary.print_table(study, metric)
        return returns

    def _check_composes(self, space: SearchSpace) -> None:
        """Compose one trial's config now, so a mistyped key fails before any trial."""
        assert self.hydra_context is not None and self.config is not None
        job = [*space.example(), lockbox.LOCK_OVERRIDE]
        try:
            self.hydra_context.config_loader.load_sweep_config(self.config, job)
        except Exception as e:
            raise SweepError(f"A trial's config cannot be composed ({' '.join(job)}): {e}") from e

    def _n_trials(self, space: SearchSpace) -> int:
        n = self.conf.get("n_trials")
        if n is None and (self.conf.get("sampler") or {}).get("name") == "grid":
            return math.prod(len(v) for v in space.grid().values())
        if n is None or int(n) < 1:
            raise SweepError("hydra.sweeper.n_trials must be a positive integer.")
        return int(n)

    def _check_failures(self, study: optuna.Study, n_trials: int) -> None:
        rate = float(self.conf.get("max_failure_rate", 0.25))
        failed = st.failures(study)
        if failed > rate * n_trials:
            raise SweepError(
                f"{failed} trials failed, more than max_failure_rate={rate} of {n_trials}; "
                f"see the error column of {summary.SUMMARY}."
            )

    def _sampler(self, space: SearchSpace, offset: int) -> Any:
        cfg = dict(self.conf.get("sampler") or {"name": "tpe"})
        seed = cfg.get("seed")
        if seed is None and self.config is not None:
            seed = OmegaConf.select(self.config, "seed", default=None)
        if seed is not None and cfg.get("name") != "grid":  # the grid's order must not vary
            seed = int(np.random.SeedSequence([int(seed), offset]).generate_state(1)[0])
        return st.make_sampler(cfg, seed, space)

    def _ask(self, study: optuna.Study, space: SearchSpace) -> optuna.Trial | None:
        """Ask a trial and sample its parameters with a sampler seeded by its number.

        Seeding by trial number keeps a sweep reproducible and stops parallel workers
        (same command, same seed) from drawing the same parameters. The grid sampler is
        the exception: one instance, one order, coordinated through the storage.
        """
        if isinstance(study.sampler, optuna.samplers.GridSampler):
            if study.sampler.is_exhausted(study):
                log.info("Grid exhausted.")
                return None
        else:
            study.sampler = self._sampler(space, st.budget_used(study))
        trial = study.ask()
        st.claim(trial)
        if not isinstance(study.sampler, optuna.samplers.GridSampler):
            study.sampler = self._sampler(space, trial.number)
        for name, dist in space.params.items():
            _suggest(trial, name, dist)
        return trial

    def _run(
        self,
        study: optuna.Study,
        trial: optuna.Trial,
        space: SearchSpace,
        storage: str,
        sweep_dir: Path,
    ) -> JobReturn | None:
        """Launch one trial as a Hydra job and tell Optuna how it ended."""
        overrides = space.overrides(trial.params)
        trial.set_user_attr(summary.OVERRIDES, overrides)
        job = [*overrides, lockbox.LOCK_OVERRIDE]
        log.info("Trial %d: %s", trial.number, " ".join(overrides))
        env = context.trial_env(storage, study.study_name, trial._trial_id)
        ret: JobReturn | None = None
        value: Any = None
        error: BaseException | None = None
        try:
            with (
                context.active_trial(trial) as record,
                st.heartbeat(trial, float(self.conf.get("heartbeat_interval_s", 60))),
                _environ(context.ENV, env),
            ):
                try:
                    [ret] = self.launcher.launch([job], initial_job_idx=trial.number)
                    value = ret.return_value  # re-raises the job's exception
                except Exception as e:
                    error = e
        except BaseException:  # Ctrl-C, SystemExit, ...: re-queue the trial, then stop
            st.retry(study, study._storage.get_trial(trial._trial_id), "interrupted")
            summary.write_summary(study, sweep_dir)
            raise
        run_dir = _run_dir(ret, sweep_dir, trial.number)
        _record_metrics(trial, run_dir)
        pruned = record.pruned or context.PRUNED_AT in _attrs(study, trial)
        _tell(study, trial, value, error, pruned)
        return ret


def check_study_name(name: Any) -> str:
    """Return ``name`` if it is safe as one directory name under the sweep root.

    Raises:
        SweepError: When it is empty, starts with ``.``, holds ``..`` or a character other
            than letters, digits, ``_``, ``-`` and ``.`` (so no path separator).
    """
    text = "" if name is None else str(name)
    if _STUDY_NAME.fullmatch(text) and not text.startswith(".") and ".." not in text:
        return text
    raise SweepError(
        f"hydra.sweeper.study_name={name!r} cannot name a study: it is a directory name under "
        "the sweep root. Use letters, digits, '_', '-' and '.' (not first, and no '..')."
    )


def _suggest(trial: optuna.Trial, name: str, dist: Any) -> Any:
    """Suggest one parameter through Optuna's public API."""
    d = optuna.distributions
    if isinstance(dist, d.CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    if isinstance(dist, d.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


@contextmanager
def _environ(key: str, value: str) -> Any:
    old = os.environ.get(key)
    os.environ[key] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _attrs(study: optuna.Study, trial: optuna.Trial) -> Mapping[str, Any]:
    return study._storage.get_trial(trial._trial_id).user_attrs


def _run_dir(ret: JobReturn | None, sweep_dir: Path, number: int) -> Path:
    if ret is not None and ret.hydra_cfg is not None:
        return Path(ret.hydra_cfg.hydra.runtime.output_dir)
    return sweep_dir / str(number)


def _record_metrics(trial: optuna.Trial, run_dir: Path) -> None:
    """Copy run dir, best epoch and checkpoint (from ``metrics.json``) onto the trial."""
    trial.set_user_attr(summary.RUN_DIR, str(run_dir))
    metrics = lockbox.read_metrics(run_dir)
    if metrics.get("best_epoch") is not None:
        trial.set_user_attr(summary.BEST_EPOCH, metrics["best_epoch"])
    if metrics.get("best_checkpoint"):
        trial.set_user_attr(summary.CHECKPOINT, str(metrics["best_checkpoint"]))


def _tell(
    study: optuna.Study, trial: optuna.Trial, value: Any, error: BaseException | None, pruned: bool
) -> None:
    """Tell Optuna the trial's end: FAIL (with its error), PRUNED, or COMPLETE."""
    number = _finite(value)
    if number is not None:
        trial.set_user_attr(summary.OBJECTIVE, number)
    if error is None and number is None:
        error = SweepError(f"the job returned {value!r}, not a finite objective value")
    if error is not None:
        trial.set_user_attr(st.ERROR, f"{type(error).__name__}: {error}"[:2000])
        log.error("Trial %d failed: %s: %s", trial.number, type(error).__name__, error)
        study.tell(trial, state=TrialState.FAIL)
    elif pruned:
        log.info("Trial %d pruned (best so far %s).", trial.number, number)
        study.tell(trial, state=TrialState.PRUNED)
    else:
        log.info("Trial %d finished: %s.", trial.number, number)
        study.tell(trial, number)


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
