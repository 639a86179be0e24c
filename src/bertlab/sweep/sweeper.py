"""The Optuna sweeper: ask one trial, launch it as a Hydra job, tell the result, repeat.

One trial at a time per process, with no batch barrier: any number of processes started with
the same command and storage share the study. Each trial runs in ``<sweep_dir>/<trial number>``.

The study's name and identity are checked in :mod:`~bertlab.sweep.identity`; its storage and
worker bookkeeping live in :mod:`~bertlab.sweep.study`; the sampler and pruner are built in
:mod:`~bertlab.sweep.samplers`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from bertlab.errors import RunDirError
from bertlab.sweep import context, lockbox, samplers, summary
from bertlab.sweep import study as st
from bertlab.sweep.errors import SweepError
from bertlab.sweep.identity import (
    adopt_name,
    check_dir_is_free,
    check_study_name,
    claim_identity,
    link_latest,
    name_given,
)
from bertlab.sweep.space import SearchSpace, canonical, describe, fingerprint, parse_space
from bertlab.utils.latest import pointer_file

log = logging.getLogger(__name__)


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
            SweepError: Bad space or objective (before any trial), a study or sweep dir made
                for another search space, or too many failures.
        """
        assert self.config is not None
        base = check_study_name(self.conf.get("study_name", "bertlab"))
        metric, direction = lockbox.sweep_objective(self.config, self.conf)
        space = lockbox.lock_space(parse_space(self.conf.get("params"), arguments))
        if not space.params:
            raise SweepError(_nothing_to_search(space))
        self._check_composes(space)
        sampler = self._sampler(space)  # bad sampler or pruner settings: refused here, too
        pruner = samplers.make_pruner(dict(self.conf.get("pruner") or {}))
        identity = canonical(space)
        given = name_given(self.config)
        hashed = bool(self.conf.get("hash_study_name")) and not given
        name = f"{base}-{fingerprint(identity)}" if hashed else base
        if hashed:
            adopt_name(self.config, name)  # hydra.sweep.dir follows ${hydra.sweeper.study_name}
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()
        pointer = pointer_file(sweep_dir.parent, sweep_dir.name)
        if given and (sweep_dir.is_symlink() or (pointer.is_file() and not sweep_dir.exists())):
            raise SweepError(
                f"{sweep_dir.name!r} names the latest-sweep pointer {pointer} (the latest "
                f"{name}-… sweep): hydra.sweeper.study_name={name} would be confused with it. "
                "Use another name."
            )
        sweep_dir.mkdir(parents=True, exist_ok=True)

        storage = st.resolve_storage(self.conf.get("storage"), sweep_dir)
        store = st.storage_for(storage)
        check_dir_is_free(store, name, sweep_dir, identity)
        study = optuna.create_study(
            study_name=name,
            storage=store,
            direction=direction,
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
        if study.direction.name.lower() != direction:
            raise SweepError(f"Study {name!r} in {storage} was created to {study.direction.name}.")
        new = claim_identity(study, identity, sweep_dir, strict=given or hashed)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        if hashed and sweep_dir.name == name:
            link_latest(sweep_dir, base)
        n_trials = self._n_trials(space)
        retried = st.recover_stale(study, float(self.conf.get("grace_period_s", 600)))
        if retried:
            log.warning("Trials %s were left RUNNING by a dead worker: failed, re-queued.", retried)
        state = "new" if new else "resuming"
        log.info(
            "Study %r (search space %s): %s, %d/%d trials",
            *(name, describe(identity), state, st.budget_used(study), n_trials),
        )
        log.info("Sweep dir %s, storage %s", sweep_dir, storage)
        if not new and (opened := lockbox.openings(sweep_dir)):
            log.warning(
                "The test set of study %r was already opened %d time(s) (%s, lockbox.json): "
                "trials added now are chosen after those test numbers were seen.",
                *(name, len(opened), ", ".join(o.get("opened_at", "?") for o in opened)),
            )

        returns: list[JobReturn] = []
        while st.budget_used(study) < n_trials:
            self._check_failures(study, n_trials)
            trial = self._ask(study, space)
            if trial is None:
                break
            ret = self._run(study, trial, space, storage, sweep_dir)
            if ret is not None:
                returns.append(ret)
            summary.prune_checkpoints(study, sweep_dir, self.conf.get("keep_checkpoints"))
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

    def _sampler(self, space: SearchSpace) -> optuna.samplers.BaseSampler:
        """This worker's one sampler, seeded from ``sampler.seed`` (default: the task's seed)."""
        cfg = dict(self.conf.get("sampler") or {"name": "tpe"})
        seed = cfg.get("seed")
        if seed is None and self.config is not None:
            seed = OmegaConf.select(self.config, "seed", default=None)
        return samplers.worker_sampler(cfg, None if seed is None else int(seed), space)

    def _ask(self, study: optuna.Study, space: SearchSpace) -> optuna.Trial | None:
        """Ask the study's sampler for a trial with the space's parameters; None: grid done."""
        sampler = study.sampler
        if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
            log.info("Grid exhausted.")
            return None
        trial = study.ask(fixed_distributions=dict(space.params))
        st.claim(trial)
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


def _nothing_to_search(space: SearchSpace) -> str:
    fixed = " ".join(space.fixed) or "none"
    return (
        f"Nothing to search: no parameter has more than one value (fixed overrides: {fixed}). "
        "Give one a comma list, choice(...), range(...) or interval(...), or set "
        "hydra.sweeper.params; for a single run, drop -m."
    )


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
    """Copy run dir, best epoch, checkpoint and epochs (from ``metrics.json``) onto the trial."""
    trial.set_user_attr(summary.RUN_DIR, str(run_dir))
    try:
        metrics = lockbox.read_metrics(run_dir)
    except RunDirError as err:  # the trial's value came back; its record did not
        log.warning("Trial %d: %s", trial.number, err)
        return
    if metrics.get("best_epoch") is not None:
        trial.set_user_attr(summary.BEST_EPOCH, metrics["best_epoch"])
    if metrics.get("best_checkpoint"):
        trial.set_user_attr(summary.CHECKPOINT, str(metrics["best_checkpoint"]))
    for key in (summary.EPOCHS_RUN, summary.MAX_EPOCHS):  # what pruning saved
        if isinstance(metrics.get(key), int):
            trial.set_user_attr(key, metrics[key])


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
