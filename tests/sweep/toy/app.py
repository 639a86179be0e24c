"""A throwaway Hydra app standing in for train.py: fast, no model, same contract.

Its "training" reports ``val/score`` per epoch to the active trial, as the pruning callback
does; the score rises with x and epoch. ``fail_trials`` lists trial numbers that raise and
``fail_above`` makes trials with x above it raise; ``sleep_s`` slows epochs (to interrupt a
trial); ``wait_workers`` holds each trial until that many worker processes have started one;
``test_opened`` in metrics.json shows whether the lockbox override arrived; ``tb_events``
writes each epoch's score as a TensorBoard event file in the trial dir, as train.py does.
"""

import json
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from bertlab.sweep.context import current


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    out = Path(hydra_cfg.runtime.output_dir)
    metric, trial = cfg.objective.metric, current()
    number = trial.trial.number if trial else None
    if number in cfg.fail_trials or (cfg.fail_above is not None and cfg.x > cfg.fail_above):
        raise RuntimeError(f"trial {number} with x={cfg.x} fails on purpose")
    if cfg.wait_workers:
        wait_for_workers(Path(hydra_cfg.sweep.dir), cfg.wait_workers)
    history = []
    for epoch in range(cfg.epochs):
        time.sleep(cfg.sleep_s)
        history.append(cfg.x * (epoch + 1) + 0.01 * cfg.y)
        if trial is not None and trial.report(history[-1], epoch, last=epoch == cfg.epochs - 1):
            break
    if cfg.tb_events:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        writer = EventFileWriter(str(out))
        for epoch, score in enumerate(history):
            value = summary_pb2.Summary.Value(tag=metric, simple_value=score)
            summary = summary_pb2.Summary(value=[value])
            writer.add_event(event_pb2.Event(wall_time=time.time(), step=epoch, summary=summary))
        writer.close()
    best = max(history)
    record = {
        "objective": metric,
        "best_val": {metric: best},
        "best_epoch": history.index(best),
        "best_checkpoint": str(out / "best.ckpt"),
        "epochs_run": len(history),
        "max_epochs": cfg.epochs,
        "test_opened": bool(cfg.test_after_fit),
    }
    if cfg.test_after_fit:
        record["test"] = {"test/score": best + 0.001 * cfg.seed}
    (out / "metrics.json").write_text(json.dumps(record))
    return best


def wait_for_workers(sweep_dir: Path, n: int, timeout_s: float = 1200.0) -> None:
    """Announce this process and wait until ``n`` processes have announced themselves."""
    (sweep_dir / f"worker_{os.getpid()}").touch()
    deadline = time.monotonic() + timeout_s
    while len(list(sweep_dir.glob("worker_*"))) < n and time.monotonic() < deadline:
        time.sleep(0.1)


if __name__ == "__main__":
    main()
