"""The run directory has one home (`bertlab.train.run_dir.RunDir`): its file names appear once
in src/, and what it writes it reads back."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from bertlab.errors import DataError, ModelError, RunDirError
from bertlab.train.run_dir import RunDir

SRC = Path(__file__).resolve().parents[2] / "src"
NAMES = (
    RunDir.CONFIG,
    RunDir.MANIFEST,
    RunDir.LABEL_MAP,
    RunDir.ENCODING,
    RunDir.METRICS,
    RunDir.TEST_PREDICTIONS,
    RunDir.CHECKPOINTS,
    RunDir.FAILED,
    RunDir.MARKER,
    RunDir.HYDRA,
)


def string_constants(path: Path) -> list[str]:
    """The string literals of a module, docstrings left out (prose may name a file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_each_run_file_name_is_written_once_in_src():
    """Every module asks RunDir for a run file's name; only RunDir spells it (Hydra's
    `.hydra`: the resolver that tells Hydra where to write)."""
    where: dict[str, list[str]] = {name: [] for name in NAMES}
    for path in sorted(SRC.rglob("*.py")):
        for value in string_constants(path):
            if value in where:
                where[value].append(str(path.relative_to(SRC)))
    owner = {name: ["bertlab/train/run_dir.py"] for name in NAMES}
    owner[RunDir.HYDRA] = ["bertlab/utils/resolvers.py"]
    assert where == owner


def test_what_a_run_dir_writes_it_reads_back(tmp_path):
    run = RunDir(tmp_path / "run")
    run.claim()
    run.write_labels("single_label", ["neg", "pos"])
    run.write_manifest({"splits": {"test": {"size": 3, "ids_sha256": "ab"}}})
    run.write_metrics({"best_checkpoint": "checkpoints/epoch=1.ckpt"})
    assert run.labels() == ("single_label", ["neg", "pos"])
    run.check_same_labels("single_label", ["neg", "pos"])
    with pytest.raises(DataError, match="trained on single_label labels"):
        run.check_same_labels("single_label", ["pos", "neg"])
    run.check_same_split({"splits": {"test": {"size": 3, "ids_sha256": "ab"}}})
    with pytest.raises(DataError, match="test: same size"):
        run.check_same_split({"splits": {"test": {"size": 3, "ids_sha256": "cd"}}})
    with pytest.raises(ModelError, match="does not exist"):
        run.checkpoint("best")  # named in metrics.json, not on disk
    run.checkpoints.mkdir()
    (run.checkpoints / "epoch=1.ckpt").write_bytes(b"x")
    assert run.checkpoint("best") == run.checkpoints / "epoch=1.ckpt"
    with pytest.raises(ModelError, match="not inside a bertlab run dir"):
        RunDir.find(run.checkpoints)  # no config.yaml yet
    run.write_failure(RuntimeError("boom"))
    assert "boom" in (run / RunDir.FAILED).read_text()
    run.clear_failure()
    assert not (run / RunDir.FAILED).exists()
    assert run.test_predictions() is None
    logits = np.array([[0.1, 0.9], [2.0, -1.0]], dtype=np.float32)
    run.write_test_predictions(np.array(["a", "b"]), logits, np.array([1, 0]))
    stored = run.test_predictions()
    assert stored["ids"].tolist() == ["a", "b"] and stored["labels"].tolist() == [1, 0]
    np.testing.assert_array_equal(stored["logits"], logits)


def test_a_claimed_dir_is_refused_and_a_damaged_record_named(tmp_path):
    run = RunDir(tmp_path)
    run.claim()
    with pytest.raises(RunDirError, match="already holds a run"):
        RunDir(tmp_path).claim()
    (tmp_path / RunDir.LABEL_MAP).write_text("{not json")
    with pytest.raises(RunDirError, match="cannot be read as JSON"):
        run.labels()
    assert run.metrics() == {}  # optional records: empty when absent


def test_resume_reports_no_change_for_paths_under_the_run_dir(tmp_path):
    from omegaconf import OmegaConf

    from bertlab.train.run_dir import RunDir

    run = tmp_path / "run"
    cfg = OmegaConf.create(
        {
            "paths": {"output_dir": str(run)},
            "seed": 1,
            "trainer": {"max_epochs": 2},
            "callbacks": {"ckpt": {"dirpath": "${paths.output_dir}/checkpoints"}},
        }
    )
    RunDir(run).write_config(cfg)
    again = OmegaConf.merge(cfg, {"trainer": {"max_epochs": 3}})
    assert RunDir(run).check_resume_compatible(again) == ["trainer.max_epochs: 2 -> 3"]
