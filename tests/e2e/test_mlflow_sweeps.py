"""MLflow in a sweep: trials named `<study>/<trial>`, nested under one parent run per study
(search space and best trial as tags), each with its state; a real sqlite store."""

from __future__ import annotations

import contextlib
import json

import pytest
from omegaconf import OmegaConf

from bertlab.utils.record import log_hparams

mlflow = pytest.importorskip("mlflow")


@pytest.fixture()
def sweep_job(tmp_path):
    """A Hydra multirun job of study `rt` (trial 0), set as the current one; reset afterwards."""
    from hydra.conf import HydraConf
    from hydra.core.hydra_config import HydraConfig

    hydra = {
        "mode": "MULTIRUN",
        "sweep": {"dir": str(tmp_path / "sweeps" / "rt")},
        "sweeper": {"study_name": "rt", "params": {"model.dropout": "interval(0, 0.3)"}},
        "runtime": {"choices": {"model": "minilm"}},
        "overrides": {"task": ["model.dropout=0.1"]},
    }
    node = OmegaConf.merge(OmegaConf.structured(HydraConf), hydra)
    HydraConfig.instance().set_config(OmegaConf.create({"hydra": node}))
    yield tmp_path
    HydraConfig.instance().cfg = None


def trial(base, uri, number: int, value: float, status: str) -> str:
    """Log one finished trial as the pipeline does; return its run id."""
    from bertlab.utils.mlflow_logger import BertlabMLFlowLogger

    out = base / "sweeps" / "rt" / str(number)
    out.mkdir(parents=True)
    (out / "config.yaml").write_text("seed: 1\n")
    (out / "metrics.json").write_text("{}\n")  # the pipeline writes it before the loggers
    name = OmegaConf.create({"n": f"${{bertlab.run_name:{out}}}"}).n
    logger = BertlabMLFlowLogger(
        experiment_name="train",
        run_name=name,
        tracking_uri=uri,
        artifact_location=str(base / "mlartifacts"),  # not ./mlruns of the working dir
    )
    logger.log_hyperparams({"dropout": 0.1})  # Lightning's call at fit start: ignored
    cfg = OmegaConf.create(
        {"seed": 1, "model": {"dropout": 0.1}, "paths": {"output_dir": str(out)}}
    )
    record = {"objective": "val/acc", "mode": "max", "best_value": value, "global_step": 3}
    log_hparams([logger], cfg, {**record, "status": status})
    return logger.run_id


def test_trials_nest_under_their_study_with_state_and_best_trial(sweep_job):
    uri = f"sqlite:///{sweep_job}/mlflow.db"
    ids = [
        trial(sweep_job, uri, 0, 0.7, "COMPLETE"),
        trial(sweep_job, uri, 1, 0.8, "PRUNED"),
        trial(sweep_job, uri, 2, 0.75, "COMPLETE"),
    ]
    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = {
        r.info.run_id: r
        for r in client.search_runs([client.get_experiment_by_name("train").experiment_id])
    }
    (parent,) = [r for r in runs.values() if r.data.tags.get("bertlab.role") == "sweep"]
    assert parent.info.run_name == "rt" and parent.info.status == "FINISHED"
    assert json.loads(parent.data.tags["search_space"]) == {"model.dropout": "interval(0, 0.3)"}
    assert parent.data.tags["best_trial"] == "rt/1" and float(parent.data.tags["best_value"]) == 0.8
    trials = [runs[i] for i in ids]
    assert [t.info.run_name for t in trials] == ["rt/0", "rt/1", "rt/2"]
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {parent.info.run_id}
    assert [t.data.tags["state"] for t in trials] == ["COMPLETE", "PRUNED", "COMPLETE"]
    params = trials[0].data.params
    assert params["model.dropout"] == "0.1" and "dropout" not in params  # one name each
    artifacts = {a.path for a in client.list_artifacts(ids[0])}
    assert {"config.yaml", "metrics.json"} <= artifacts


def test_the_ui_packages_store_reader_opens_a_store_bertlab_wrote(sweep_job):
    """`mlflow ui` opens a sqlite store through SqlAlchemyStore, which refuses a schema other
    than its own; the extras pin the client (mlflow-skinny) and the UI (mlflow) to one version."""
    import importlib.metadata as md

    import tomllib
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from helpers.runs import ROOT

    uri = f"sqlite:///{sweep_job}/mlflow.db"
    run_id = trial(sweep_job, uri, 0, 0.7, "COMPLETE")
    store = SqlAlchemyStore(uri, str(sweep_job / "artifacts"))  # verifies the schema
    assert store.get_run(run_id).info.run_name == "rt/0"

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    skinny = next(r for r in extras["mlflow"] if r.startswith("mlflow-skinny=="))
    ui = next(r for r in extras["mlflow-ui"] if r.startswith("mlflow=="))
    assert skinny.split("==")[1] == ui.split("==")[1] == md.version("mlflow-skinny")
    with contextlib.suppress(md.PackageNotFoundError):  # the UI package, where installed
        assert md.version("mlflow") == md.version("mlflow-skinny")
