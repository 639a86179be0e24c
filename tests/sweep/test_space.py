"""Search-space parsing: hydra-optuna-sweeper syntax → Optuna distributions → overrides."""

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from bertlab.sweep.errors import SweepError
from bertlab.sweep.lockbox import lock_space
from bertlab.sweep.space import format_value, parse_space


def test_each_syntax_maps_to_its_distribution():
    space = parse_space(
        {
            "model.optimizer.lr": "tag(log, interval(1e-5, 1e-3))",
            "model.dropout": "interval(0, 0.3)",
            "data.batch_size": "choice(16, 32)",
            "trainer.max_epochs": "range(2, 6)",
            "w": "range(0.1, 0.5, 0.1)",
            "opt": "adam,sgd",
        },
        [],
    )
    p = space.params
    assert p["model.optimizer.lr"] == FloatDistribution(1e-5, 1e-3, log=True)
    assert p["model.dropout"] == FloatDistribution(0.0, 0.3)
    assert p["data.batch_size"] == CategoricalDistribution([16, 32])
    assert p["trainer.max_epochs"] == IntDistribution(2, 5)  # stop is exclusive, as in Hydra
    assert p["w"] == FloatDistribution(0.1, 0.4, step=0.1)
    assert p["opt"] == CategoricalDistribution(["adam", "sgd"])


def test_command_line_sweeps_replace_params_and_plain_overrides_are_fixed():
    space = parse_space(
        {"a": "choice(1, 2)", "b": "interval(0, 1)"}, ["a=3", "b=choice(5,6)", "+c=x"]
    )
    assert list(space.params) == ["b"]
    assert space.params["b"] == CategoricalDistribution([5, 6])
    assert space.fixed == ["a=3", "+c=x"]
    assert space.overrides({"b": 6}) == ["a=3", "+c=x", "b=6"]


def test_nested_params_from_dotted_command_line_keys_are_flattened():
    space = parse_space({"model": {"dropout": "interval(0, 0.5)"}, "lr": "choice(1, 2)"}, [])
    assert set(space.params) == {"model.dropout", "lr"}


def test_overrides_round_trip_values():
    assert format_value(3e-5) == "3e-05"
    assert format_value(True) == "true"
    assert format_value(None) == "null"
    space = parse_space({"+trainer.foo": "choice(1, 2)"}, [])
    assert space.overrides({"trainer.foo": 2}) == ["+trainer.foo=2"]


def test_grid_values_and_refusal_of_intervals():
    space = parse_space({"a": "choice(1, 2)", "e": "range(1, 4)"}, [])
    assert space.grid() == {"a": [1, 2], "e": [1, 2, 3]}
    with pytest.raises(SweepError, match="interval"):
        parse_space({"lr": "interval(0, 1)"}, []).grid()


@pytest.mark.parametrize("expr", ["interval(1, 1)", "range(5, 2)", "shuffle(1, 2)"])
def test_bad_expressions_are_refused(expr):
    with pytest.raises(SweepError):
        parse_space({"a": expr}, [])


def test_lockbox_key_is_forced_not_swept():
    space = lock_space(parse_space({"a": "choice(1, 2)"}, ["test_after_fit=true", "b=1"]))
    assert space.fixed == ["b=1"]
    with pytest.raises(SweepError, match="test_after_fit"):
        lock_space(parse_space({"test_after_fit": "choice(true, false)"}, []))
