"""The shipped sweep configs compose and select bertlab's sweeper (no run)."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SPACE = {
    "model.optimizer.lr",
    "data.batch_size",
    "model.scheduler.warmup_fraction",
    "model.optimizer.weight_decay",
    "trainer.max_epochs",
    "model.dropout",
}


@pytest.mark.parametrize(("search", "sampler"), [("optuna", "tpe"), ("grid", "grid")])
def test_search_configs_use_the_bertlab_sweeper(search, sampler):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", [f"hparams_search={search}"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("BertlabOptunaSweeper")
    assert sweeper.sampler.name == sampler
    assert sweeper.direction == cfg.objective.mode
    assert cfg.objective.metric.startswith("val/")
    sweep_dir = OmegaConf.to_container(cfg.hydra.sweep)["dir"]  # unresolved
    assert sweep_dir.endswith("/${hydra.sweeper.study_name}")  # no timestamp: resumable
    if search == "optuna":
        assert set(sweeper.params) == SPACE
        assert sweeper.pruner.name != "none"


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes"])
def test_the_optuna_config_builds_any_sampler_by_name_alone(sampler):
    from bertlab.sweep.samplers import make_sampler
    from bertlab.sweep.space import parse_space

    overrides = ["hparams_search=optuna", f"hydra.sweeper.sampler.name={sampler}"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides, return_hydra_config=True)
    sweeper = OmegaConf.to_container(cfg.hydra.sweeper, resolve=False)
    space = parse_space(sweeper["params"], [])
    built = make_sampler({**sweeper["sampler"], "seed": 0}, 0, space)
    assert type(built).__name__.lower().startswith(sampler)
