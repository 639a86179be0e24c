"""A study name is a directory under the sweep root: one that would leave it is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bertlab.sweep.errors import SweepError
from bertlab.sweep.identity import check_study_name
from helpers.runs import HANG_GUARD_S

APP = Path(__file__).parent / "toy" / "app.py"
BAD = ["../../x", "..", "a/b", "/abs", "a\\b", ".hidden", "a..b", "", None, "a b"]


@pytest.mark.parametrize("name", BAD)
def test_unsafe_names_are_refused(name):
    with pytest.raises(SweepError, match=r"hydra\.sweeper\.study_name.*letters, digits"):
        check_study_name(name)


@pytest.mark.parametrize("name", ["bertlab", "rt_v2", "lr-1e-5", "run.2", "étude"])
def test_plain_names_pass(name):
    assert check_study_name(name) == name


@pytest.mark.slow
def test_the_sweeper_refuses_an_escaping_name_before_writing_anything(tmp_path):
    root = tmp_path / "logs" / "train" / "sweeps"
    proc = subprocess.run(
        [
            sys.executable,
            str(APP),
            "-m",
            "hydra.sweeper.study_name=../../x",
            f"hydra.sweep.dir={root}/${{hydra.sweeper.study_name}}",  # as configs/hparams_search
        ],
        env={**os.environ, "SWEEP_DIR": str(tmp_path / "unused")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert proc.returncode == 2  # a user error (Hydra's own exit was 1)
    assert "hydra.sweeper.study_name='../../x'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # neither logs/x nor the sweep root
