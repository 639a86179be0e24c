"""README's setup and timing claims hold: the CPU-torch command it gives does what it says."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from helpers.runs import ROOT

INDEX = "https://download.pytorch.org/whl/cpu"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_readmes_cpu_torch_command_installs_from_the_pytorch_index():
    readme = (ROOT / "README.md").read_text()
    assert f"make setup TORCH_INDEX={INDEX}" in readme
    plan = subprocess.run(
        ["make", "-n", "-B", "setup", f"TORCH_INDEX={INDEX}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(rf"pip install -q --index-url {re.escape(INDEX)} \"torch==", plan), plan
    default = subprocess.run(
        ["make", "-n", "-B", "setup"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--index-url" not in default


def test_the_readme_states_a_measured_run_time_with_its_cpu():
    readme = (ROOT / "README.md").read_text()
    assert "~3 min" not in readme and "under 3 minutes" not in readme
    assert re.search(r"\d+ min \d+ s measured\s+on a 2-core AVX2 CPU", readme)
    assert "CUDA build of about 5 GB" in readme
