"""Count host-device synchronising calls during training steps (works on CPU).

On a GPU, reading a device tensor on the host (`.item()`, `.cpu()`, `.tolist()`, `.numpy()`,
`bool()`, `int()`, `float()`, indexing with a tensor) waits for every queued kernel: the
step can no longer run ahead of the GPU. On CPU nothing waits, but the same calls happen in
the same places, so counting them on CPU finds them. `SyncCounter` wraps those Tensor
methods (and `torch.cuda.synchronize`) for the whole fit and charges each call to the
training batch during which it happened: from the start of Lightning's
`_TrainingEpochLoop.advance` (fetch, hooks, step, progress bar, logger update) to the end of
its `on_advance_end` (validation, the step counter). Calls from the data pipeline
(`torch.utils.data`: collation of host tensors before the transfer) are not syncs and are
skipped.

A test names it as `+callbacks.sync_counter._target_=helpers.syncs.SyncCounter`; the
instance of the last fit is `SyncCounter.last`.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch

METHODS = ("item", "cpu", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__")
_HOST_ONLY = ("torch/utils/data/",)  # host tensors by construction (collate before transfer)
_OWN = (__file__, "torch/_tensor.py")  # wrappers: the caller is the frame above them


@dataclass
class Window:
    """One training batch: whether Lightning writes its logs, and the syncs charged to it."""

    batch: int  # 0-based batch of the fit
    logs: bool  # Lightning's logger connector writes this step (should_update_logs)
    last_of_epoch: bool = False  # the epoch ends here (epoch metrics, validation)
    syncs: Counter = field(default_factory=Counter)  # "method at file:line" -> calls


class SyncCounter(L.Callback):
    """Counts synchronising Tensor calls per training batch of the fit it is part of."""

    last: SyncCounter | None = None

    def __init__(self) -> None:
        self.windows: list[Window] = []
        self.trainer: L.Trainer | None = None
        self._current: Window | None = None
        self._originals: dict[str, Any] = {}
        self._local = threading.local()
        SyncCounter.last = self

    # -- Lightning hooks: install around the fit, wrap the epoch loop's per-batch methods --
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.trainer = trainer
        loop = trainer.fit_loop.epoch_loop
        advance, advance_end = loop.advance, loop.on_advance_end

        def wrapped_advance(data_fetcher: Any) -> None:
            self._current = Window(len(self.windows), trainer._logger_connector.should_update_logs)
            self.windows.append(self._current)
            advance(data_fetcher)

        def wrapped_advance_end(data_fetcher: Any) -> None:
            if self._current is not None:
                self._current.last_of_epoch = bool(loop.batch_progress.is_last_batch)
            try:
                advance_end(data_fetcher)
            finally:
                self._current = None

        loop.advance, loop.on_advance_end = wrapped_advance, wrapped_advance_end
        self._install()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._uninstall()
        loop = trainer.fit_loop.epoch_loop
        for name in ("advance", "on_advance_end"):
            loop.__dict__.pop(name, None)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exc: Any) -> None:
        self._uninstall()

    # -- the counting wrappers --
    def _install(self) -> None:
        for name in METHODS:
            self._originals[name] = getattr(torch.Tensor, name)
            setattr(torch.Tensor, name, self._wrap(name, self._originals[name]))
        self._originals["cuda.synchronize"] = torch.cuda.synchronize
        torch.cuda.synchronize = self._wrap("cuda.synchronize", torch.cuda.synchronize)

    def _uninstall(self) -> None:
        original = self._originals.pop("cuda.synchronize", None)
        if original is not None:
            torch.cuda.synchronize = original
        for name, method in list(self._originals.items()):
            setattr(torch.Tensor, name, method)
        self._originals.clear()

    def _wrap(self, name: str, original: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if self._current is None or getattr(self._local, "inside", False):
                return original(*args, **kwargs)  # outside a step, or nested in a counted call
            self._local.inside = True
            try:
                self._record(name)
                return original(*args, **kwargs)
            finally:
                self._local.inside = False

        counted.__name__ = getattr(original, "__name__", name)
        return counted

    def _record(self, name: str) -> None:
        frames = traceback.extract_stack(sys._getframe(2))
        if any(h in f.filename for f in frames for h in _HOST_ONLY):
            return
        caller = next(
            (f for f in reversed(frames) if not any(o in f.filename for o in _OWN)), frames[-1]
        )
        where = caller.filename.split("site-packages/")[-1].split("/src/")[-1]
        self._current.syncs[f"{name} at {where}:{caller.lineno}"] += 1

    # -- reading the result --
    def quiet_windows(self) -> list[Window]:
        """Batches that neither log nor end an epoch, the first batch of the fit excluded
        (one-off set-up such as listing the parameters to clip)."""
        return [w for w in self.windows if not w.logs and not w.last_of_epoch and w.batch > 0]

    def quiet_syncs(self) -> Counter:
        """Syncs of the quiet batches together, by call site."""
        total: Counter = Counter()
        for w in self.quiet_windows():
            total.update(w.syncs)
        return total
