"""`train.py logger=mlflow` / `logger=wandb` on the tiny model: what each run records."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from helpers.inprocess import train_in_process
from helpers.runs import ROOT, run_train, tiny_overrides

EPOCHS = 2


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def wandb_records(path: Path) -> Iterator:
    """The records of an offline `run-*.wandb` file (a LevelDB-style log of 32 KiB blocks)."""
    from wandb.proto.wandb_internal_pb2 import Record

    data, pos, chunk = path.read_bytes(), 7, b""  # 7: the ":W&B" file header
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
            pos += 32768 - pos % 32768
            continue
        length, kind = struct.unpack("<HB", data[pos + 4 : pos + 7])
        if kind == 0:
            return
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last fragment of one
            record = Record()
            record.ParseFromString(chunk)
            yield record
            chunk = b""


@pytest.fixture(scope="module")
def mlflow_run(tiny_model_dir, tiny_csv, tmp_path_factory):
    """A 2-epoch run with logger=mlflow; its store under <BERTLAB_ROOT>/outputs as configured."""
    mlflow = pytest.importorskip("mlflow")
    base = tmp_path_factory.mktemp("mlflow")
    overrides = tiny_overrides(tiny_model_dir, tiny_csv, base / "run", base / "cache")
    train_in_process(
        *overrides,
        "logger=mlflow",
        f"trainer.max_epochs={EPOCHS}",
        "data.batch_size=24",
        env={"BERTLAB_ROOT": str(base)},
    )
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{base}/outputs/mlflow.db")
    experiment = client.get_experiment_by_name("train")
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run, read_json(base / "run" / "metrics.json")


def test_mlflow_run_is_named_after_the_run_dir(mlflow_run):
    _, run, _ = mlflow_run
    assert run.info.run_name == "run"
    assert run.info.status == "FINISHED"
    assert Path(run.data.tags["run_dir"]).name == "run"


def test_mlflow_params_are_the_flat_hparams(mlflow_run):
    _, run, _ = mlflow_run
    params = run.data.params
    assert float(params["model.optimizer.lr"]) == 1e-2
    assert params["data.batch_size"] == "24"
    assert params["trainer.max_epochs"] == str(EPOCHS)
    assert params["trainer.precision"] == "32-true"
    assert "data.source" in params


def test_mlflow_has_one_val_value_per_epoch(mlflow_run):
    client, run, metrics = mlflow_run
    history = client.get_metric_history(run.info.run_id, "val/acc")
    assert len(history) == EPOCHS
    assert max(m.value for m in history) == pytest.approx(metrics["best_value"])
    assert len({m.step for m in history}) == EPOCHS
    assert client.get_metric_history(run.info.run_id, "train/loss")


def test_mlflow_records_best_value_checkpoint_and_test(mlflow_run):
    _, run, metrics = mlflow_run
    assert run.data.metrics["best/val/acc"] == pytest.approx(metrics["best_value"])
    assert run.data.metrics["test/acc"] == pytest.approx(metrics["test"]["test/acc"])
    checkpoint = run.data.tags["best_checkpoint"]
    assert checkpoint.endswith(metrics["best_checkpoint"])  # relative in metrics.json
    assert Path(checkpoint).is_absolute() and Path(checkpoint).is_file()


def test_mlflow_has_one_name_per_parameter_its_state_and_records(mlflow_run):
    client, run, _ = mlflow_run
    params = run.data.params
    assert "dropout" not in params and "num_labels" not in params  # the module's own names
    assert "model.optimizer.lr" in params
    assert run.data.tags["state"] == "COMPLETE"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "split_manifest.json", "label_map.json", "metrics.json"} <= artifacts
    assert "best_checkpoint" not in artifacts  # off by default


def test_wandb_offline_run_records_config_and_best(tiny_model_dir, tiny_csv, tmp_path):
    pytest.importorskip("wandb")
    # a subprocess: wandb finishes its run (the `exit` record) when the process exits
    overrides = tiny_overrides(tiny_model_dir, tiny_csv, tmp_path / "run", tmp_path / "cache")
    proc = run_train(
        *overrides, "logger=wandb", "trainer.max_epochs=1", env={"WANDB_MODE": "offline"}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = (tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb")
    records = list(wandb_records(path))
    names = [r.run.display_name for r in records if r.HasField("run")]
    config = {i.key: json.loads(i.value_json) for r in records for i in r.config.update}
    summary = {i.key: json.loads(i.value_json) for r in records for i in r.summary.update}
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert names[-1] == "run"
    assert config["model.optimizer.lr"] == pytest.approx(1e-2)
    assert summary["best/val/acc"] == pytest.approx(metrics["best_value"])
    assert summary["best_checkpoint"] == str(tmp_path / "run" / metrics["best_checkpoint"])
    assert any(r.HasField("exit") for r in records)  # the run was finished


@pytest.mark.parametrize(
    ("choice", "names"),
    [
        ("many_loggers", ["tensorboard", "csv"]),
        ("mlflow", ["mlflow"]),
        ("wandb", ["wandb"]),
        ("[tensorboard,mlflow]", ["tensorboard", "mlflow"]),
    ],
)
def test_logger_choices_compose(choice, names):
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[f"logger={choice}"])
    assert list(cfg.logger) == names
    for node in cfg.logger.values():
        assert node._target_.startswith(("lightning.pytorch.loggers.", "bertlab.utils."))
