"""Small Lightning callbacks of bertlab's own."""

from __future__ import annotations

import math
import os
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from bertlab.callbacks.checkpoint_rules import check_resumable
from bertlab.callbacks.trial import in_sweep_trial
from bertlab.errors import TrainingError


class ValidationHistory(L.Callback):
    """Keeps every validation epoch's metrics, so the best epoch's full row can be reported."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        row = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        row["epoch"], row["step"] = trainer.current_epoch, trainer.global_step
        self.epochs.append(row)

    def state_dict(self) -> dict:
        return {"epochs": list(self.epochs)}  # kept in checkpoints: a resumed run knows its past

    def load_state_dict(self, state_dict: dict) -> None:
        self.epochs = list(state_dict.get("epochs", []))

    def best(self, metric: str, mode: str) -> dict[str, float] | None:
        """The epoch with the best finite value of `metric` (a NaN is never best)."""
        rows = [r for r in self.epochs if math.isfinite(r.get(metric, math.nan))]
        if not rows:
            return None
        pick = max if mode == "max" else min
        return pick(rows, key=lambda r: r[metric])


class NonFiniteLossGuard(L.Callback):
    """Stop training once the loss has been NaN or infinite for `max_steps` steps in a row.

    The streak is counted on the device, so no step waits for the host; it is read every
    `check_every_n_steps` steps (default: `trainer.log_every_n_steps`, when the loss is read
    for logging anyway) and at the end of each epoch. Under DDP any rank's streak stops all.

    Args:
        max_steps: consecutive non-finite steps that end the run (>= 1).
        check_every_n_steps: how often to read the streak; None = the trainer's log interval.
    """

    def __init__(self, max_steps: int = 3, check_every_n_steps: int | None = None) -> None:
        self.max_steps, self.check_every_n_steps = int(max_steps), check_every_n_steps
        self._streak: torch.Tensor | None = None  # current run of bad steps
        self._worst: torch.Tensor | None = None  # longest run since the last check
        self._first_bad_step = -1

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, *args: Any
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        bad = ~torch.isfinite(loss.detach())
        if self._streak is None:
            self._streak = torch.zeros((), dtype=torch.int64, device=loss.device)
            self._worst = torch.zeros_like(self._streak)
        self._streak = (self._streak + 1) * bad
        self._worst = torch.maximum(self._worst, self._streak)
        every = self.check_every_n_steps or max(1, trainer.log_every_n_steps)
        if trainer.global_step % every == 0:
            self._check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def _check(self, trainer: L.Trainer) -> None:
        worst = int(self._worst.item()) if self._worst is not None else 0
        stop = trainer.strategy.reduce_boolean_decision(worst >= self.max_steps, all=False)
        if self._worst is not None:
            self._worst.zero_()
        if stop:
            raise TrainingError(
                f"The training loss was NaN or infinite for {self.max_steps} steps in a row "
                f"(by step {trainer.global_step}), so nothing this run learned can be trusted. "
                "Lower model.optimizer.lr, check the data and the pretrained weights, or try "
                "trainer.precision=32-true. (max_nonfinite_steps sets how many bad steps in a "
                "row are tolerated.)"
            )


def moved_checkpoint_state(state: dict[str, Any], dirpath: str | None) -> dict[str, Any]:
    """A ModelCheckpoint state saved in another directory, its paths moved to `dirpath`.

    A run dir that was copied or moved before `resume=` keeps its checkpoints' names; the
    saved state names the old directory, where Lightning would forget the top-k scores (a
    tie then picks another best epoch) and keep a best path into the other run. A state whose
    best checkpoint is not in `dirpath` (`ckpt_path=` from another run) is left as it is."""
    old = state.get("dirpath")
    if dirpath is None or old is None or old == dirpath:
        return state

    def moved(path: Any) -> Any:
        if isinstance(path, str) and path and os.path.dirname(path) == old:
            return os.path.join(dirpath, os.path.basename(path))
        return path

    best = moved(state.get("best_model_path"))
    if best and not os.path.exists(best):  # another run's state (`ckpt_path=` into a new run)
        return state
    state = dict(state, dirpath=dirpath)
    for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
        state[key] = moved(state.get(key))
    if isinstance(state.get("best_k_models"), dict):
        state["best_k_models"] = {moved(k): v for k, v in state["best_k_models"].items()}
    return state


class MovableCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint whose state survives a copied or moved run directory."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(moved_checkpoint_state(state_dict, self.dirpath))


class FinalModelCheckpoint(MovableCheckpoint):
    """Lightning's ModelCheckpoint whose `last.ckpt` is always the final state of training.

    Lightning refreshes `last.ckpt` only when a top-k checkpoint is saved in the same step, so
    after epochs that did not improve, "last" was an older state. Here the end of training
    saves it again whenever the newest `last.ckpt` is not of the final step.

    In a sweep trial (a multirun job) `trial_save_last` and `trial_weights_only` replace
    `save_last` and `save_weights_only`: by default a trial keeps its best epoch's weights
    only. Fitting from a weights-only checkpoint (`resume=`, `ckpt_path=`) is refused.

    Args:
        trial_save_last: `save_last` in a sweep trial.
        trial_weights_only: `save_weights_only` in a sweep trial.
    """

    def __init__(
        self,
        *args: Any,
        trial_save_last: bool = False,
        trial_weights_only: bool = True,
        **kwargs: Any,
    ) -> None:
        if in_sweep_trial():
            kwargs["save_last"], kwargs["save_weights_only"] = trial_save_last, trial_weights_only
        super().__init__(*args, **kwargs)
        self._last_saved_step: int | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        check_resumable(trainer.ckpt_path)  # set once the checkpoint is read, before the
        super().on_fit_start(trainer, pl_module)  # optimizer state is restored from it

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict) -> None:
        super()._save_last_checkpoint(trainer, monitor_candidates)
        if self.save_last:
            self._last_saved_step = trainer.global_step

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_last and self._last_saved_step != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class StepCheckpoint(MovableCheckpoint):
    """Lightning's ModelCheckpoint for step checkpoints, which exist for resume after a kill.

    When training ends cleanly (not on an exception, Ctrl-C or kill) its files are deleted,
    unless `delete_at_end` is false: the best and last checkpoints are what a finished run
    keeps.

    Args:
        delete_at_end: delete this callback's checkpoints at a clean end of training.
    """

    def __init__(self, *args: Any, delete_at_end: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delete_at_end = delete_at_end
        self._at_epoch_end = False

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        # An epoch's last batch is saved at the epoch's end, after its validation, where the
        # epoch checkpoint is saved too: Lightning resumes a checkpoint saved at the last batch
        # without running that validation (another best epoch), so resuming would not be exact.
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._at_epoch_end = True
            return
        super().on_train_batch_end(trainer, pl_module, *args)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._at_epoch_end:
            self._at_epoch_end = False
            super().on_train_batch_end(trainer, pl_module, None, None, 0)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if self.delete_at_end and not trainer.interrupted:
            self.delete_saved(trainer)

    def delete_saved(self, trainer: L.Trainer) -> None:
        """Delete the checkpoints this callback saved (rank zero deletes) and forget them."""
        paths = {self.best_model_path, self.last_model_path, *self.best_k_models}
        for path in sorted(p for p in paths if p):
            trainer.strategy.remove_checkpoint(path)
        self.best_k_models, self.kth_best_model_path = {}, ""
        self.best_model_path = self.last_model_path = ""
