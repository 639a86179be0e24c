"""TensorBoard as read back from the event files of real `train.py` runs: the HParams rows
(every override, group choice and sweep key; the same metric names for every job), one
`train/lr` curve, figures at their scalars' step, run names without a repeated suffix."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from bertlab.callbacks.lr_logging import base_lr
from bertlab.utils.record import HPARAM_KEYS, flat_hparams, hp_metrics
from bertlab.utils.tb_hparams import STATUS
from helpers.inprocess import train_in_process
from helpers.runs import run_train, tiny_overrides

SIZES = {"scalars": 0, "tensors": 0, "images": 0}
SWEPT = [  # optuna.yaml's search space less lr and max_epochs, which tiny_overrides fix
    "data.batch_size",
    "model.dropout",
    "model.optimizer.weight_decay",
    "model.scheduler.warmup_fraction",
]
SECOND = ["model=minilm_mean", "trainer.gradient_clip_val=0.5", "data.split_seed=7"]


def events(run_dir: Path) -> EventAccumulator:
    """The run dir's own event files (not those of runs in its subdirectories)."""
    assert list(run_dir.glob("events.out.tfevents.*")), sorted(p.name for p in run_dir.iterdir())
    acc = EventAccumulator(str(run_dir), size_guidance=SIZES)
    acc.Reload()
    return acc


def hparams(acc: EventAccumulator) -> dict[str, object]:
    """The HParams entry's hyperparameters, as plain values."""
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {
        k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
        for k, v in info.hparams.items()
    }


def metric_names(acc: EventAccumulator) -> set[str]:
    """The metric names the HParams entry declares."""
    content = acc.PluginTagToContent("hparams")["_hparams_/experiment"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    return {m.name.tag for m in experiment.metric_infos}


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tiny_csv, tmp_path_factory) -> dict[str, Path]:
    """Two single runs with different overrides and a one-trial Optuna sweep."""
    base = tmp_path_factory.mktemp("tb")
    cache = base / "cache"
    first = tiny_overrides(tiny_model_dir, tiny_csv, base / "first", cache)
    second = [*tiny_overrides(tiny_model_dir, tiny_csv, base / "second", cache), *SECOND]
    for overrides in (first, second):
        train_in_process(*overrides, "trainer.max_epochs=2")
    sweep = [o for o in first if not o.startswith("hydra.run.dir=")]
    proc = run_train(
        "-m",
        "hparams_search=optuna",
        *sweep,
        f"paths.log_dir={base / 'logs'}",
        "hydra.sweeper.study_name=tb",
        "hydra.sweeper.n_trials=1",
        "hydra.sweeper.pruner.name=none",
        "+trainer.limit_train_batches=4",
        cwd=base,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {
        "first": base / "first",
        "second": base / "second",
        "sweep": base / "logs/train/sweeps/tb/0",
    }


def test_runs_with_different_overrides_have_different_rows(runs):
    first, second = hparams(events(runs["first"])), hparams(events(runs["second"]))
    assert first["model"] == "minilm" and second["model"] == "minilm_mean"
    assert first["data"] == "csv" and first["trainer"] == "cpu"
    assert second["trainer.gradient_clip_val"] == pytest.approx(0.5)
    assert "trainer.gradient_clip_val" not in first
    assert second["data.split_seed"] == 7
    assert first["callbacks.rich_progress_bar"] == "(removed)"
    assert first["trainer.max_epochs"] == 2
    assert first["data.source"] == "LocalFile"
    assert first["data.source.path"].endswith("toy.csv")
    assert not any(str(v).startswith("{") for v in (*first.values(), *second.values()))
    assert set(HPARAM_KEYS) - {"model.dropout"} <= set(first)  # None: left out


def test_best_val_is_logged_under_its_own_name(runs):
    acc = events(runs["first"])
    best = json.loads((runs["first"] / "metrics.json").read_text())["best_value"]
    assert acc.Scalars("hp/best_val/acc")[-1].value == pytest.approx(best)
    assert [t for t in acc.Tags()["scalars"] if t.startswith("hp")] == ["hp/best_val/acc"]
    assert "hp/best_val/acc" in metric_names(acc)


def test_a_sweep_job_declares_the_same_metrics_as_a_single_run(runs):
    single, job = events(runs["first"]), events(runs["sweep"])
    assert "test/acc" in metric_names(single)  # the run's own test scalar
    assert metric_names(job) == metric_names(single)
    assert "test/acc" not in job.Tags()["scalars"]  # trials never test: a blank cell
    assert hparams(job)["hparams_search"] == "optuna" and "hydra" not in hparams(job)
    assert "model.scheduler.warmup_fraction" in hparams(job)  # a key of the search space


def test_one_learning_rate_curve(runs):
    scalars = set(events(runs["first"]).Tags()["scalars"])
    assert "train/lr" in scalars
    assert not [t for t in scalars if t.startswith("train/lr/")]


def test_validation_figures_share_their_scalars_step(runs):
    acc = events(runs["first"])
    image_steps = [e.step for e in acc.Images("val/confusion_matrix")]
    assert image_steps == [e.step for e in acc.Scalars("val/acc")]
    assert len(image_steps) == 2


def test_val_and_test_curves_are_against_the_epoch_and_no_epoch_chart(runs):
    acc = events(runs["first"])  # two epochs of 8 optimizer steps, tested
    assert [e.step for e in acc.Scalars("val/acc")] == [0, 1]
    assert [e.step for e in acc.Scalars("val/loss")] == [0, 1]
    assert [e.step for e in acc.Scalars("test/acc")] == [2]  # after the last epoch
    assert max(e.step for e in acc.Scalars("train/loss_step")) > 2  # training: per step
    assert "epoch" not in acc.Tags()["scalars"]


def test_event_files_sit_in_the_run_dir(runs):
    for run in runs.values():
        assert not (run / "tensorboard").exists()
        assert list(run.glob("events.out.tfevents.*"))


def test_flat_hparams_outside_hydra_is_the_base_of_scalars():
    cfg = OmegaConf.create(
        {
            "seed": 1,
            "data": {
                "batch_size": 8,
                "source": {"_target_": "bertlab.data.HubDataset", "name": "imdb", "subset": None},
            },
            "model": {"optimizer": {"lr": 1e-5}},
        }
    )
    flat = flat_hparams(cfg)
    assert flat["data.source"] == "HubDataset" and flat["data.source.name"] == "imdb"
    assert "data.source.subset" not in flat
    assert flat["model.optimizer.lr"] == 1e-5 and flat["model.dropout"] == "None"
    assert all(isinstance(v, (int, float, bool, str)) for v in flat.values())


def test_hp_metrics_names_do_not_depend_on_testing():
    row = {"val/acc": 0.8, "val/f1": 0.7, "epoch": 1}
    untested = hp_metrics({"objective": "val/acc", "best_value": 0.8, "best_val": row})
    tested = hp_metrics(
        {
            "objective": "val/acc",
            "best_value": 0.8,
            "best_val": row,
            "test": {"test/acc": 0.75, "test/f1": 0.6},
        }
    )
    assert untested.keys() == tested.keys() == {"hp/best_val/acc", "test/acc", "test/f1"}
    assert math.isnan(untested["test/acc"]) and tested["test/acc"] == 0.75


def test_base_lr_is_the_configured_lr_under_its_schedule():
    head, body = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    groups = [
        {"params": body.parameters(), "lr": 1e-3 * 0.5, "name": "layer_0/decay"},
        {"params": head.parameters(), "name": "head/decay"},
    ]
    optimizer = torch.optim.AdamW(groups, lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.25 * (step + 1))
    assert base_lr(optimizer) == pytest.approx(0.25e-3)
    optimizer.step()
    scheduler.step()
    assert base_lr(optimizer) == pytest.approx(0.5e-3)


@pytest.fixture()
def hydra_job():
    """A Hydra job config set as the current one (an Optuna sweep job), reset afterwards."""
    from hydra.conf import HydraConf
    from hydra.core.hydra_config import HydraConfig

    hydra = {
        "runtime": {
            "choices": {"model": "minilm", "hydra/sweeper": "bertlab_optuna", "debug": None}
        },
        "overrides": {
            "task": ["model=minilm", "~data.fold", "+model.head_lr=2", "data.source.path=x.csv"]
        },
        "sweeper": {"params": {"model.pooler_dropout": "interval(0, 0.3)"}},
    }
    node = OmegaConf.merge(OmegaConf.structured(HydraConf), hydra)
    HydraConfig.instance().set_config(OmegaConf.create({"hydra": node}))
    yield
    HydraConfig.instance().cfg = None


def test_flat_hparams_under_hydra(hydra_job):
    cfg = OmegaConf.create(
        {"model": {"head_lr": 2, "pooler_dropout": 0.1}, "data": {"source": {"path": "x.csv"}}}
    )
    flat = flat_hparams(cfg)
    assert flat["model"] == "minilm" and "debug" not in flat and "hydra/sweeper" not in flat
    assert flat["data.fold"] == "(removed)" and flat["model.head_lr"] == 2
    assert flat["model.pooler_dropout"] == 0.1 and flat["data.source.path"] == "x.csv"


def dashboard_hparams(logdir: Path) -> list:
    """The HParams dashboard's hyperparameter list for `logdir`, as TensorBoard's backend
    serves it (the frontend ticks the first five)."""
    from tensorboard import context
    from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment

    mux = EventMultiplexer().AddRunsFromDirectory(str(logdir))
    mux.Reload()
    tb = base_plugin.TBContext(
        logdir=str(logdir), multiplexer=mux, data_provider=MultiplexerDataProvider(mux, logdir)
    )
    request = api_pb2.GetExperimentRequest(hparams_limit=1000)
    handler = get_experiment.Handler(
        context.RequestContext(), backend_context.Context(tb), "", request
    )
    return list(handler.run().hparam_infos)


def test_hparams_opens_on_the_swept_keys_and_status(runs):
    infos = dashboard_hparams(runs["sweep"].parent)
    ticked = [i.name for i in infos[:5]]
    assert ticked[0] == STATUS and set(ticked) <= {*SWEPT, STATUS}, ticked  # always ticked
    assert [i.name for i in infos if i.differs] == sorted([*SWEPT, STATUS])
    status = next(i for i in infos if i.name == STATUS)
    assert [v.string_value for v in status.domain_discrete.values] == [
        "COMPLETE",
        "PRUNED",
        "FAILED",
    ]
    assert hparams(events(runs["sweep"]))[STATUS] == "COMPLETE"


def test_a_single_run_shows_its_overrides_first(runs):
    infos = dashboard_hparams(runs["second"])
    varied = [i.name for i in infos if i.differs]
    assert {"model", "trainer.gradient_clip_val", "data.split_seed", STATUS} <= set(varied)
    assert not {"seed", "data.max_length", "callbacks"} & set(varied)


def test_a_key_none_in_one_run_and_a_float_in_another_stays_numeric(runs):
    single, job = hparams(events(runs["first"])), hparams(events(runs["sweep"]))
    assert "model.dropout" not in single  # None: a blank cell, not the string "None"
    assert isinstance(job["model.dropout"], float)


def test_a_failed_fit_is_marked_failed(tiny_model_dir, tiny_csv, tmp_path):
    from helpers.faults import RAISE

    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="on purpose"):
        train_in_process(
            *tiny_overrides(tiny_model_dir, tiny_csv, out, tmp_path / "cache"),
            RAISE,
            "+callbacks.fail.step=2",
        )
    assert hparams(events(out))[STATUS] == "FAILED"
