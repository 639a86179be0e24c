"""The `task` config group: built once by the DataModule (constructor arguments included),
saved as plain data, `data.task=<name>` still working, and trust asked only of a run's file."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bertlab.errors import ConfigError
from bertlab.tasks import get_task
from bertlab.train.run_dir import RunDir
from bertlab.train.verify import config_differences
from bertlab.utils.instantiate import TRUST_ENV, instantiate
from helpers.runs import ROOT
from helpers.tasks import Tempered


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=list(overrides))


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ([], "single_label"),
        (["task=multi_label"], "multi_label"),
        (["task=regression"], "regression"),
        (["data.task=regression"], "regression"),  # the old key keeps working
    ],
)
def test_the_group_and_the_old_key_select_a_task(overrides, name):
    assert get_task(compose_train(*overrides).data.task).name == name


def test_a_task_of_your_own_gets_its_arguments_without_trust(tiny_csv, cache_dir, monkeypatch):
    """Named on your own command line: no BERTLAB_TRUSTED_TARGETS needed (it was)."""
    monkeypatch.delenv(TRUST_ENV, raising=False)
    cfg = compose_train(
        "data=csv",
        f"data.source.path={tiny_csv}",
        f"data.cache_dir={cache_dir}",
        "task._target_=helpers.tasks.Tempered",
        "+task.temperature=2.0",
    )
    datamodule = instantiate(cfg.data)  # builds the task once, as the pipeline does
    assert isinstance(datamodule.task, Tempered) and datamodule.task.temperature == 2.0
    spec = {"_target_": "helpers.tasks.Tempered", "temperature": 2.0}
    assert datamodule.hparams.task == spec  # plain data, for weights_only checkpoints
    assert get_task("helpers.tasks.Tempered").temperature == 1.0  # data.task=<class path>


def test_a_run_file_naming_a_task_class_needs_trust(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    with pytest.raises(ConfigError, match=TRUST_ENV):
        get_task({"_target_": "helpers.tasks.Tempered"}, origin="run/config.yaml")
    monkeypatch.setenv(TRUST_ENV, "helpers.tasks.")
    assert isinstance(get_task("helpers.tasks.Tempered", origin="run/config.yaml"), Tempered)


def test_an_old_runs_class_path_is_read_as_a_target(tmp_path):
    """So that building the run's data checks it against the allow-list."""
    OmegaConf.save({"data": {"task": "my_tasks.Ordinal"}}, tmp_path / RunDir.CONFIG)
    assert RunDir(tmp_path).config().data.task == {"_target_": "my_tasks.Ordinal"}


def test_resuming_an_older_run_sees_the_same_task():
    """A run made before the group recorded data.task=single_label."""
    old = OmegaConf.create({"data": {"task": "single_label"}})
    now = OmegaConf.create(
        {"data": {"task": {"_target_": "bertlab.tasks.single_label.SingleLabel"}}}
    )
    assert config_differences(old, now, ("data",)) == []
    other = OmegaConf.create({"data": {"task": "regression"}})
    assert config_differences(old, other, ("data",)) != []


def test_task_arguments_must_be_plain():
    with pytest.raises(ConfigError, match="not a plain value"):
        Tempered(temperature=object()).spec()
