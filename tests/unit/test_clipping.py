"""Gradient clipping through a real Lightning Trainer: what the optimizer receives is clipped,
with fused AdamW, in fp32 and bf16 (where Lightning itself refuses fused optimizers)."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from bertlab.model import TextClassifier


class GradientProbe(L.Callback):
    """Records the gradients the optimizer stepped with: they stay in place (clipped, if
    clipping ran) until the next step's zero_grad."""

    def __init__(self) -> None:
        self.norms: list[float] = []
        self.max_abs: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        self.norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        self.max_abs.append(max(g.abs().max().item() for g in grads))


def batches(n: int = 3) -> list[dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    out = []
    for _ in range(n):
        ids = torch.randint(1000, 2000, (8, 12))
        ids[:, 0] = 101
        out.append(
            {
                "input_ids": ids,
                "token_type_ids": torch.zeros_like(ids),
                "attention_mask": torch.ones_like(ids),
                "labels": torch.tensor([0, 1] * 4),
            }
        )
    return out


def fit(model_dir, precision: str, clip: float | None, algorithm: str = "norm") -> GradientProbe:
    L.seed_everything(0, verbose=False)
    model = TextClassifier(str(model_dir), num_labels=2, fused_optimizer=True)
    probe = GradientProbe()
    trainer = L.Trainer(
        accelerator="cpu",
        precision=precision,
        max_steps=3,
        gradient_clip_val=clip,
        gradient_clip_algorithm=algorithm,
        callbacks=[probe],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, DataLoader(batches(), batch_size=None))
    assert trainer.optimizers[0].defaults.get("fused") is True
    return probe


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_norm_clipping_reaches_the_optimizer(tiny_model_dir, precision):
    unclipped = fit(tiny_model_dir, precision, clip=None)
    limit = min(unclipped.norms) / 4  # well below every step's natural norm
    clipped = fit(tiny_model_dir, precision, clip=limit)
    assert len(clipped.norms) == 3
    assert all(n <= limit * 1.001 for n in clipped.norms), (clipped.norms, limit)
    assert all(n > limit * 1.5 for n in unclipped.norms)


def test_value_clipping_bounds_every_gradient(tiny_model_dir):
    unclipped = fit(tiny_model_dir, "32-true", clip=None)
    limit = min(unclipped.max_abs) / 4
    clipped = fit(tiny_model_dir, "32-true", clip=limit, algorithm="value")
    assert all(m <= limit * 1.0001 for m in clipped.max_abs)


class ShardedRoot(torch.nn.Module):
    """What FSDP exposes to its LightningModule: a root module with a global `clip_grad_norm_`."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[float] = []

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        self.calls.append(max_norm)
        return torch.tensor(0.0)


def test_sharded_root_clips_with_its_global_norm(tiny_model_dir):
    """Under FSDP each rank holds a shard: a local torch clip would scale ranks differently."""
    model = TextClassifier(str(tiny_model_dir), num_labels=2)
    trainer = L.Trainer(accelerator="cpu", precision="bf16-mixed", logger=False)
    root = ShardedRoot()
    trainer.strategy._lightning_module = model
    trainer.strategy.model = root
    model.trainer = trainer
    model.configure_gradient_clipping(None, gradient_clip_val=0.5, gradient_clip_algorithm="norm")
    assert root.calls == [0.5]
