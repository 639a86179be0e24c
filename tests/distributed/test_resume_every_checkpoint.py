"""Resume is exact from every kind of checkpoint bertlab writes (issue 20.7): a mid-epoch
step checkpoint, the step checkpoint of an epoch's last batch and the epoch checkpoint
(what last.ckpt holds mid-training) each give the uninterrupted run's weights and best epoch.

Before: from an epoch's end the sampler jumped to the next-but-one epoch's order, a
validation pass and the new epoch's loader drew from dropout's random stream, and a step
checkpoint of an epoch's last batch skipped that epoch's validation on resume (max weight
difference 0.048 on the tiny model, another best epoch)."""

from __future__ import annotations

import shutil

import pytest
import torch

from bertlab.utils.checkpoint_io import CHECKSUM_SUFFIX
from helpers.distributed import fast, metrics, weights
from helpers.inprocess import train_in_process

pytestmark = pytest.mark.slow
# the epoch checkpoint is written at validation end, before the step checkpoint of the
# epoch's last batch (StepCheckpoint saves that one after the validation)
WRITTEN_BY_THEN = {
    "step0000010.ckpt": ("step0000010.ckpt",),
    "step0000015.ckpt": ("epoch00-step15.ckpt", "step0000015.ckpt"),
    "epoch00-step15.ckpt": ("epoch00-step15.ckpt",),
}
KEEP_ALL = ["callbacks.model_checkpoint.save_top_k=-1", "callbacks.step_checkpoint.save_top_k=-1"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir, tiny_csv):
    """An uninterrupted 2-epoch run (15 steps an epoch) keeping every checkpoint."""
    tmp = tmp_path_factory.mktemp("reference")
    out, overrides = fast(tmp, "run", tiny_model_dir, tiny_csv, tmp / "cache", *KEEP_ALL)
    train_in_process(*overrides)
    return out


@pytest.mark.parametrize(
    "checkpoint",
    ["step0000010.ckpt", "step0000015.ckpt", "epoch00-step15.ckpt"],
    ids=["mid-epoch step", "epoch-end step", "epoch (= last.ckpt then)"],
)
def test_resume_from_each_kind_matches_the_uninterrupted_run(
    reference, checkpoint, tmp_path, tiny_model_dir, tiny_csv
):
    run = tmp_path / "killed"  # a copied run dir: its checkpoints' state names the reference
    shutil.copytree(reference, run)
    (run / "metrics.json").unlink()  # as killed: only what was written by then is kept
    kept = WRITTEN_BY_THEN[checkpoint]
    for path in (run / "checkpoints").iterdir():
        if path.name.removesuffix(CHECKSUM_SUFFIX) not in kept:
            path.unlink()
    _, overrides = fast(
        tmp_path,
        "x",
        tiny_model_dir,
        tiny_csv,
        tmp_path / "cache",
        *KEEP_ALL,
        f"resume={run}",
        run_dir=False,
    )
    train_in_process(*overrides)
    a = weights(run / "checkpoints" / "step0000030.ckpt")
    b = weights(reference / "checkpoints" / "step0000030.ckpt")
    diff = max(float((a[k] - b[k]).abs().max()) for k in b)
    assert diff == 0.0, f"max |weight difference| {diff:.3g}"
    done, ref = metrics(run), metrics(reference)
    assert (done["best_epoch"], done["best_value"]) == (ref["best_epoch"], ref["best_value"])
    assert done["global_step"] == ref["global_step"] == 30


def test_step_checkpoint_of_an_epochs_last_batch_is_saved_after_its_validation(reference):
    """Its loop state says the epoch (and its validation) is done, as the epoch checkpoint's."""
    step = torch.load(reference / "checkpoints" / "step0000015.ckpt", weights_only=True)
    epoch = torch.load(reference / "checkpoints" / "epoch00-step15.ckpt", weights_only=True)
    assert (
        step["loops"]["fit_loop"]["epoch_progress"] == epoch["loops"]["fit_loop"]["epoch_progress"]
    )
