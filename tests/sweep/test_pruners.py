"""Sampler and pruner construction from the sweeper config."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.samplers import RandomSampler

from bertlab.sweep.errors import SweepError
from bertlab.sweep.samplers import WorkerSeededSampler, make_pruner, make_sampler, worker_sampler
from bertlab.sweep.space import SearchSpace

SPACE = SearchSpace(
    params={"x": FloatDistribution(0.0, 1.0), "y": CategoricalDistribution([1, 2, 3])},
    keys={"x": "x", "y": "y"},
    fixed=[],
)


def test_none_ignores_the_default_pruners_settings():
    cfg = {"name": "none", "n_startup_trials": 3, "n_warmup_steps": 1}
    assert isinstance(make_pruner(cfg), optuna.pruners.NopPruner)


def test_median_gets_its_settings():
    pruner = make_pruner({"name": "median", "n_startup_trials": 7, "n_warmup_steps": 2})
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    assert pruner._n_startup_trials == 7 and pruner._n_warmup_steps == 2


def test_unknown_pruner_names_the_choices():
    with pytest.raises(SweepError, match="median"):
        make_pruner({"name": "oracle"})


def test_a_pruner_setting_its_class_does_not_take_is_refused():
    with pytest.raises(SweepError, match="n_warmup_step\\b.*~hydra.sweeper.pruner.n_warmup_step"):
        make_pruner({"name": "median", "n_warmup_step": 1})


def test_tpe_gets_its_settings():
    sampler = make_sampler({"name": "tpe", "n_startup_trials": 4}, 0, SPACE)
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert sampler._n_startup_trials == 4


@pytest.mark.parametrize(
    ("cfg", "refused"),
    [
        ({"name": "random", "n_startup_trials": 5}, "n_startup_trials"),  # tpe's, not random's
        ({"name": "tpe", "n_startup_trial": 5}, "n_startup_trial"),  # a typo
        ({"name": "grid", "search_space": {"x": [0.5]}}, "search_space"),  # the sweeper's own
    ],
)
def test_a_sampler_setting_its_class_does_not_take_is_refused(cfg, refused):
    with pytest.raises(SweepError) as err:
        make_sampler(cfg, 0, SPACE)
    message = str(err.value)
    assert f"{cfg['name']!r} sampler does not take {refused} " in message
    assert f"~hydra.sweeper.sampler.{refused}" in message


def test_only_the_chosen_samplers_sub_node_is_used():
    cfg = {"name": "tpe", "tpe": {"n_startup_trials": 4}, "cmaes": {"n_startup_trials": 9}}
    assert make_sampler(cfg, 0, SPACE)._n_startup_trials == 4
    # the config's tpe settings do not stand in the way of another sampler
    assert isinstance(make_sampler({**cfg, "name": "random"}, 0, SPACE), RandomSampler)
    # a flat key wins over the sub-node
    assert make_sampler({**cfg, "n_startup_trials": 2}, 0, SPACE)._n_startup_trials == 2


def test_a_bad_key_in_a_sub_node_is_refused_by_its_path():
    with pytest.raises(SweepError, match=r"~hydra\.sweeper\.sampler\.tpe\.n_startup_trial\."):
        make_sampler({"name": "tpe", "tpe": {"n_startup_trial": 4}}, 0, SPACE)


def test_a_pruner_argument_named_like_a_pruner_stays_an_argument():
    pruner = make_pruner({"name": "percentile", "percentile": 10.0, "n_warmup_steps": 1})
    assert isinstance(pruner, optuna.pruners.PercentilePruner)
    assert pruner._percentile == 10.0
    pruner = make_pruner({"name": "median", "median": {"n_warmup_steps": 3}})
    assert pruner._n_warmup_steps == 3


def test_unknown_sampler_names_the_choices():
    with pytest.raises(SweepError, match="tpe, random, grid, cmaes"):
        make_sampler({"name": "oracle"}, 0, SPACE)


def run_study(sampler: optuna.samplers.BaseSampler, n: int = 8) -> list[dict]:
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for _ in range(n):
        trial = study.ask(fixed_distributions=dict(SPACE.params))
        study.tell(trial, trial.params["x"] + 0.1 * trial.params["y"])
    return [t.params for t in study.trials]


def test_a_seeded_tpe_study_run_twice_proposes_the_same_parameters():
    cfg = {"name": "tpe", "n_startup_trials": 3}
    first, second = (run_study(worker_sampler(cfg, 7, SPACE)) for _ in range(2))
    assert first == second and len({p["x"] for p in first}) == 8
    assert run_study(worker_sampler(cfg, 8, SPACE)) != first  # the seed matters


def test_workers_sharing_a_seeded_study_draw_different_points():
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(study_name="s", storage=storage)
    workers = [
        optuna.load_study(
            study_name="s", storage=storage, sampler=worker_sampler({"name": "random"}, 0, SPACE)
        )
        for _ in range(2)
    ]
    trials = [w.ask(fixed_distributions=dict(SPACE.params)) for w in workers]  # at once
    assert [t.number for t in trials] == [0, 1]
    assert trials[0].params["x"] != trials[1].params["x"]
    assert all(isinstance(w.sampler, WorkerSeededSampler) for w in workers)


def test_the_grid_and_an_unseeded_sampler_are_used_as_built():
    finite = SearchSpace(params={"y": SPACE.params["y"]}, keys={"y": "y"}, fixed=[])
    grid = worker_sampler({"name": "grid"}, 3, finite)
    assert isinstance(grid, optuna.samplers.GridSampler)
    assert isinstance(worker_sampler({"name": "tpe"}, None, SPACE), optuna.samplers.TPESampler)
