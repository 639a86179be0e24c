"""The LightningModule: BertForSequenceClassification, its loss, optimizer and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import lightning as L
import torch
from torchmetrics import Metric
from transformers import AutoConfig, BertForSequenceClassification

from bertlab.errors import ConfigError
from bertlab.model.layers import FreezeOptions, freeze_layers
from bertlab.model.loss import BALANCED, LossOptions, class_weight_tensor
from bertlab.model.metrics import StageMetrics, build_extra_metrics
from bertlab.model.optim import (
    SchedulerFactory,
    build_optimizer,
    check_layer_decay,
    linear_warmup_decay,
)
from bertlab.model.pooling import pool_documents
from bertlab.pretrained import resolve_pretrained
from bertlab.tasks import Task, get_task
from bertlab.utils.plain import is_plain
from bertlab.utils.quiet import quiet_weight_loading, report_loading

log = logging.getLogger(__name__)

HEADS = ("cls", "mean", "attention")  # bertlab.model.heads.HEADS (checked by a test)


def check_head(head: str) -> None:
    """Raises ConfigError unless `head` is one of `HEADS`."""
    if head not in HEADS:
        raise ConfigError(f"model.head={head!r}: use one of {', '.join(HEADS)}.")


def check_plain_hparams(hparams: Mapping, owner: str) -> None:
    """Every hyperparameter is plain data (str, number, bool, None, lists and dicts of them).

    Raises:
        ConfigError: naming the first argument that is not, and what to do instead.
    """

    for key, value in hparams.items():
        if not is_plain(value):
            raise ConfigError(
                f"{owner}: the argument '{key}' is a {type(value).__name__}, not plain data. "
                "Hyperparameters are saved in every checkpoint, which bertlab loads with "
                "weights_only=True: pass a name, number, or a list or dict of them, and build "
                "the object inside the module from it."
            )


def encoder_mask(attention_mask: torch.Tensor, implementation: str, dtype: torch.dtype):
    """The (batch, 1, 1, length) attention mask BERT's attention takes as it is: boolean for
    "sdpa" (True = attend), additive (0 / dtype's minimum) for "eager"; other implementations
    get the 2-D mask. Given a 2-D mask, transformers decides per batch whether SDPA may skip
    it (`mask.all()`), a host sync on every step; a ready 4-D mask skips that check."""
    if implementation == "sdpa":
        return attention_mask[:, None, None, :].bool()
    if implementation == "eager":
        keep = attention_mask[:, None, None, :].to(dtype)
        return (1.0 - keep) * torch.finfo(dtype).min
    return attention_mask


class TextClassifier(L.LightningModule):
    """Fine-tunes a pretrained BERT for single-label, multi-label or regression tasks.

    Args:
        pretrained: "default" (packaged all-MiniLM-L6-v2), a checkpoint directory or hub name.
        num_labels: the output width (classes; 1 for regression); given by the DataModule.
        task: the problem type (`bertlab.tasks`): a name such as single_label, multi_label,
            regression, or a Task; given by the DataModule (`data.task`).
        label_names: class names, saved as the model's id2label / label2id.
        dropout: override the checkpoint's hidden and classifier dropout (None keeps it).
        optimizer: a partial optimizer (Hydra `_partial_: true`), completed with param groups.
        scheduler: a partial `f(optimizer, total_steps)` returning a step-wise LR scheduler.
        compile: "auto" = compile the encoder layers only when the planned training steps
            repay it (logged), "regional" (each encoder layer, one graph reused), True /
            "dynamic" / "full" (the whole network, dynamic shapes), "static" (a graph per
            batch shape: with bounded length buckets) or False / "eager"
            (`bertlab.model.compile`; measured trade-offs in docs/performance.md).
        compile_cache: the directory of the on-disk compile caches (`model.compile_cache`,
            default `<paths.cache_dir>/compile`; None: torch's default); a subdirectory per
            torch version, device, precision and model shape (`bertlab.model.compile_cache`).
        compile_mode: `torch.compile` mode, e.g. "reduce-overhead" (CUDA graphs, CUDA only: on
            other devices dropped to the default) or "max-autotune-no-cudagraphs" (None: default).
        fused_optimizer: pass `fused=True` to optimizers that accept it (AdamW, Adam, SGD):
            one kernel for the whole update instead of one per parameter.
        attn_implementation: "sdpa" (fused attention) or "eager".
        extra_metrics: more torchmetrics by name, as partials (Hydra `_partial_: true`);
            num_classes / num_labels are filled in. They receive what the built-in metrics
            receive: predicted class ids (single-label), sigmoid probabilities (multi-label)
            or values (regression), and the targets. Logged as `<stage>/<name>`.
        loss: `{class_weights, label_smoothing}` for single-label tasks (see `LossOptions`).
            class_weights: null, "balanced" (from `label_counts`) or one weight per class;
            the weights are a buffer, so checkpoints carry them.
        optimizer_groups: `{layer_decay}`: layer-wise learning-rate decay (null = off); see
            `optim.layer_decay_groups`.
        freeze: `{embeddings, layers}`: freeze the embeddings and/or the bottom N encoder
            layers (no gradients, no optimizer state).
        label_counts: train-split examples per label name (given by train.py); what
            `class_weights: balanced` is computed from.
        head: what feeds the linear classifier: "cls" (BERT's pooled [CLS], exportable to
            `transformers.pipeline`), "mean" or "attention" pooling of the token vectors
            (`bertlab.model.heads`).

    Raises:
        ConfigError: an unknown head, or a subclass argument that is not plain data
            (hyperparameters travel in checkpoints, which load with `weights_only=True`).
    """

    def __init__(
        self,
        pretrained: str = "default",
        num_labels: int = 2,
        task: str | Task = "single_label",
        label_names: list[str] | None = None,
        dropout: float | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: SchedulerFactory | None = None,
        compile: bool | str = "auto",
        attn_implementation: str = "sdpa",
        extra_metrics: Mapping[str, Callable[..., Metric]] | None = None,
        compile_mode: str | None = None,
        fused_optimizer: bool = True,
        loss: Mapping | None = None,
        optimizer_groups: Mapping | None = None,
        freeze: Mapping | None = None,
        label_counts: Mapping[str, int] | None = None,
        head: str = "cls",
        compile_cache: str | None = None,
    ) -> None:
        super().__init__()
        label_names = [str(n) for n in label_names] if label_names else None  # plain types only
        if label_counts is not None:
            label_counts = {str(k): int(v) for k, v in label_counts.items()}
        self.task = get_task(task)
        task = self.task.spec()  # its name or {_target_, arguments}: plain types only
        check_head(head)
        self.save_hyperparameters(ignore=["optimizer", "scheduler", "extra_metrics"])
        # A subclass's own __init__ frame is what Lightning records: put the plain values back
        self.hparams.update(task=task, label_names=label_names, label_counts=label_counts)
        check_plain_hparams(self.hparams, type(self).__name__)
        self.optimizer_factory = optimizer or torch.optim.AdamW
        self.scheduler_factory = scheduler or linear_warmup_decay
        self.loss_options = LossOptions.from_config(loss, self.task, num_labels)
        self.layer_decay = check_layer_decay(optimizer_groups)
        self.network = self.build_network()
        freeze_layers(self.network, FreezeOptions.from_config(freeze))
        self.register_buffer("class_weights", self.build_class_weights())
        # torch.compile's wrapper of `network`, made in setup() once the device is known; kept
        # out of the module tree so that state dicts hold `network.*` only
        self.__dict__["compiled_network"] = None
        self._loss_window: tuple[torch.Tensor, int] | None = None  # train loss since last log
        self._clip_params: list[torch.nn.Parameter] | None = None  # listed once, not per step
        for stage in ("train", "val", "test"):
            extra = build_extra_metrics(extra_metrics, self.task, num_labels)
            setattr(self, f"{stage}_metrics", StageMetrics(stage, self.task, num_labels, extra))

    def setup(self, stage: str) -> None:
        if stage == "fit" and self._weights_need_counts():
            raise ConfigError(
                "model.loss.class_weights=balanced needs the train split's label counts: "
                "pass label_counts={label name: count} (train.py passes the DataModule's)."
            )
        self._clip_params = None
        device = self.trainer.strategy.root_device
        steps = None  # not training: auto stays eager
        if stage == "fit":  # auto weighs the planned steps on a GPU (elsewhere it stays eager)
            auto_gpu = self.hparams.get("compile") == "auto" and device.type == "cuda"
            steps = self.trainer.estimated_stepping_batches if auto_gpu else 0
        self.compile_for(device.type, steps, str(self.trainer.precision))

    def compile_for(
        self, device_type: str, planned_steps: float | None = None, precision: str = "32-true"
    ) -> None:
        """Compile the network once, as `model.compile` says (`bertlab.model.compile`: auto's
        estimate from `planned_steps` and the compile cache, regional or whole, shapes, modes)."""
        from bertlab.model.compile import compile_with_cache

        hp = self.hparams
        if self.compiled_network is None:
            wanted, mode = hp.get("compile", False), hp.get("compile_mode")
            compiled = compile_with_cache(
                self.network, wanted, mode, device_type, planned_steps, precision,
                hp.get("compile_cache"),
            )  # fmt: skip
            if compiled is not None:  # eager: decided again at the next setup (e.g. a fit)
                self.__dict__["compiled_network"] = compiled

    def _weights_need_counts(self) -> bool:
        return self.loss_options.class_weights == BALANCED and self.hparams.label_counts is None

    def build_class_weights(self) -> torch.Tensor | None:
        """The cross-entropy class weights in label order (None: unweighted), logged."""
        names = self.hparams.label_names or [str(i) for i in range(self.hparams.num_labels)]
        weights = class_weight_tensor(self.loss_options, names, self.hparams.label_counts)
        if weights is not None and not self._weights_need_counts():
            log.info(
                "Class weights (%s): %s",
                "balanced, from the train split's label counts"
                if self.loss_options.class_weights == BALANCED
                else "given",
                ", ".join(f"{n} {w:.4g}" for n, w in zip(names, weights.tolist(), strict=True)),
            )
        return weights

    def stage_metrics(self, stage: str) -> StageMetrics:
        """The metrics of stage train, val or test."""
        return getattr(self, f"{stage}_metrics")

    def build_network(self) -> torch.nn.Module:
        """Load the pretrained encoder with a fresh classification head."""
        hp = self.hparams
        path = resolve_pretrained(hp.pretrained)
        names = hp.label_names or [str(i) for i in range(hp.num_labels)]
        overrides = {}
        if len(names) == hp.num_labels:  # an output per label (not e.g. ordinal thresholds)
            overrides = {
                "id2label": dict(enumerate(names)),
                "label2id": {n: i for i, n in enumerate(names)},
            }
        if hp.dropout is not None:
            overrides |= {"hidden_dropout_prob": hp.dropout, "classifier_dropout": hp.dropout}
        config = AutoConfig.from_pretrained(
            str(path),
            num_labels=hp.num_labels,
            problem_type=self.task.hf_problem_type,
            **overrides,
        )
        config._attn_implementation = hp.attn_implementation
        with quiet_weight_loading():  # no progress bar, no ANSI LOAD REPORT
            network, info = BertForSequenceClassification.from_pretrained(
                str(path), config=config, output_loading_info=True
            )
        report_loading(info, str(path))  # the report's content, as plain log lines
        network.train()  # from_pretrained returns eval mode; Lightning keeps modes as found
        if hp.get("head", "cls") != "cls":
            from bertlab.model.heads import pooled_network  # heads.py subclasses this module

            network = pooled_network(network, hp.head)
        return network

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Logits of shape (batch, num_labels)."""
        network = self.network if self.compiled_network is None else self.compiled_network
        mask = batch["attention_mask"]
        if isinstance(self.network, BertForSequenceClassification):  # pooled heads: their own
            config = self.network.config
            mask = encoder_mask(mask, config._attn_implementation, self.network.dtype)
        return network(
            input_ids=batch["input_ids"],
            attention_mask=mask,
            token_type_ids=batch["token_type_ids"],
        ).logits

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The task's loss, with the configured class weights and label smoothing."""
        return self.task.loss(logits, labels, self.class_weights, self.loss_options.label_smoothing)

    def _step(
        self, batch: Mapping[str, torch.Tensor], stage: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = pool_documents(self(batch), batch)  # chunked documents: a row per document
        loss = self.loss(logits, batch["labels"])
        self.stage_metrics(stage).update(logits, batch["labels"], loss)
        return loss, logits

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _ = self._step(batch, "train")
        total, count = self._loss_window or (0.0, 0)
        self._loss_window = (loss.detach() + total, count + 1)  # stays on the device
        # Only on the steps Lightning writes to the loggers: log the mean loss since the last
        # log and let the train metrics take their queue. Not a progress-bar value: Lightning
        # converts those to floats after every step (a host sync each, stalling a fast GPU
        # step); bertlab's progress bar (callbacks/progress.py) reads it on these steps only.
        if (self.global_step + 1) % max(1, self.trainer.log_every_n_steps) == 0:
            total, count = self._loss_window
            self.log(
                "train/loss_step",
                total / count,
                on_step=True,
                on_epoch=False,
                batch_size=batch["labels"].shape[0],
            )
            self._loss_window = None
            self.train_metrics.flush()
        return loss

    def validation_step(
        self, batch: Mapping[str, torch.Tensor], batch_idx: int
    ) -> dict[str, torch.Tensor]:
        """Returns the logits for callbacks (e.g. TensorBoard figures); not kept by Lightning."""
        return {"logits": self._step(batch, "val")[1].detach()}

    def test_step(
        self, batch: Mapping[str, torch.Tensor], batch_idx: int
    ) -> dict[str, torch.Tensor]:
        return {"logits": self._step(batch, "test")[1].detach()}

    def predict_step(
        self, batch: Mapping[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> torch.Tensor:
        """Float logits, one row per text (a chunked document's windows pooled)."""
        return pool_documents(self(batch), batch).float()

    @staticmethod
    def current_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A checkpoint's state dict without `forward_fn.*`, the duplicate entries of
        checkpoints written before the compiled wrapper left the module tree."""
        return {k: v for k, v in state_dict.items() if not k.startswith("forward_fn.")}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = self.current_state_dict(checkpoint["state_dict"])

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

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ) -> None:
        """Clip in place. Lightning's mixed-precision plugin refuses any fused optimizer, as if a
        grad scaler were unscaling inside it; bf16 has no scaler, so clipping here is exact.
        Under FSDP the norm is the sharded root module's (global over ranks), which Lightning
        itself does not offer."""
        if not gradient_clip_val or str(self.trainer.precision).startswith("16"):
            return super().configure_gradient_clipping(
                optimizer, gradient_clip_val, gradient_clip_algorithm
            )
        root = self.trainer.strategy.model
        if gradient_clip_algorithm != "value" and hasattr(root, "clip_grad_norm_"):  # FSDP
            root.clip_grad_norm_(gradient_clip_val)
            return
        if self._clip_params is None:  # walking the module tree: ~0.3 ms a step on MiniLM
            self._clip_params = list(self.parameters())  # frozen ones have no grad: skipped
        if gradient_clip_algorithm == "value":
            torch.nn.utils.clip_grad_value_(self._clip_params, gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_norm_(self._clip_params, gradient_clip_val)

    def configure_optimizers(self):
        fp16 = str(self.trainer.precision).startswith("16")  # its scaler needs unfused clipping
        optimizer, scheduler = self.build_optimizer(
            total_steps=max(1, int(self.trainer.estimated_stepping_batches)), fused=not fp16
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "train/lr"},
        }

    def build_optimizer(
        self, total_steps: int, fused: bool = True
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        """The optimizer and its step-wise schedule over `total_steps` (`optim.build_optimizer`)."""
        fused = fused and self.hparams.get("fused_optimizer", True)
        optimizer = build_optimizer(self.network, self.optimizer_factory, self.layer_decay, fused)
        return optimizer, self.scheduler_factory(optimizer, total_steps=total_steps)
