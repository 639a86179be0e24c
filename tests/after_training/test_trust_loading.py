"""A run dir from someone else must not run code; a changed corpus must not be scored as the
run's own split; last.ckpt is the final state. Through the real entry points (their command
lines run in this process: `run_here`)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

import bertlab
from bertlab.errors import ConfigError, DataError, ModelError
from bertlab.tools.evaluate import evaluate
from helpers.inprocess import run_here, train_in_process
from helpers.runs import ROOT, tiny_overrides
from helpers.trained import trained_run


class Payload:
    """Unpickling this runs `touch <path>`: the proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, tiny_csv) -> Path:
    return trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)


@pytest.fixture()
def run(trained, tmp_path) -> Path:
    """A private copy of the trained run dir (tests change it)."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def tool(module: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m <module> <args>`, run in this process (`run_here`)."""
    return run_here(module, *args)


def poisoned_checkpoint(run: Path, marker: Path) -> Path:
    """A copy of the run's best checkpoint carrying a pickle payload."""
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    state["extra"] = Payload(marker)
    path = run / "checkpoints" / "poisoned.ckpt"
    torch.save(state, path)
    return path


def test_no_entry_point_runs_a_checkpoint_payload(run, tmp_path):
    marker = tmp_path / "PWNED"
    ckpt = poisoned_checkpoint(run, marker)
    with pytest.raises(ModelError, match="Refused to load"):
        bertlab.load(ckpt)
    texts = tmp_path / "texts.csv"
    pd.DataFrame({"text": ["a great film"]}).to_csv(texts, index=False)
    for module, args in [
        ("bertlab.evaluate", [str(run), "--checkpoint", str(ckpt)]),
        ("bertlab.predict", [str(ckpt), str(texts), "-o", str(tmp_path / "p.csv")]),
        ("bertlab.export", [str(ckpt), str(tmp_path / "exported")]),
    ]:
        proc = tool(module, *args)
        assert proc.returncode == 2, (module, proc.stderr[-2000:])
        assert "Refused to load" in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()


def test_training_from_a_poisoned_checkpoint_runs_no_code(run, tmp_path, tiny_model_dir, tiny_csv):
    marker = tmp_path / "PWNED"
    ckpt = poisoned_checkpoint(run, marker)
    overrides = tiny_overrides(tiny_model_dir, tiny_csv, tmp_path / "new", tmp_path / "cache")
    proc = run_here(ROOT / "train.py", *overrides, f"ckpt_path={ckpt}", "trainer.max_epochs=5")
    assert proc.returncode != 0 and not marker.exists()
    # resume= skips the poisoned newest file and continues from the newest that loads
    os.utime(ckpt)
    resumed = [o for o in overrides if not o.startswith("hydra.run.dir=")]
    proc = run_here(ROOT / "train.py", *resumed, f"resume={run}", "trainer.max_epochs=5")
    assert not marker.exists()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cannot be loaded; resuming from" in proc.stderr + proc.stdout


def edit_config(run: Path, key: str, node: dict) -> None:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    parent = cfg
    *path, last = key.split(".")
    for part in path:
        parent = parent.setdefault(part, None) or parent.__setitem__(part, {}) or parent[part]
    parent[last] = node
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))


@pytest.mark.parametrize("key", ["model.extra_metrics.evil", "model.optimizer", "data.source"])
def test_a_foreign_target_in_config_yaml_is_refused(run, tmp_path, key):
    marker = tmp_path / "PWNED"
    pickled = tmp_path / "payload.pkl"
    pickled.write_bytes(pickle.dumps(Payload(marker)))
    edit_config(run, key, {"_target_": "pandas.read_pickle", "filepath_or_buffer": str(pickled)})
    with pytest.raises(ConfigError, match="pandas.read_pickle"):
        if key.startswith("data"):
            evaluate(run, device="cpu")
        else:
            bertlab.load(run)
    proc = tool("bertlab.evaluate", str(run))
    assert proc.returncode == 2 and "does not build after training" in proc.stderr
    assert not marker.exists()


def test_evaluate_refuses_a_changed_corpus(trained, tmp_path, tiny_csv):
    run = Path(shutil.copytree(trained, tmp_path / "run"))
    shutil.rmtree(run / "eval", ignore_errors=True)  # other tests evaluate the shared run
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    grown = tmp_path / "grown.csv"
    table = pd.read_csv(tiny_csv)
    extra = table.head(60).assign(text=lambda t: t.text + " again")
    pd.concat([table, extra]).to_csv(grown, index=False)
    cfg["data"]["source"]["path"] = str(grown)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(DataError, match="The data changed") as err:
        evaluate(run, device="cpu")
    assert "examples now" in str(err.value) and "--file" in str(err.value)
    proc = tool("bertlab.evaluate", str(run))
    assert proc.returncode == 2 and "The data changed" in proc.stderr
    assert not (run / "eval").exists()


def test_evaluate_of_the_unchanged_corpus_still_works(trained, tmp_path):
    record = evaluate(trained, out=tmp_path / "eval.json", device="cpu")
    manifest = json.loads((trained / "split_manifest.json").read_text())
    assert record["examples"] == manifest["splits"]["test"]["size"]


def test_a_copied_run_loads_its_own_checkpoint(trained, tmp_path):
    copy = Path(shutil.copytree(trained, tmp_path / "copy"))
    best = json.loads((copy / "metrics.json").read_text())["best_checkpoint"]
    (copy / "checkpoints" / Path(best).name).unlink()  # the copy's own best is gone
    with pytest.raises(ModelError, match=str(copy)):
        bertlab.load(copy)


def test_last_ckpt_is_the_final_state(tmp_path, tiny_model_dir, tiny_csv):
    # mode=min on accuracy: later, better epochs are not top-k saves, which used to leave
    # last.ckpt at the first epoch
    out = tmp_path / "run"
    train_in_process(
        *tiny_overrides(tiny_model_dir, tiny_csv, out, tmp_path / "cache"),
        "objective.mode=min",
        "~callbacks.early_stopping",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == metrics["global_step"]
    assert last["epoch"] == metrics["epochs_run"]
