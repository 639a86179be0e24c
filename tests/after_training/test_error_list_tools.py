"""Issue 20's error list, after training: a run dir evaluate cannot write to, and an export
target inside a run dir."""

from __future__ import annotations

import errno
import json
import shutil

import pytest

from bertlab.tools import evaluate as evaluate_module
from bertlab.tools.export import main as export_main
from helpers.trained import trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_dir, tiny_csv):
    return trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)


def test_evaluate_prints_the_metrics_when_the_run_dir_is_read_only(run, monkeypatch, capsys):
    """It raised PermissionError (a traceback, exit 1) before printing anything."""

    def read_only(path, record):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(evaluate_module, "atomic_write_json", read_only)
    assert evaluate_module.main([str(run), "--split", "validation"]) == 2
    out, err = capsys.readouterr()
    metrics = json.loads(out[: out.rindex("}") + 1])
    assert set(metrics) >= {"val/acc", "val/loss"}
    assert "could not be saved" in err and "Permission denied" in err and "--out" in err


def test_export_refuses_a_target_inside_a_run_dir(run, tmp_path, capsys):
    """`export RUN RUN/checkpoints --force` replaced the run's checkpoints with the export."""
    copy = shutil.copytree(run, tmp_path / "run")  # the shared run stays whole if this fails
    before = sorted(p.name for p in (copy / "checkpoints").iterdir())
    assert export_main([str(copy), str(copy / "checkpoints"), "--force"]) == 2
    assert "inside the run dir" in capsys.readouterr().err
    assert sorted(p.name for p in (copy / "checkpoints").iterdir()) == before
    assert export_main([str(copy), str(copy / "exports" / "hf")]) == 2  # a new dir inside too
    assert not (copy / "exports").exists()
