"""Samplers and pruners named in ``hydra.sweeper.sampler`` / ``hydra.sweeper.pruner``.

Settings for one class live in a sub-node named after it (``sampler.tpe.n_startup_trials``),
so switching ``name`` never trips over another class's settings; sub-nodes of the classes not
chosen are ignored. Other keys (besides ``name`` and the sampler's ``seed``) go to the chosen
constructor too, and win over its sub-node. A key the chosen class does not take is a
SweepError, never silently dropped.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.samplers import BaseSampler

from bertlab.sweep.errors import SweepError
from bertlab.sweep.space import SearchSpace


class _GridSampler(optuna.samplers.GridSampler):
    """GridSampler for ask/tell: the sweeper checks ``is_exhausted`` itself.

    The stock ``after_trial`` calls ``study.stop()``, which only works inside ``optimize``.
    """

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        """Do nothing (see the class docstring)."""


SAMPLERS: dict[str, Any] = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "grid": _GridSampler,
    "cmaes": optuna.samplers.CmaEsSampler,  # needs the `cmaes` package
}
PRUNERS: dict[str, Any] = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "threshold": optuna.pruners.ThresholdPruner,
}
# Constructor arguments the sweeper sets itself, per sampler.
_SET_BY_SWEEPER = {"grid": ("search_space", "seed")}


def sampler_builder(
    cfg: Mapping[str, Any], space: SearchSpace
) -> Callable[[int | None], BaseSampler]:
    """Check ``cfg`` now and return a function that builds its sampler from a seed.

    Raises:
        SweepError: On an unknown name, or a key the sampler's constructor does not take.
    """
    name = cfg.get("name", "tpe")
    if name not in SAMPLERS:
        raise SweepError(f"Unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}.")
    settings = _settings("sampler", cfg, name, SAMPLERS, skip=("name", "seed"))
    cls = SAMPLERS[name]
    _check_kwargs("sampler", name, cls, settings, _SET_BY_SWEEPER.get(name, ("seed",)))
    kwargs = _values(settings)
    if name == "grid":
        return lambda seed: cls(space.grid(), seed=seed)
    return lambda seed: cls(seed=seed, **kwargs)


def make_sampler(cfg: Mapping[str, Any], seed: int | None, space: SearchSpace) -> BaseSampler:
    """Build the sampler named ``cfg['name']`` with ``seed``; other keys go to its constructor.

    Raises:
        SweepError: On an unknown name, or a key the sampler's constructor does not take.
    """
    return sampler_builder(cfg, space)(seed)


def worker_sampler(cfg: Mapping[str, Any], seed: int | None, space: SearchSpace) -> BaseSampler:
    """This worker's sampler, built once: see :class:`WorkerSeededSampler`.

    The grid sampler keeps ``seed`` as it is, so every worker walks the grid in one order
    (the storage tells them which points are taken); so does an unseeded sampler.

    Raises:
        SweepError: As :func:`make_sampler`, before any trial is asked.
    """
    build = sampler_builder(cfg, space)
    if seed is None or cfg.get("name", "tpe") == "grid":
        return build(seed)
    return WorkerSeededSampler(build, seed)


def mix_seed(seed: int, number: int) -> int:
    """A 32-bit seed mixed from ``seed`` and a trial number."""
    return int(np.random.SeedSequence([int(seed), number]).generate_state(1)[0])


class WorkerSeededSampler(BaseSampler):
    """A sampler built at the worker's first trial, seeded from the study seed and its number.

    Optuna seeds a sampler once, when it is built; every Optuna call is passed on to that one
    sampler, which is never replaced. Workers started with the same command share the seed,
    so samplers seeded alike would propose the same points in each. The storage gives each
    worker's first trial a number no other worker gets, so each worker draws from its own
    random stream, while one worker's sweep stays reproducible: a new study's first trial is
    number 0, and a resumed one starts from the trials already there.
    """

    def __init__(self, build: Callable[[int | None], BaseSampler], seed: int) -> None:
        self._build, self._seed = build, int(seed)
        self._sampler: BaseSampler | None = None

    @property
    def sampler(self) -> BaseSampler:
        """The sampler in use (built by the first ``before_trial``)."""
        if self._sampler is None:
            raise RuntimeError("WorkerSeededSampler is used before its first trial.")
        return self._sampler

    def __str__(self) -> str:
        inner = self._sampler or "not built yet"
        return f"WorkerSeededSampler({inner})"

    def before_trial(self, study: Any, trial: Any) -> None:
        """Build the sampler at the first trial (Optuna calls this before any sampling)."""
        if self._sampler is None:
            self._sampler = self._build(mix_seed(self._seed, trial.number))
        self._sampler.before_trial(study, trial)

    def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
        """Passed on to the sampler."""
        return self.sampler.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
        """Passed on to the sampler."""
        return self.sampler.sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: Any, trial: Any, param_name: str, param_distribution: Any
    ) -> Any:
        """Passed on to the sampler."""
        return self.sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        """Passed on to the sampler (if a trial was asked)."""
        if self._sampler is not None:
            self._sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Passed on to the sampler (if built)."""
        if self._sampler is not None:
            self._sampler.reseed_rng()


def make_pruner(cfg: Mapping[str, Any]) -> optuna.pruners.BasePruner:
    """Build the pruner named ``cfg['name']``; other keys are passed to its constructor.

    ``none`` ignores the other keys, so ``hydra.sweeper.pruner.name=none`` switches pruning
    off without deleting the settings the config composed for the default pruner.

    Raises:
        SweepError: On an unknown name, or a key the pruner's constructor does not take.
    """
    name = cfg.get("name", "none") or "none"
    if name not in PRUNERS:
        raise SweepError(f"Unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}.")
    if name == "none":
        return PRUNERS[name]()
    settings = _settings("pruner", cfg, name, PRUNERS, skip=("name",))
    _check_kwargs("pruner", name, PRUNERS[name], settings, ())
    return PRUNERS[name](**_values(settings))


def _settings(
    kind: str, cfg: Mapping[str, Any], name: str, classes: Mapping[str, Any], skip: tuple[str, ...]
) -> dict[str, tuple[str, Any]]:
    """Constructor settings for ``name``: its sub-node, then the flat keys (which win).

    A key named after a class is a sub-node only when it holds a mapping, so a flat
    ``pruner.percentile=25`` (PercentilePruner's argument) stays an argument.

    Returns:
        key -> (the key's path under ``hydra.sweeper``, value), the path for error messages.
    """

    def sub_node(key: str, value: Any) -> bool:
        return key in classes and isinstance(value, Mapping)

    own = cfg.get(name)
    settings = {}
    if sub_node(name, own):
        settings = {k: (f"{kind}.{name}.{k}", v) for k, v in own.items()}
    for key, value in cfg.items():
        if key not in skip and not sub_node(key, value):
            settings[key] = (f"{kind}.{key}", value)
    return settings


def _values(settings: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
    return {k: value for k, (_, value) in settings.items()}


def _check_kwargs(
    kind: str,
    name: str,
    cls: Any,
    settings: Mapping[str, tuple[str, Any]],
    reserved: tuple[str, ...],
) -> None:
    """Refuse keys that ``cls`` does not take, or that the sweeper sets itself."""
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    takes = [k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    bad = sorted(k for k in settings if k not in takes or k in reserved)
    if not bad:
        return
    allowed = [k for k in takes if k not in reserved]
    keys = ", ".join(bad)
    drop = " ".join(f"~hydra.sweeper.{settings[k][0]}" for k in bad)
    raise SweepError(
        f"The {name!r} {kind} does not take {keys} ({cls.__name__} takes: "
        f"{', '.join(allowed) or 'nothing'}). Drop it with {drop}."
    )
