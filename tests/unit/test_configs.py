"""Every config group option composes, and builds where that is cheap."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SKIP_GROUPS = {"hydra"}


def options(group: str) -> list[str]:
    """User-selectable options (data/base is the parent of corpus configs, not a corpus)."""
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml") if p.stem != "base")


GROUP_OPTIONS = [
    (g.name, o)
    for g in sorted(CONFIGS.iterdir())
    if g.is_dir() and g.name not in SKIP_GROUPS
    for o in options(g.name)
]


def compose_with(*overrides: str):
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=False)


@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS)
def test_group_option_composes(group, option):
    cfg = compose_with(f"{group}={option}")
    assert cfg.data._target_.endswith("TextClassificationDataModule")
    assert cfg.model._target_ and cfg.trainer._target_ == "lightning.Trainer"
    if group == "data":
        assert OmegaConf.select(cfg, "data.source._target_")


def test_defaults_are_the_offline_package_model_and_data():
    cfg = compose_with()
    assert cfg.model.pretrained == "default"
    assert cfg.data.source._target_ == "bertlab.data.MovieReviews"
    assert cfg.data.source.subset == "rotten_tomatoes"
    assert cfg.objective.metric.startswith("val/")


def test_unknown_key_is_refused():
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="lerning_rate"):
        compose_with("model.optimizer.lerning_rate=1")
