"""Lightning's `sync_dist=True` advice is dropped for bertlab's stage metrics only (they are
torchmetrics states that compute() already reduces across ranks); a user's own metric keeps it."""

from __future__ import annotations

import warnings

from bertlab.utils.quiet import silence_noise

ADVICE = (
    "It is recommended to use `self.log('{}', ..., sync_dist=True)` when logging on epoch level "
    "in distributed setting to accumulate the metric across devices."
)


def test_sync_dist_advice_is_dropped_for_stage_metrics_only():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        silence_noise()
        for key in ("train/loss", "val/acc", "test/f1", "my_metric"):
            warnings.warn(ADVICE.format(key), UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == [ADVICE.format("my_metric")]
