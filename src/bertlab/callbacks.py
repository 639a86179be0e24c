"""Small Lightning callbacks of bertlab's own."""

from __future__ import annotations

import lightning as L


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
        rows = [r for r in self.epochs if metric in r]
        if not rows:
            return None
        pick = max if mode == "max" else min
        return pick(rows, key=lambda r: r[metric])
