"""`debug=fast_dev_run` with the options no other test trains with (moved out of
tests/unit/test_config_choices.py: it trains)."""

from __future__ import annotations

from helpers.inprocess import run_here
from helpers.runs import ROOT, tiny_overrides


def test_fast_dev_run(tiny_model_dir, tiny_csv, tmp_path):
    """Options no other test trains with run the whole path (one batch of each stage).

    `trainer=default` and `callbacks=none` share one run (train.py's command line, in this
    process).
    """
    overrides = tiny_overrides(tiny_model_dir, tiny_csv, tmp_path / "run", tmp_path / "cache")
    overrides = [o for o in overrides if not o.startswith("~callbacks.")]  # none left to remove
    choices = ["trainer=default", "callbacks=none", "debug=fast_dev_run"]
    proc = run_here(ROOT / "train.py", *overrides, *choices)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Test: test/loss" in proc.stdout + proc.stderr
