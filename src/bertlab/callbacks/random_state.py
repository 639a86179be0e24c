"""Every rank's random generators, saved in checkpoints and restored on resume."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch


class RandomState(L.Callback):
    """Saves every rank's random generators in checkpoints and restores them just before the
    first training batch after a resume, so dropout continues as if never interrupted."""

    def __init__(self) -> None:
        self._pending: list[dict[str, Any]] | None = None

    @staticmethod
    def _capture() -> dict[str, Any]:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        state = {  # tensors and plain Python only: checkpoints load with weights_only=True
            "torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "python": random.getstate(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state()
        return state

    def state_dict(self) -> dict[str, Any]:
        state = self._capture()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            states: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(states, state)
            return {"ranks": states}
        return {"ranks": [state]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict.get("ranks")

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        states, self._pending = self._pending, None
        if not states or len(states) != trainer.world_size:
            return  # a different world size: the saved streams do not map onto the ranks
        state = states[trainer.global_rank]
        torch.set_rng_state(state["torch"])
        kind, keys, *rest = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
        random.setstate(state["python"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state["cuda"])
