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
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from optuna.trial import TrialState

from bertlab.sweep import context, lockbox, summary
from bertlab.sweep import study as st
from bertlab.sweep.errors import SweepError
from bertlab.sweep.space import (
    SearchSpace,
    canonical,
    describe,
    differences,
    fingerprint,
    parse_space,
)

log = logging.getLogger(__name__)

# A study name is a directory name under the sweep root (hydra.sweep.dir ends in it).
_STUDY_NAME = re.compile(r"[\w.-]+")
NAME_KEY = "hydra.sweeper.study_name"
# Study user attributes: the search space (canonical data), its fingerprint and sweep dir.
SPACE_ATTR, FINGERPRINT_ATTR, DIR_ATTR = "search_space", "space_fingerprint", "sweep_dir"


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
        identity = canonical(space)
        given = name_given(self.config)
        hashed = bool(self.conf.get("hash_study_name")) and not given
        name = f"{base}-{fingerprint(identity)}" if hashed else base
        if hashed:
            adopt_name(self.config, name)  # hydra.sweep.dir follows ${hydra.sweeper.study_name}
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()
        if given and sweep_dir.is_symlink():
            raise SweepError(
                f"{sweep_dir} is the link to the latest {name!r} sweep ({sweep_dir.readlink()}): "
                f"hydra.sweeper.study_name={name} would write into that study. Use another name."
            )
        sweep_dir.mkdir(parents=True, exist_ok=True)

        storage = st.resolve_storage(self.conf.get("storage"), sweep_dir)
        store = st.storage_for(storage)
        check_dir_is_free(store, name, sweep_dir, identity)
        study = optuna.create_study(
            study_name=name,
            storage=store,
            direction=direction,
            sampler=self._sampler(space, 0),
            pruner=st.make_pruner(dict(self.conf.get("pruner") or {})),
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


def name_given(config: DictConfig) -> bool:
    """Whether ``hydra.sweeper.study_name`` was set on the command line (an exact name)."""
    overrides = OmegaConf.select(config, "hydra.overrides.hydra", default=None) or []
    return any(str(o).split("=", 1)[0].lstrip("+~") == NAME_KEY for o in overrides)


def adopt_name(config: DictConfig, name: str) -> None:
    """Set the study name in ``config`` and in its Hydra overrides, which every job recomposes.

    So ``hydra.sweep.dir`` (``.../sweeps/${hydra.sweeper.study_name}``) resolves to the
    hashed name in the sweeper, the launcher and each trial's config alike.
    """
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweeper.study_name = name
        config.hydra.overrides.hydra.append(f"{NAME_KEY}={name}")


def check_dir_is_free(
    storage: optuna.storages.BaseStorage, name: str, sweep_dir: Path, identity: dict[str, Any]
) -> None:
    """Refuse to run when another study of ``storage`` already keeps its trials in ``sweep_dir``.

    Raises:
        SweepError: Naming that study and how its search space differs from this one.
    """
    here = str(sweep_dir.resolve())
    for other in storage.get_all_studies():
        if other.study_name != name and other.user_attrs.get(DIR_ATTR) == here:
            diff = differences(other.user_attrs.get(SPACE_ATTR) or {}, identity)
            raise SweepError(
                f"{sweep_dir} already holds study {other.study_name!r}, made for another "
                f"search space ({'; '.join(diff) or 'another name'}); this study's trial dirs "
                "would overwrite its own. Set another hydra.sweep.dir, or rerun its command."
            )


def claim_identity(
    study: optuna.Study, identity: dict[str, Any], sweep_dir: Path, *, strict: bool
) -> bool:
    """Record the study's search space, or check it against the recorded one.

    Args:
        study: The loaded (or just created) study.
        identity: :func:`~bertlab.sweep.space.canonical` data of this command's space.
        sweep_dir: Where the trials run.
        strict: Refuse a different recorded space (named or hashed studies); otherwise warn.

    Returns:
        True when the study is new (no space recorded and no trials yet).

    Raises:
        SweepError: When ``strict`` and the study was made for another space, naming the
            parameters and fixed overrides that differ.
    """
    stored = study.user_attrs.get(SPACE_ATTR)
    if stored is None:
        has_trials = bool(study.get_trials(deepcopy=False))
        if has_trials:
            log.warning(
                "Study %r has no recorded search space: recording this one.", study.study_name
            )
        study.set_user_attr(SPACE_ATTR, identity)
        study.set_user_attr(FINGERPRINT_ATTR, fingerprint(identity))
        study.set_user_attr(DIR_ATTR, str(sweep_dir.resolve()))
        return not has_trials
    if fingerprint(stored) == fingerprint(identity):
        return False
    diff = "; ".join(differences(stored, identity))
    if strict:
        raise SweepError(
            f"Study {study.study_name!r} was made for another search space: {diff}. "
            "Rerun the command that made it to resume it, or start a new study with another "
            "hydra.sweeper.study_name (without one, hparams_search names it from the space)."
        )
    log.warning(
        "Study %r was made for another search space (%s): resuming it.", study.study_name, diff
    )
    return False


def link_latest(sweep_dir: Path, base: str) -> None:
    """Point ``<sweep root>/<base>`` at ``sweep_dir``: commands naming the base find the latest.

    A real directory of that name (a study named so explicitly) is left alone.
    """
    link = sweep_dir.parent / base
    if link.exists() and not link.is_symlink():
        log.info("%s is a directory, not a link: not pointing it at %s.", link, sweep_dir.name)
        return
    tmp = sweep_dir.parent / f".{base}.{os.getpid()}.link"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(sweep_dir.name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError as e:
        log.warning("Cannot link %s to %s: %s", link, sweep_dir.name, e)


def _nothing_to_search(space: SearchSpace) -> str:
    fixed = " ".join(space.fixed) or "none"
    return (
        f"Nothing to search: no parameter has more than one value (fixed overrides: {fixed}). "
        "Give one a comma list, choice(...), range(...) or interval(...), or set "
        "hydra.sweeper.params; for a single run, drop -m."
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
