"""DDP on CPU (2 processes, gloo) end to end through train.py, single runs and a multirun."""

from __future__ import annotations

import json
import time

import hydra
import pytest
from omegaconf import OmegaConf

from helpers.distributed import evaluate, metrics, train

pytestmark = pytest.mark.slow
EXACT = ("acc", "f1", "mcc")  # from integer confusion counts: must be equal to the bit
CLOSE = ("loss", "auroc")  # float sums in another order: equal to ~1e-6


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory, tiny_model_dir, tiny_csv):
    tmp = tmp_path_factory.mktemp("ddp")
    start = time.perf_counter()
    out, proc = train(tmp, "run", tiny_model_dir, tiny_csv, tmp / "cache", "trainer=ddp_cpu")
    print(f"DDP run (2 processes, 2 epochs): {time.perf_counter() - start:.1f} s wall")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return tmp, out


def _assert_same(ddp: dict, single: dict, stage: str) -> None:
    for name in EXACT:
        assert ddp[f"{stage}/{name}"] == single[f"{stage}/{name}"], name
    for name in CLOSE:
        assert ddp[f"{stage}/{name}"] == pytest.approx(single[f"{stage}/{name}"], abs=1e-6), name


def test_ddp_metrics_equal_one_process_on_the_same_data(ddp_run):
    _, out = ddp_run
    record = metrics(out)
    assert record["global_step"] == 16  # 15 batches over 2 ranks = 8 steps per epoch
    best = str(out / record["best_checkpoint"])  # recorded relative to the run dir
    _assert_same(record["test"], evaluate(out, "test", best), "test")
    _assert_same(record["best_val"], evaluate(out, "val", best), "val")


def test_ddp_stores_each_test_prediction_once(ddp_run):
    """Both ranks' test rows are gathered into one test_predictions.npz, which reproduces the
    run's test metrics (what `bertlab.compare` bootstraps over)."""
    from bertlab.compare.analysis import check_stored_scores
    from bertlab.compare.runs import read_run

    _, out = ddp_run
    run = read_run(out, "ddp")
    size = json.loads((out / "split_manifest.json").read_text())["splits"]["test"]["size"]
    assert len(run.predictions["ids"]) == size == len(set(run.predictions["ids"]))
    assert check_stored_scores([run]) == []


def test_ddp_writes_each_file_once(ddp_run):
    tmp, out = ddp_run
    assert not (out / "FAILED.txt").exists()
    events = list(out.glob("events.out.tfevents.*"))  # <time>.<host>.<pid>.<n>
    assert events and len({p.name.split(".")[-2] for p in events}) == 1  # one writing process
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert "last.ckpt" in ckpts and all(p.endswith((".ckpt", ".ckpt.sha256")) for p in ckpts), ckpts
    assert (out / "train_rank1.log").is_file()  # rank 1 logged into the same run dir
    assert not (tmp / "logs").exists()  # no rank made a run dir of its own


def test_split_is_the_same_with_one_or_two_processes(ddp_run):
    _, out = ddp_run
    cfg = OmegaConf.load(out / ".hydra" / "config.yaml")
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup()
    written = json.loads((out / "split_manifest.json").read_text())
    assert written == json.loads(json.dumps(datamodule.split_manifest()))


def test_multirun_with_ddp_runs_every_job_to_the_end(tmp_path, tiny_model_dir, tiny_csv):
    sweep = tmp_path / "sweep"
    out, proc = train(
        tmp_path,
        "unused",
        tiny_model_dir,
        tiny_csv,
        tmp_path / "cache",
        "trainer=ddp_cpu",
        "trainer.max_epochs=1",
        "model.optimizer.lr=1e-3,3e-3",
        "test_after_fit=true",  # multirun jobs skip the test by default; here it must run
        f"hydra.sweep.dir={sweep}",
        multirun=True,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1", "multirun.yaml"]
    for job in ("0", "1"):
        record = metrics(sweep / job)
        assert record["global_step"] == 8 and "test/acc" in record["test"]  # test phase ran
        assert (sweep / job / "train_rank1.log").is_file()
    lrs = [OmegaConf.load(sweep / j / ".hydra" / "config.yaml").model.optimizer.lr for j in "01"]
    assert lrs == [1e-3, 3e-3]
    assert not out.exists() and not (tmp_path / "logs").exists()  # no stray run dirs
