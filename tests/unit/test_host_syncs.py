"""No host-device sync on a training step that does not log (issue 19, "Host syncs").

A real run of the pipeline (tiny model, toy CSV, the default callbacks: rich progress bar,
NaN guard, learning-rate logging, checkpoints, gradient clipping) with `helpers.syncs.SyncCounter`
counting `.item()`, `.cpu()`, `.tolist()`, `.numpy()`, `bool()`, `int()`, `float()` and
tensor indexing on tensors of the step, per training batch. On a GPU each one stalls the step
until the queued kernels finish; on CPU the same calls are made at the same places, so they
are counted here.

Logging steps (every `trainer.log_every_n_steps`), the last batch of an epoch (epoch metrics,
validation) and the first batch of the fit may read values; every other step must read none.
"""

from __future__ import annotations

from helpers.inprocess import train_in_process
from helpers.runs import tiny_overrides
from helpers.syncs import SyncCounter

LOG_EVERY = 10
KEEP_DEFAULT = ("~callbacks.rich_progress_bar", "trainer.max_epochs", "trainer.log_every_n_steps")


def test_steps_that_do_not_log_read_nothing_on_the_host(tiny_model_dir, tiny_csv, tmp_path):
    base = tiny_overrides(tiny_model_dir, tiny_csv, tmp_path / "run", tmp_path / "cache")
    train_in_process(
        *[o for o in base if o.split("=")[0] not in KEEP_DEFAULT],
        "trainer.max_epochs=1",
        "data.batch_size=6",  # 240 train rows: 40 steps, past StageMetrics' eval flush interval
        f"trainer.log_every_n_steps={LOG_EVERY}",
        "test_after_fit=false",
        "+callbacks.sync_counter._target_=helpers.syncs.SyncCounter",
    )
    counter = SyncCounter.last
    assert counter is not None and len(counter.windows) == 40
    quiet = counter.quiet_windows()
    assert len(quiet) == 40 - 40 // LOG_EVERY - 1  # the last batch logs; the first is set-up
    syncs = counter.quiet_syncs()
    assert sum(syncs.values()) == 0, (
        f"{sum(syncs.values())} host syncs in {len(quiet)} steps that do not log:\n"
        + "\n".join(f"{n:4d}  {site}" for site, n in syncs.most_common())
    )
    # the loss still shows in the progress bar, read on the logging steps
    bar = counter.trainer.progress_bar_callback
    assert "train/loss_step" in bar.get_metrics(counter.trainer, counter.trainer.lightning_module)
