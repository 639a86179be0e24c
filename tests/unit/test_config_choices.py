"""Every option `python train.py --help` lists works; internal bases are not listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from helpers.inprocess import run_here
from helpers.runs import ROOT

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
GPU_TRAINERS = {"gpu", "ddp", "fsdp"}  # need GPUs to build


def listed_options() -> list[tuple[str, str]]:
    """(group, option) pairs as Hydra lists them (what --help shows), hydra/ groups excepted."""
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        return [
            (group, option)
            for group in _groups(loader, "")
            for option in loader.get_group_options(group)
        ]


def _groups(loader, parent: str) -> Iterator[str]:
    for name in loader.list_groups(parent):
        group = f"{parent}/{name}" if parent else name
        if group != "hydra":
            yield group
            yield from _groups(loader, group)


OPTIONS = listed_options()


def compose_with(*overrides: str) -> DictConfig:
    """The composed train config with `overrides`."""
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def _param(group: str, option: str):
    return pytest.param(group, option)


def test_internal_bases_are_not_choices():
    assert ("data", "base") not in OPTIONS
    assert {o for g, o in OPTIONS if g == "data"} == {"csv", "hub", "imdb", "rotten_tomatoes"}
    assert "trainer" in {g for g, _ in OPTIONS} and ("trainer", "default") in OPTIONS
    assert {o for g, o in OPTIONS if g == "callbacks"} == {"default", "none"}


@pytest.mark.parametrize(("group", "option"), [_param(g, o) for g, o in OPTIONS])
def test_every_listed_option_works(group, option, tmp_path):
    """It composes, keeps the essentials, and its callbacks and CPU trainer build."""
    cfg = compose_with(f"{group}={option}", f"paths.output_dir={tmp_path}")
    assert cfg.data._target_ == "bertlab.data.TextClassificationDataModule"
    assert cfg.data.source._target_ and cfg.model._target_
    if group == "callbacks" and option != "none":
        assert {"model_checkpoint", "early_stopping"} <= set(cfg.callbacks)
    for node in (cfg.get("callbacks") or {}).values():
        if node is not None:
            instantiate(node)
    if group == "trainer" and option not in GPU_TRAINERS:
        instantiate(cfg.trainer, enable_checkpointing=False, logger=False)


def test_help_lists_no_base(tmp_path):
    proc = run_here(ROOT / "train.py", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    groups = dict(
        line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line and "=" not in line
    )
    assert groups["data"].split(", ") == ["csv", "hub", "imdb", "rotten_tomatoes"]
    assert all("base" not in options.split(", ") for options in groups.values())
