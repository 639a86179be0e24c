"""Slips a user makes every day get one clear answer, before any data work (issue 21.12-13)."""

from __future__ import annotations

import pytest

from bertlab.errors import ConfigError
from helpers.inprocess import train_in_process
from helpers.runs import run_train, tiny_overrides


def test_a_search_space_without_multirun_exits_2(tmp_path):
    proc = run_train("hparams_search=optuna", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "add -m" in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_an_unknown_trainer_flag_is_refused_before_the_data(tiny_model_dir, tiny_csv, tmp_path):
    overrides = tiny_overrides(tiny_model_dir, tiny_csv, tmp_path / "run", tmp_path / "cache")
    with pytest.raises(ConfigError, match=r"trainer\.max_epoch .*did you mean trainer\.max_epochs"):
        train_in_process(*overrides, "+trainer.max_epoch=3")
    assert not (tmp_path / "cache").exists()  # nothing was tokenized


def test_fast_dev_run_writes_what_its_config_says(tiny_model_dir, tiny_csv, tmp_path):
    out = tmp_path / "run"
    train_in_process(
        *tiny_overrides(tiny_model_dir, tiny_csv, out, tmp_path / "cache"), "debug=fast_dev_run"
    )
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert not [f for f in files if f.endswith(".ckpt") or "tfevents" in f], sorted(files)
    assert {"config.yaml", "split_manifest.json", "metrics.json"} <= files
