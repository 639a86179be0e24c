"""A trained run as a classifier: texts in, labels and probabilities out.

`Predictor.from_run(run_dir)` (or `bertlab.load(run_dir)`) loads the run's model
(`tools.loading.load_model`) and encodes texts exactly as training did, with the run's
`Encoding` (`bertlab.data.encoding`: its tokenizer, verified against the recorded sha256,
max_length, truncation and text-pair setting, padding), in length-sorted batches. The
forward pass is `TextClassifier.predict_step` under a Lightning Trainer at the run's precision,
the same step and precision the test phase used. The corpus is not needed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset, Sampler

from bertlab.data.batching import PadSpec
from bertlab.data.chunks import eval_batching, split_view
from bertlab.data.encoding import Encoding
from bertlab.data.tokenize import TokenizedCorpus, tokenize
from bertlab.data.truncation import Truncation
from bertlab.errors import DataError
from bertlab.model.module import TextClassifier
from bertlab.tools.loading import find_run_dir, load_model, run_checkpoint, run_config, run_encoding

log = logging.getLogger(__name__)


class Predictor:
    """A trained classifier with its tokenizer and the run's encoding.

    Args:
        model: the trained LightningModule.
        tokenizer: the run's tokenizer.
        encoding: the run's text → batch settings (max_length, truncation, text pairs,
            padding; chunks: one output per text, pooled over its windows).
        batch_size: examples per forward pass (default: the encoding's eval_batch_size).
        device: "cuda", "cpu", ...; None picks the GPU when there is one.
        precision: a Lightning precision ("32-true", "bf16-mixed"); the run's by default.
        checkpoint: the checkpoint file the weights came from (for records).
    """

    def __init__(
        self,
        model: TextClassifier,
        tokenizer,
        encoding: Encoding | None = None,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        precision: str = "32-true",
        checkpoint: Path | None = None,
    ) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval()
        self.tokenizer, self.encoding = tokenizer, encoding or Encoding()
        self.batch_size = batch_size or self.encoding.eval_batch_size
        self.precision = _usable_precision(precision, self.device.type)
        self.checkpoint = checkpoint
        self.task = model.task
        self.label_names = list(model.hparams.label_names or [])

    @property
    def max_length(self) -> int:
        return self.encoding.max_length

    @property
    def truncation(self) -> Truncation:
        return self.encoding.truncation

    @property
    def uses_pairs(self) -> bool:
        return self.encoding.text_pairs

    @property
    def pad_to_multiple_of(self) -> PadSpec:
        """The run's padding on this device ("auto" resolved)."""
        return self.encoding.padding(self.device.type)

    @classmethod
    def from_run(
        cls,
        path: str | Path,
        checkpoint: str | Path = "best",
        device: str | torch.device | None = None,
        batch_size: int | None = None,
    ) -> Predictor:
        """Load a run dir (or a checkpoint inside it) for prediction.

        Raises:
            DataError: the run's tokenizer files changed since it was trained.
        """
        run_dir = find_run_dir(path)
        if str(path).endswith(".ckpt") and str(checkpoint) == "best":
            checkpoint = Path(path).expanduser().resolve()
        cfg = run_config(run_dir)
        encoding = run_encoding(run_dir, cfg)
        tokenizer = encoding.load_tokenizer(str(run_dir))
        ckpt = run_checkpoint(run_dir, checkpoint)
        model = load_model(run_dir, cfg, ckpt)
        return cls(model, tokenizer, encoding, batch_size, device, run_precision(cfg), ckpt)

    # ---- encoding: the training path, from tokenizer to padded batches ----
    def encode(
        self,
        texts: Sequence[str],
        pairs: Sequence[str] | None = None,
        labels: np.ndarray | None = None,
    ) -> Dataset:
        """Tokenize like training did; `labels` (encoded) are carried along for evaluation."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if self.uses_pairs and pairs is None:
            raise DataError(
                "This model was trained on text pairs: pass pairs (a second text "
                "for each text), e.g. --text-pair-column in the CLI."
            )
        if pairs is not None and len(pairs) != len(texts):
            raise DataError(f"Got {len(texts)} texts but {len(pairs)} text pairs.")
        if not texts:
            raise DataError("No texts to classify.")
        ids, offsets, types = tokenize(
            self.tokenizer,
            [str(t) for t in texts],
            [str(p) for p in pairs] if pairs is not None else None,
            self.max_length,
            truncation=self.truncation,
        )
        n = len(texts)
        corpus = TokenizedCorpus(
            ids,
            offsets,
            types,
            labels if labels is not None else np.zeros(n, np.int64),
            np.full(n, "", "U10"),
            np.full(n, "", "S16"),
            {},
        )
        return split_view(corpus, np.arange(n), self.max_length, self.truncation, train=False)

    def loader(self, data: Dataset) -> tuple[DataLoader, list[list[int]]]:
        """A DataLoader over `data` as evaluation batches it (shortest rows first; a chunked
        text's windows in one batch), and its batches' row indices in order."""
        pad = int(self.tokenizer.pad_token_id or 0)
        sampler, collate = eval_batching(data, self.batch_size, pad, self.pad_to_multiple_of)
        order = [list(rows) for rows in sampler]
        return DataLoader(data, batch_sampler=FixedBatches(order), collate_fn=collate), order

    def trainer(self) -> L.Trainer:
        """A bare Lightning Trainer on this device at this precision (no logs, no checkpoints)."""
        accelerator = "gpu" if self.device.type == "cuda" else self.device.type
        devices = [self.device.index] if self.device.index is not None else 1
        chatter = logging.getLogger("lightning.pytorch.utilities.rank_zero")  # "GPU available…"
        level = chatter.level
        chatter.setLevel(logging.WARNING)
        try:
            return L.Trainer(
                accelerator=accelerator,
                devices=devices,
                precision=self.precision,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
            )
        finally:
            chatter.setLevel(level)

    # ---- prediction ----
    def logits(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
        """Raw model outputs, shape (n, num_labels), in the order of `texts`."""
        data = self.encode(texts, pairs)
        loader, order = self.loader(data)
        batches = self.trainer().predict(self.model, dataloaders=loader)
        out = np.zeros((len(data), self.model.hparams.num_labels), np.float32)
        for rows, logits in zip(order, batches, strict=True):
            out[rows] = logits.cpu().numpy()
        return out

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities, shape (n, num_labels), columns in `label_names` order (values
        for regression)."""
        return self.task.scores(torch.from_numpy(self.logits(texts, pairs))).numpy()

    def predict(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None, threshold: float = 0.5
    ) -> list:
        """Predicted label names (multi-label: a list per text; regression: a float)."""
        return self.task.decode(self.predict_proba(texts, pairs), self.label_names, threshold)

    def predict_table(
        self,
        texts: Sequence[str],
        pairs: Sequence[str] | None = None,
        threshold: float = 0.5,
        separator: str = ",",
    ) -> pd.DataFrame:
        """One row per text: the prediction and one `prob_<label>` column per class."""
        scores = self.predict_proba(texts, pairs)
        return self.task.table(scores, self.label_names, threshold, separator)


class FixedBatches(Sampler[list[int]]):
    """Batches of row indices given up front, in their order (so outputs can be put back)."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def run_precision(cfg: DictConfig) -> str:
    """The precision the run trained and tested at."""
    return str(OmegaConf.select(cfg, "trainer.precision", default="32-true"))


def _usable_precision(precision: str, device_type: str) -> str:
    """`precision`, except fp16 autocast (GPU only) on a CPU: fp32 there, logged."""
    if device_type == "cpu" and precision.startswith("16"):
        log.info("The run used %s, which needs a GPU: evaluating in 32-true", precision)
        return "32-true"
    return precision
