"""Pictures in TensorBoard at the end of validation and test: a confusion matrix, a
precision-recall curve (binary), per-class precision / recall / F1, and a text panel with the
most confident mistakes. It reads the logits that `validation_step` / `test_step` return, so
it costs no extra forward pass, and it only reacts to the stages the Trainer runs."""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torchmetrics.classification import BinaryPrecisionRecallCurve, MulticlassConfusionMatrix

log = logging.getLogger(__name__)


def render(fig: Figure) -> np.ndarray:
    """An (H, W, 3) uint8 image of a matplotlib figure (Agg canvas: no pyplot, no display)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def confusion_figure(cm: np.ndarray, names: list[str]) -> Figure:
    """Counts, coloured by the share of each true class (rows)."""
    size = min(2.5 + 0.45 * len(names), 12)
    fig = Figure(figsize=(size, size * 0.9), dpi=90)
    ax = fig.add_subplot()
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(names))
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted", ylabel="true")
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_yticklabels(names)
    if len(names) <= 20:
        for i, j in np.ndindex(cm.shape):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.5 else "black",
                fontsize=8,
            )
    fig.tight_layout()
    return fig


def per_class_figure(table: dict[str, np.ndarray], names: list[str]) -> Figure:
    """Grouped bars of precision, recall and F1 per class."""
    fig = Figure(figsize=(min(3 + 0.6 * len(names), 14), 3.2), dpi=90)
    ax = fig.add_subplot()
    x, width = np.arange(len(names)), 0.27
    for k, key in enumerate(("precision", "recall", "f1")):
        ax.bar(x + (k - 1) * width, table[key], width, label=key)
    ax.set(xticks=x, ylim=(0, 1.05), ylabel="score")
    ax.set_xticklabels(names, rotation=45 if len(names) > 6 else 0, ha="right")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def pr_figure(precision: np.ndarray, recall: np.ndarray, positive: str) -> Figure:
    fig = Figure(figsize=(4, 3.6), dpi=90)
    ax = fig.add_subplot()
    ax.plot(recall, precision)
    ax.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"positive class: {positive}",
    )
    fig.tight_layout()
    return fig


def per_class_table(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (rows = true)."""
    tp = np.diag(cm).astype(float)
    precision = tp / np.maximum(cm.sum(0), 1)
    recall = tp / np.maximum(cm.sum(1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1, "support": cm.sum(1)}


def log_step(trainer: L.Trainer) -> int:
    """The step Lightning logs the current metrics at (validation during fit: one behind
    `global_step`, whose count the optimizer step has already raised)."""
    loop = getattr(trainer, "fit_loop", None)
    return int(
        getattr(getattr(loop, "epoch_loop", None), "_batches_that_stepped", trainer.global_step)
    )


class TensorBoardFigures(L.Callback):
    """Log evaluation pictures to the TensorBoard logger (single-label tasks).

    Args:
        every_n_epochs: draw validation pictures every n-th epoch (test: always).
        max_mistakes: rows in the most-confident-mistakes panel.
        pr_thresholds: thresholds of the binned precision-recall curve (constant memory).
    """

    def __init__(
        self, every_n_epochs: int = 1, max_mistakes: int = 10, pr_thresholds: int = 200
    ) -> None:
        self.every_n_epochs, self.max_mistakes, self.pr_thresholds = (
            every_n_epochs,
            max_mistakes,
            pr_thresholds,
        )
        self.writer = None
        self.tokenizer = None
        self.active = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        self.single = getattr(pl_module, "problem_type", None) == "single_label"
        self.writer = loggers[0].experiment if loggers and trainer.is_global_zero else None
        self.has_logger = bool(loggers)
        if not self.single:
            log.info("TensorBoardFigures draws single-label tasks only; skipping.")

    # ---- collection ----
    def _start(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        due = stage == "test" or (trainer.current_epoch + 1) % self.every_n_epochs == 0
        self.active = self.single and self.has_logger and due and not trainer.sanity_checking
        if not self.active:
            return
        n = pl_module.hparams.num_labels
        self.confusion = MulticlassConfusionMatrix(n).to(pl_module.device)
        self.pr = (
            BinaryPrecisionRecallCurve(self.pr_thresholds).to(pl_module.device) if n == 2 else None
        )
        self.mistakes: list[tuple[torch.Tensor, ...]] = []

    def _collect(self, outputs, batch: dict[str, torch.Tensor]) -> None:
        if not self.active or not isinstance(outputs, dict) or "logits" not in outputs:
            return
        probs = torch.softmax(outputs["logits"].float(), -1)
        labels = batch["labels"]
        conf, pred = probs.max(-1)
        self.confusion.update(pred, labels)
        if self.pr is not None:
            self.pr.update(probs[:, 1], labels)
        wrong_conf = torch.where(pred != labels, conf, torch.full_like(conf, -1.0))
        top = wrong_conf.topk(min(self.max_mistakes, len(conf))).indices  # stays on the device
        self.mistakes.append(
            (
                wrong_conf[top],
                pred[top],
                labels[top],
                batch["input_ids"][top],
                batch["attention_mask"][top],
            )
        )

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._start(trainer, pl_module, "val")

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._start(trainer, pl_module, "test")

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx: int = 0
    ) -> None:
        self._collect(outputs, batch)

    def on_test_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx: int = 0
    ) -> None:
        self._collect(outputs, batch)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._draw(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._draw(trainer, pl_module, "test")

    # ---- drawing ----
    def _draw(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if not self.active:
            return
        self.active = False
        cm = self.confusion.compute().cpu().numpy()  # synced across processes (all ranks call)
        curve = self.pr.compute() if self.pr is not None else None
        if self.writer is None:
            return
        names = list(pl_module.hparams.label_names or map(str, range(len(cm))))
        step, w = log_step(trainer), self.writer
        w.add_image(
            f"{stage}/confusion_matrix",
            render(confusion_figure(cm, names)),
            step,
            dataformats="HWC",
        )
        table = per_class_table(cm)
        w.add_image(
            f"{stage}/per_class", render(per_class_figure(table, names)), step, dataformats="HWC"
        )
        for key in ("precision", "recall", "f1"):
            for name, value in zip(names, table[key], strict=True):
                w.add_scalar(f"{stage}_per_class/{key}/{name}", float(value), step)
        if curve is not None:
            precision, recall, _ = (t.cpu().numpy() for t in curve)
            w.add_image(
                f"{stage}/pr_curve",
                render(pr_figure(precision, recall, names[1])),
                step,
                dataformats="HWC",
            )
        w.add_text(
            f"{stage}/confident_mistakes", self._mistakes_markdown(trainer, pl_module, names), step
        )
        w.flush()

    def _mistakes_markdown(
        self, trainer: L.Trainer, pl_module: L.LightningModule, names: list[str]
    ) -> str:
        rows = []
        for conf, pred, label, ids, mask in self.mistakes:
            for i in range(len(conf)):
                if conf[i] >= 0:
                    rows.append(
                        (
                            float(conf[i]),
                            int(pred[i]),
                            int(label[i]),
                            ids[i][mask[i].bool()].tolist(),
                        )
                    )
        rows.sort(key=lambda r: -r[0])
        if not rows:
            return "No mistakes (on this process's share of the data)."
        tokenizer = self._tokenizer(trainer, pl_module)
        lines = ["| confidence | predicted | true | text |", "|---:|---|---|---|"]
        for conf, pred, label, ids in rows[: self.max_mistakes]:
            text = tokenizer.decode(ids, skip_special_tokens=True).replace("|", "\\|")
            lines.append(f"| {conf:.3f} | {names[pred]} | {names[label]} | {text} |")
        return "\n".join(lines)

    def _tokenizer(self, trainer: L.Trainer, pl_module: L.LightningModule):
        if self.tokenizer is None:
            from transformers import AutoTokenizer

            from bertlab.model.pretrained import resolve_pretrained

            name = (
                getattr(trainer.datamodule, "tokenizer_name", None) or pl_module.hparams.pretrained
            )
            self.tokenizer = AutoTokenizer.from_pretrained(str(resolve_pretrained(name)))
        return self.tokenizer
