"""The floor under bertlab's Lightning loop: the same network (compiled the same way), batches
(the DataModule's bucket sampler and collator), optimizer, schedule, precision and clipping,
in a plain PyTorch loop with no metrics, hooks or logging. bertlab / raw = what the framework
costs per step (the issue's "Lightning per-step overhead").

Same batches: the DataModule resolves its "auto" settings (length buckets, workers, pinned
memory on a GPU) from the trainer it is attached to, and without one it takes the CPU's (no
buckets: on a GPU, hundreds of shapes and recompiles). So the loop attaches a trainer made
from the same `cfg.trainer` (never fitted) before asking for the loader, and records the
shape of every batch it trains on; bench.py asserts that both sides saw the same shapes in
the same order."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import hydra
import torch
from omegaconf import DictConfig

from bertlab.data.datamodule import TextClassificationDataModule
from bertlab_side import QUIET
from common import DEVICE, PeakMemory, StepClock

AUTOCAST = {"bf16-mixed": torch.bfloat16, "bf16": torch.bfloat16}  # else fp32 (no fp16 scaler)


def batches(loader: torch.utils.data.DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    """Endless epochs of the loader, re-seeding the bucket sampler each epoch as Lightning does."""
    epoch = 0
    while True:
        sampler = getattr(loader, "batch_sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


@contextlib.contextmanager
def attached_trainer(cfg: DictConfig, dm: TextClassificationDataModule) -> Iterator[None]:
    """`dm` attached to a trainer from `cfg.trainer` (as bertlab's side is during its fit), so
    that its loaders take the same device settings; the previous trainer put back after."""
    before = dm.trainer
    dm.trainer = hydra.utils.instantiate(cfg.trainer, **QUIET)
    try:
        yield
    finally:
        dm.trainer = before


def train(cfg: DictConfig, dm: TextClassificationDataModule, model, steps: int, warmup: int):
    """Training samples/s over steps warmup+1..steps of a plain loop; `model` a TextClassifier.
    The result's `shapes` are the batch shapes trained on, in order."""
    device = torch.device(DEVICE)
    model.to(device).train()
    precision = str(cfg.trainer.precision)
    # the same compile decision as bertlab's fit (model.compile=auto weighs the planned steps)
    model.compile_for(device.type, planned_steps=steps, precision=precision)
    dtype = AUTOCAST.get(precision)
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    clip = cfg.trainer.get("gradient_clip_val")
    optimizer, scheduler = model.build_optimizer(total_steps=steps)
    params = [p for p in model.parameters() if p.requires_grad]
    clock = StepClock(warmup, steps)
    non_blocking = device.type == "cuda"
    shapes: list[list[int]] = []
    with attached_trainer(cfg, dm):
        loader = dm.train_dataloader()
    with PeakMemory() as mem:
        clock.begin()
        for step, batch in enumerate(batches(loader), start=1):
            shapes.append(list(batch["input_ids"].shape))
            batch = {k: v.to(device, non_blocking=non_blocking) for k, v in batch.items()}
            with autocast:
                loss = model.loss(model(batch), batch["labels"])
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            clock.step_done(step)
            if step == steps:
                break
    return {**clock.rates(cfg.data.batch_size), "peak_mib": mem.peak_mib, "shapes": shapes}
