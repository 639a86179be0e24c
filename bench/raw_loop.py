"""The floor under bertlab's Lightning loop: the same network (compiled the same way), batches
(the DataModule's bucket sampler and collator), optimizer, schedule, precision and clipping,
in a plain PyTorch loop with no metrics, hooks or logging. bertlab / raw = what the framework
costs per step (the issue's "Lightning per-step overhead")."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from omegaconf import DictConfig

from bertlab.data.datamodule import TextClassificationDataModule
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


def train(cfg: DictConfig, dm: TextClassificationDataModule, model, steps: int, warmup: int):
    """Training samples/s over steps warmup+1..steps of a plain loop; `model` a TextClassifier."""
    device = torch.device(DEVICE)
    model.to(device).train()
    model.compile_for(device.type)
    precision = str(cfg.trainer.precision)
    dtype = AUTOCAST.get(precision)
    autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    clip = cfg.trainer.get("gradient_clip_val")
    optimizer, scheduler = model.build_optimizer(total_steps=steps)
    params = [p for p in model.parameters() if p.requires_grad]
    clock = StepClock(warmup, steps)
    non_blocking = device.type == "cuda"
    with PeakMemory() as mem:
        clock.begin()
        for step, batch in enumerate(batches(dm.train_dataloader()), start=1):
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
    return {**clock.rates(cfg.data.batch_size), "peak_mib": mem.peak_mib}
