"""A throwaway Hydra app standing in for train.py: fast, no model, same contract.

Its "training" reports ``val/score`` per epoch through the real pruning callback; the score
rises with x and epoch. ``fail_above`` makes trials with x above it raise; ``sleep_s`` slows
epochs (to interrupt a trial); a ``test_opened`` flag proves the lockbox override arrived.
"""

import json
import time
from pathlib import Path
from types import SimpleNamespace

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bertlab.sweep.context import trial_callbacks


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    out = Path(HydraConfig.get().runtime.output_dir)
    if cfg.fail_above is not None and cfg.x > cfg.fail_above:
        raise RuntimeError(f"x={cfg.x} is above {cfg.fail_above}")
    metric = cfg.objective.metric
    callbacks = trial_callbacks(metric)
    trainer = SimpleNamespace(
        sanity_checking=False, is_global_zero=True, world_size=1, should_stop=False
    )
    history = []
    for epoch in range(cfg.epochs):
        time.sleep(cfg.sleep_s)
        value = cfg.x * (epoch + 1) + 0.01 * cfg.y
        history.append(value)
        trainer.current_epoch, trainer.callback_metrics = epoch, {metric: value}
        for cb in callbacks:
            cb.on_validation_end(trainer, None)
        if trainer.should_stop:
            break
    best = max(history)
    record = {
        "objective": metric,
        "best_val": {metric: best},
        "best_epoch": history.index(best),
        "best_checkpoint": str(out / "best.ckpt"),
        "epochs_run": len(history),
        "test_opened": bool(cfg.test_after_fit),
    }
    if cfg.test_after_fit:
        record["test"] = {"test/score": best + 0.001 * cfg.seed}
    (out / "metrics.json").write_text(json.dumps(record))
    return best


if __name__ == "__main__":
    main()
