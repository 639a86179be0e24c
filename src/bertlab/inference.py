"""A finished run, loaded back for prediction, evaluation and export.

`Predictor.from_run(run_dir)` (or `bertlab.load(run_dir)`) rebuilds the model from the run's
composed config and a checkpoint, and tokenizes new texts exactly as training did: the
run's tokenizer, max_length and text-pair setting, length-sorted batches, dynamic padding.
The corpus is not needed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset

from bertlab.data.chunks import eval_batching, split_view
from bertlab.data.tokenize import TokenizedCorpus, tokenize
from bertlab.data.truncation import Truncation
from bertlab.errors import DataError, ModelError
from bertlab.model.module import TextClassifier
from bertlab.model.pooling import pool_documents
from bertlab.model.pretrained import resolve_pretrained
from bertlab.utils.checkpoint_io import load_checkpoint_file
from bertlab.utils.instantiate import instantiate_trusted

log = logging.getLogger(__name__)


def find_run_dir(path: str | Path) -> Path:
    """The run dir of `path`: the dir itself, or the run holding a checkpoint file."""
    path = Path(path).expanduser().resolve()
    for candidate in (path, *path.parents):
        has_config = (candidate / "config.yaml").is_file() or (
            candidate / ".hydra" / "config.yaml"
        ).is_file()
        if has_config and (candidate / "label_map.json").is_file():
            return candidate
    raise ModelError(
        f"{path} is not inside a bertlab run dir (a folder with config.yaml or .hydra/config.yaml "
        "and label_map.json, as train.py writes under outputs/). Pass the run dir or one of its "
        "checkpoints."
    )


def run_config(run_dir: Path) -> DictConfig:
    """The run's composed config, resolvable outside Hydra (paths.output_dir = run_dir)."""
    if (run_dir / "config.yaml").is_file():  # already resolved (print_config=true)
        cfg = OmegaConf.load(run_dir / "config.yaml")
    else:  # `${hydra:x}` reads the run's own .hydra/hydra.yaml, as it did in the run
        text = (run_dir / ".hydra" / "config.yaml").read_text().replace("${hydra:", "${hydra.")
        cfg = OmegaConf.create(text)
        if (run_dir / ".hydra" / "hydra.yaml").is_file():
            cfg = OmegaConf.merge(cfg, OmegaConf.load(run_dir / ".hydra" / "hydra.yaml"))
    OmegaConf.update(cfg, "paths.output_dir", str(run_dir), force_add=True)
    return cfg


def find_checkpoint(run_dir: Path, checkpoint: str | Path = "best") -> Path:
    """The run's `best` (named in metrics.json) or `last` checkpoint, or a given .ckpt path.

    `best` is looked up by name in the run dir's own checkpoints/, so a copied or moved run
    dir loads its own file, never the original's.
    """
    ckpt_dir = run_dir / "checkpoints"
    if str(checkpoint) == "last":
        path = ckpt_dir / "last.ckpt"
    elif str(checkpoint) == "best":
        metrics = run_dir / "metrics.json"
        best = json.loads(metrics.read_text()).get("best_checkpoint") if metrics.is_file() else None
        if not best:
            raise ModelError(
                f"{run_dir} records no best checkpoint (metrics.json is missing or has none: did "
                "the run finish?). Use --checkpoint last or a path to a .ckpt file."
            )
        path = ckpt_dir / Path(best).name
    else:
        path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise ModelError(f"Checkpoint {path} does not exist; use best, last or a .ckpt path.")
    return path


def load_model(run_dir: Path, cfg: DictConfig, checkpoint: Path) -> TextClassifier:
    """Instantiate the run's model class from its config and load the checkpoint's weights."""
    from transformers.utils import logging as hf_logging

    label_map = json.loads((run_dir / "label_map.json").read_text())
    names = [label_map["id2label"][k] for k in sorted(label_map["id2label"], key=int)]
    problem_type = label_map["problem_type"]
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # "classifier newly initialised": it is, until loaded
    hf_logging.disable_progress_bar()
    try:
        model = instantiate_trusted(
            cfg.model,
            origin=str(run_dir / "config.yaml"),
            _convert_="partial",
            num_labels=1 if problem_type == "regression" else len(names),
            problem_type=problem_type,
            label_names=names or None,
            compile=False,
        )
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    state = load_checkpoint_file(checkpoint)
    prefix = "network."  # forward_fn.* aliases the same tensors (or a compiled wrapper's)
    weights = {k[len(prefix) :]: v for k, v in state["state_dict"].items() if k.startswith(prefix)}
    model.network.load_state_dict(weights)
    if getattr(model, "class_weights", None) is not None and "class_weights" in state["state_dict"]:
        model.class_weights.copy_(state["state_dict"]["class_weights"])  # the loss as trained
    log.info("Loaded %s (epoch %s) into %s", checkpoint, state.get("epoch"), type(model).__name__)
    return model.eval()


class Predictor:
    """A trained classifier with its tokenizer: texts in, labels and probabilities out.

    Args:
        model: the trained LightningModule (eval mode).
        tokenizer: the run's tokenizer.
        max_length / pad_to_multiple_of / truncation: the run's data settings (chunks: one
            output per text, pooled over its windows).
        uses_pairs: whether the run classified text pairs.
        batch_size: examples per forward pass.
        device: "cuda", "cpu", ...; None picks the GPU when there is one.
    """

    def __init__(
        self,
        model: TextClassifier,
        tokenizer,
        max_length: int = 128,
        pad_to_multiple_of: int | None = 8,
        uses_pairs: bool = False,
        batch_size: int = 128,
        device: str | torch.device | None = None,
        truncation: Truncation | None = None,
    ) -> None:
        self.truncation = truncation or Truncation()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.tokenizer, self.max_length = tokenizer, max_length
        self.pad_to_multiple_of, self.uses_pairs, self.batch_size = (
            pad_to_multiple_of,
            uses_pairs,
            batch_size,
        )
        self.problem_type = model.problem_type
        self.label_names = list(model.hparams.label_names or [])

    @classmethod
    def from_run(
        cls,
        path: str | Path,
        checkpoint: str | Path = "best",
        device: str | torch.device | None = None,
        batch_size: int | None = None,
    ) -> Predictor:
        """Load a run dir (or a checkpoint inside one) for prediction."""
        from transformers import AutoTokenizer

        run_dir = find_run_dir(path)
        if str(path).endswith(".ckpt") and str(checkpoint) == "best":
            checkpoint = path
        cfg = run_config(run_dir)
        model = load_model(run_dir, cfg, find_checkpoint(run_dir, checkpoint))
        tokenizer = AutoTokenizer.from_pretrained(str(resolve_pretrained(cfg.data.tokenizer)))
        data = cfg.data
        uses_pairs = OmegaConf.select(cfg, "data.source.text_pair_column", default=None) is not None
        multiple = data.get("pad_to_multiple_of", 8)  # "auto" (per device) -> 8: safe anywhere
        return cls(
            model,
            tokenizer,
            data.max_length,
            8 if multiple == "auto" else multiple,
            uses_pairs,
            batch_size or data.get("eval_batch_size", 128),
            device,
            Truncation.from_config(data),
        )

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

    def batches(self, data: Dataset) -> Iterator[tuple[list[int], dict]]:
        """(row indices, padded batch on the device), shortest rows first; a chunked text's
        windows share a batch (`bertlab.data.chunks`)."""
        pad = int(self.tokenizer.pad_token_id or 0)
        sampler, collate = eval_batching(data, self.batch_size, pad, self.pad_to_multiple_of)
        for rows in sampler:
            batch = collate([data[i] for i in rows])
            yield rows, {k: self._to_device(v) for k, v in batch.items()}

    def _to_device(self, value: torch.Tensor | str) -> torch.Tensor | str:
        if isinstance(value, torch.Tensor):
            return value.to(self.device, non_blocking=True)
        return value

    # ---- prediction ----
    @torch.inference_mode()
    def logits(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
        """Raw model outputs, shape (n, num_labels), in the order of `texts`."""
        data = self.encode(texts, pairs)
        out = np.zeros((len(data), self.model.hparams.num_labels), np.float32)
        for rows, batch in self.batches(data):
            out[rows] = pool_documents(self.model(batch), batch).float().cpu().numpy()
        return out

    def scores(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities (softmax, or sigmoid per label for multi-label); values for regression."""
        t = torch.from_numpy(logits)
        if self.problem_type == "single_label":
            return torch.softmax(t, -1).numpy()
        return torch.sigmoid(t).numpy() if self.problem_type == "multi_label" else logits

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities, shape (n, num_labels), columns in `label_names` order."""
        return self.scores(self.logits(texts, pairs))

    def predict(
        self, texts: Sequence[str], pairs: Sequence[str] | None = None, threshold: float = 0.5
    ) -> list:
        """Predicted label names (multi-label: a list per text; regression: a float)."""
        return self._decode(self.predict_proba(texts, pairs), threshold)

    def _decode(self, scores: np.ndarray, threshold: float) -> list:
        if self.problem_type == "regression":
            return scores[:, 0].tolist()
        if self.problem_type == "multi_label":
            return [
                [self.label_names[j] for j in np.flatnonzero(row >= threshold)] for row in scores
            ]
        return [self.label_names[i] for i in scores.argmax(-1)]

    def predict_table(
        self,
        texts: Sequence[str],
        pairs: Sequence[str] | None = None,
        threshold: float = 0.5,
        separator: str = ",",
    ) -> pd.DataFrame:
        """One row per text: the predicted label and one `prob_<label>` column per class."""
        scores = self.predict_proba(texts, pairs)
        labels = self._decode(scores, threshold)
        if self.problem_type == "regression":
            return pd.DataFrame({"prediction": labels})
        if self.problem_type == "multi_label":
            labels = [separator.join(row) for row in labels]
        table = pd.DataFrame({"predicted_label": labels})
        for j, name in enumerate(self.label_names):
            table[f"prob_{name}"] = scores[:, j]
        return table
