"""The LightningModule: BertForSequenceClassification, its loss, optimizer and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import lightning as L
import torch
import torch.nn.functional as F
from transformers import AutoConfig, BertForSequenceClassification

from bertlab.model.metrics import StageMetrics
from bertlab.model.optim import SchedulerFactory, decay_groups, linear_warmup_decay
from bertlab.model.pretrained import resolve_pretrained

log = logging.getLogger(__name__)

HF_PROBLEM_TYPES = {"single_label": "single_label_classification",
                    "multi_label": "multi_label_classification", "regression": "regression"}


class TextClassifier(L.LightningModule):
    """Fine-tunes a pretrained BERT for single-label, multi-label or regression tasks.

    Args:
        pretrained: "default" (packaged all-MiniLM-L6-v2), a checkpoint directory or hub name.
        num_labels: classes (1 for regression); given by the DataModule.
        problem_type: single_label, multi_label or regression; given by the DataModule.
        label_names: class names, saved as the model's id2label / label2id.
        dropout: override the checkpoint's hidden and classifier dropout (None keeps it).
        optimizer: a partial optimizer (Hydra `_partial_: true`), completed with param groups.
        scheduler: a partial `f(optimizer, total_steps)` returning a step-wise LR scheduler.
        compile: wrap the network in `torch.compile` (faster on GPU after warm-up).
        attn_implementation: "sdpa" (fused attention) or "eager".
    """

    def __init__(
        self,
        pretrained: str = "default",
        num_labels: int = 2,
        problem_type: str = "single_label",
        label_names: list[str] | None = None,
        dropout: float | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: SchedulerFactory | None = None,
        compile: bool = False,
        attn_implementation: str = "sdpa",
    ) -> None:
        super().__init__()
        label_names = [str(n) for n in label_names] if label_names else None  # plain types only
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        self.optimizer_factory = optimizer or torch.optim.AdamW
        self.scheduler_factory = scheduler or linear_warmup_decay
        self.problem_type = problem_type
        self.network = self.build_network()
        self.forward_fn = torch.compile(self.network, dynamic=True) if compile else self.network
        self.train_metrics = StageMetrics("train", problem_type, num_labels)
        self.val_metrics = StageMetrics("val", problem_type, num_labels)
        self.test_metrics = StageMetrics("test", problem_type, num_labels)

    def stage_metrics(self, stage: str) -> StageMetrics:
        """The metrics of stage train, val or test."""
        return getattr(self, f"{stage}_metrics")

    def build_network(self) -> torch.nn.Module:
        """Load the pretrained encoder with a fresh classification head."""
        hp = self.hparams
        path = resolve_pretrained(hp.pretrained)
        names = hp.label_names or [str(i) for i in range(hp.num_labels)]
        overrides = {}
        if hp.dropout is not None:
            overrides = {"hidden_dropout_prob": hp.dropout, "classifier_dropout": hp.dropout}
        config = AutoConfig.from_pretrained(
            str(path), num_labels=hp.num_labels, problem_type=HF_PROBLEM_TYPES[hp.problem_type],
            id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
            **overrides,
        )
        config._attn_implementation = hp.attn_implementation
        network = BertForSequenceClassification.from_pretrained(str(path), config=config)
        return network.train()  # from_pretrained returns eval mode; Lightning keeps modes as found

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Logits of shape (batch, num_labels)."""
        return self.forward_fn(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"],
        ).logits

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.problem_type == "regression":
            return F.mse_loss(logits.squeeze(-1).float(), labels.float())
        if self.problem_type == "multi_label":
            return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return F.cross_entropy(logits.float(), labels)

    def _step(self, batch: Mapping[str, torch.Tensor], stage: str) -> torch.Tensor:
        logits = self(batch)
        loss = self.loss(logits, batch["labels"])
        self.stage_metrics(stage).update(logits, batch["labels"], loss)
        return loss

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train")
        self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True,
                 batch_size=batch["labels"].shape[0])
        return loss

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def _log_epoch(self, stage: str) -> None:
        if self.trainer.sanity_checking:
            self.stage_metrics(stage).reset()
            return
        self.log_dict(self.stage_metrics(stage).compute(), prog_bar=stage == "val")

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self):
        groups = decay_groups(self.network, self.optimizer_factory.keywords.get("weight_decay", 0.0)
                              if hasattr(self.optimizer_factory, "keywords") else 0.0)
        optimizer = self.optimizer_factory(groups)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = self.scheduler_factory(optimizer, total_steps=total)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "train/lr"}}
