"""Pictures in TensorBoard at the end of validation and test: a confusion matrix, per-class
precision / recall / F1, precision-recall curves with their average precision (AP), and a text
panel with the most confident mistakes. It reads the logits that `validation_step` /
`test_step` return, so it costs no extra forward pass, and it only reacts to the stages the
Trainer runs. The drawing itself is in `bertlab.callbacks.plots`."""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torchmetrics import Metric
from torchmetrics.functional.classification import (
    binary_average_precision,
    binary_precision_recall_curve,
)
from torchmetrics.utilities import dim_zero_cat

from bertlab.callbacks.plots import confusion_figure, per_class_figure, per_class_table, pr_figure
from bertlab.data.encoding import Encoding
from bertlab.tasks import SingleLabel

__all__ = ["TensorBoardFigures", "average_precisions", "per_class_table", "write_figures"]

log = logging.getLogger(__name__)
SPLITS = {"val": "validation", "test": "test"}


class Scores(Metric):
    """The class probabilities and labels of a stage (kept whole, as the AUROC metric does;
    gathered from all processes at `compute`)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("probs", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, probs: torch.Tensor, labels: torch.Tensor) -> None:
        self.probs.append(probs)
        self.labels.append(labels)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        return dim_zero_cat(self.probs), dim_zero_cat(self.labels)


def average_precisions(probs: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """One-vs-rest average precision per class (exact, step-wise: the mean of the precision at
    each positive's rank); NaN for a class without examples."""
    out = []
    for c in range(probs.shape[1]):
        target = (labels == c).long()
        ap = binary_average_precision(probs[:, c], target) if target.any() else torch.nan
        out.append(float(ap))
    return out


def write_figures(
    writer,
    stage: str,
    probs,
    labels,
    names: list[str],
    step: int,
    when: str = "",
    pr_thresholds: int = 127,
) -> None:
    """Log a stage's pictures and scores with a `SummaryWriter`, all at `step`.

    IMAGES `<stage>/confusion_matrix`, `<stage>/per_class`, `<stage>/pr_curve`; PR CURVES
    `<stage>/pr/<class>` (binary: the positive class only); scalars `<stage>/ap` (binary: the
    positive class; else the macro mean) and `<stage>_per_class/{precision,recall,f1,ap}/<class>`.
    """
    probs, labels = torch.as_tensor(probs).float().cpu(), torch.as_tensor(labels).long().cpu()
    n = len(names)
    cm = np.bincount(labels.numpy() * n + probs.argmax(-1).numpy(), minlength=n * n)
    cm = cm.reshape(n, n)
    split = SPLITS.get(stage, stage)
    title = f"{split} · {when}" if when else split
    writer.add_figure(f"{stage}/confusion_matrix", confusion_figure(cm, names, title), step)
    table = per_class_table(cm)
    writer.add_figure(f"{stage}/per_class", per_class_figure(table, names, title), step)
    aps = average_precisions(probs, labels)
    table["ap"] = np.array(aps)
    for key in ("precision", "recall", "f1", "ap"):
        for name, value in zip(names, table[key], strict=True):
            if np.isfinite(value):
                writer.add_scalar(f"{stage}_per_class/{key}/{name}", float(value), step)
    shown = [1] if n == 2 else range(n)
    curves = []
    for c in shown:
        target = (labels == c).long()
        writer.add_pr_curve(
            f"{stage}/pr/{names[c]}",
            target,
            probs[:, c],
            step,
            num_thresholds=min(pr_thresholds, 127),
        )
        if target.any():
            precision, recall, _ = binary_precision_recall_curve(probs[:, c], target)
            curves.append((names[c], precision.numpy(), recall.numpy(), aps[c]))
    ap = aps[1] if n == 2 else float(np.nanmean(aps)) if np.isfinite(aps).any() else np.nan
    if np.isfinite(ap):
        writer.add_scalar(f"{stage}/ap", ap, step)
    if curves:
        prevalence = float((labels == 1).float().mean()) if n == 2 else None
        writer.add_figure(f"{stage}/pr_curve", pr_figure(curves, title, prevalence), step)


class TensorBoardFigures(L.Callback):
    """Log evaluation pictures to the TensorBoard logger (single-label tasks).

    Args:
        every_n_epochs: draw validation pictures every n-th epoch (test: always).
        max_mistakes: rows in the most-confident-mistakes panel.
        pr_thresholds: thresholds of each curve in TensorBoard's PR CURVES tab (at most 127,
            torch's limit; the figure and the AP are exact).
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
        self.single = isinstance(getattr(pl_module, "task", None), SingleLabel)
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
        self.scores = Scores().to(pl_module.device)
        self.mistakes: list[tuple[torch.Tensor, ...]] = []

    def _collect(self, outputs, batch: dict[str, torch.Tensor]) -> None:
        if not self.active or not isinstance(outputs, dict) or "logits" not in outputs:
            return
        probs = torch.softmax(outputs["logits"].float(), -1)
        labels = batch["labels"]
        conf, pred = probs.max(-1)
        self.scores.update(probs, labels)
        wrong_conf = torch.where(pred != labels, conf, torch.full_like(conf, -1.0))
        top = wrong_conf.topk(min(self.max_mistakes, len(conf))).indices  # stays on the device
        ids, mask, windows = first_windows(batch, len(labels))
        self.mistakes.append(
            (wrong_conf[top], pred[top], labels[top], ids[top], mask[top], windows[top])
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
        if self.scores.update_count == 0:
            return
        probs, labels = self.scores.compute()  # gathered across processes (all ranks call)
        self.scores.reset()
        if self.writer is None:
            return
        names = list(pl_module.hparams.label_names or map(str, range(probs.shape[1])))
        step = trainer.current_epoch  # as bertlab's logger plots val/test scalars
        when = f"epoch {step}"
        write_figures(self.writer, stage, probs, labels, names, step, when, self.pr_thresholds)
        self.writer.add_text(
            f"{stage}/confident_mistakes", self._mistakes_markdown(trainer, pl_module, names), step
        )
        self.writer.flush()

    def _mistakes_markdown(
        self, trainer: L.Trainer, pl_module: L.LightningModule, names: list[str]
    ) -> str:
        rows = []
        for conf, pred, label, ids, mask, windows in self.mistakes:
            for i in range(len(conf)):
                if conf[i] >= 0:
                    text = ids[i][mask[i].bool()].tolist()
                    rows.append(
                        (float(conf[i]), int(pred[i]), int(label[i]), text, int(windows[i]))
                    )
        rows.sort(key=lambda r: -r[0])
        if not rows:
            return "No mistakes (on this process's share of the data)."
        tokenizer = self._tokenizer(trainer, pl_module)
        lines = ["| confidence | predicted | true | text |", "|---:|---|---|---|"]
        for conf, pred, label, ids, windows in rows[: self.max_mistakes]:
            text = tokenizer.decode(ids, skip_special_tokens=True).replace("|", "\\|")
            text += f" … (first of {windows} windows)" if windows > 1 else ""
            lines.append(f"| {conf:.3f} | {names[pred]} | {names[label]} | {text} |")
        return "\n".join(lines)

    def _tokenizer(self, trainer: L.Trainer, pl_module: L.LightningModule):
        """The tokenizer the batches were encoded with: the DataModule's `encoding`
        (`data.tokenizer`); without a DataModule that has one, the model's."""
        if self.tokenizer is None:
            encoding = getattr(trainer.datamodule, "encoding", None)
            if not isinstance(encoding, Encoding):
                encoding = Encoding(tokenizer=str(pl_module.hparams.pretrained))
            self.tokenizer = encoding.load_tokenizer()
        return self.tokenizer


def first_windows(
    batch: dict[str, torch.Tensor], num_texts: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """input_ids and attention_mask of each text's first row, and its number of rows.

    A batch of chunked documents (``doc_index``: the document of each window, in order) has
    several rows per text and one label per text; other batches have one row per text.
    """
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if "doc_index" not in batch:
        return ids, mask, torch.ones(num_texts, dtype=torch.long, device=ids.device)
    doc = batch["doc_index"].to(ids.device)
    windows = torch.bincount(doc, minlength=num_texts)
    first = torch.cumsum(windows, 0) - windows
    return ids[first], mask[first], windows
