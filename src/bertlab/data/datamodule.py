"""The DataModule: load → clean → tokenize (cached, once) → split → batches."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from bertlab.data import clean as cleaning
from bertlab.data import labels as labeling
from bertlab.data.batching import BucketBatchSampler, PadCollator
from bertlab.data.chunks import eval_batching, split_view
from bertlab.data.folds import check_fold, fold_split
from bertlab.data.sources import Source
from bertlab.data.split import SPLITS, check_ratios, manifest, split_indices
from bertlab.data.tokenize import (
    CACHE_FORMAT,
    TokenizedCorpus,
    cache_key,
    load_or_build,
    tokenize,
    tokenizer_fingerprint,
)
from bertlab.data.truncation import Truncation
from bertlab.errors import DataError
from bertlab.model.pretrained import resolve_pretrained
from bertlab.resume import ResumableBatchSampler, train_position

log = logging.getLogger(__name__)


class TextClassificationDataModule(L.LightningDataModule):
    """Turns a labelled corpus into tokenized, batched train / validation / test splits.

    Args:
        source: where the corpus comes from (see `bertlab.data.sources`).
        tokenizer: "default", a checkpoint directory or a hub name; usually the model's.
        max_length: the longest token sequence the model reads.
        truncation: what to keep of longer texts: head, tail, head_tail or chunks (see
            `bertlab.data.truncation`); head_tokens / chunk_stride / chunk_pooling are its
            parameters. chunks trains on windows and evaluates per document
            (`bertlab.data.chunks`).
        batch_size: training batch size; eval_batch_size: evaluation batch size.
        split: fractions {train, validation, test}, used for splits the source lacks.
        seed: shuffling seed (and split seed unless `split_seed` is set).
        split_seed: seed of the train/validation/test split; pin it to vary only the training
            seed over one fixed split (final evaluation of a sweep).
        fold: ``(i, k)`` for k-fold cross-validation: validation is fold i of the pooled
            train+validation rows, train the other folds; the test rows stay as they are.
        fold_seed: seed of the fold assignment (default: the split seed).
        problem_type: single_label, multi_label or regression.
        label_separator: separator of multi-label string labels ("a,b").
        max_drop_fraction: refuse the corpus if more rows than this are unusable.
        bucket: length-bucketed shuffling for training (True is faster: less padding).
        pad_to_multiple_of: pad each batch's length up to a multiple of this; "auto": 8 on a
            CUDA device (tensor cores), none on CPU (padding there only adds work).
        num_workers / pin_memory / persistent_workers: DataLoader settings; "auto" workers:
            2 on a CUDA device, 0 on CPU; "auto" pin_memory: on a CUDA device.
        cache_dir: where tokenized corpora are cached.
    """

    def __init__(
        self,
        source: Source,
        tokenizer: str = "default",
        max_length: int = 128,
        batch_size: int = 32,
        eval_batch_size: int = 128,
        split: Mapping[str, float] | None = None,
        seed: int = 42,
        split_seed: int | None = None,
        fold: tuple[int, int] | None = None,
        fold_seed: int | None = None,
        problem_type: str = "single_label",
        label_separator: str | None = None,
        max_drop_fraction: float = 0.05,
        bucket: bool = True,
        pool_batches: int = 50,
        pad_to_multiple_of: int | str | None = "auto",
        num_workers: int | str = "auto",
        pin_memory: bool | str = "auto",
        persistent_workers: bool = True,
        cache_dir: str = ".cache/bertlab",
        truncation: str = "head",
        head_tokens: int = 128,
        chunk_stride: int = 64,
        chunk_pooling: str = "mean",
    ) -> None:
        super().__init__()
        labeling.check_problem_type(problem_type)
        self.truncation = Truncation(truncation, head_tokens, chunk_stride, chunk_pooling)
        self.truncation.check(max_length)
        self.source, self.tokenizer_name, self.max_length = source, tokenizer, max_length
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.ratios = check_ratios(split or {"train": 0.8, "validation": 0.1, "test": 0.1})
        self.split_seed = seed if split_seed is None else split_seed
        self.fold = None if fold is None else check_fold(fold)
        self.fold_seed = self.split_seed if fold_seed is None else fold_seed
        self.seed, self.problem_type, self.label_separator = seed, problem_type, label_separator
        self.max_drop_fraction, self.bucket, self.pool_batches = (
            max_drop_fraction,
            bucket,
            pool_batches,
        )
        self.pad_to_multiple_of, self.num_workers = pad_to_multiple_of, num_workers
        self.pin_memory, self.persistent_workers = pin_memory, persistent_workers
        self.cache_dir = Path(cache_dir)
        self.corpus: TokenizedCorpus | None = None
        self.indices: dict[str, np.ndarray] | None = None
        self.cache_path: Path | None = None
        self._resume_at: tuple[int, int] | None = None  # (epoch, batches done) from a checkpoint

    # ---- prepare: once per machine (Lightning calls it on local rank 0) ----
    def prepare_data(self) -> None:
        """Load the tokenized corpus from the cache (verified), or clean and tokenize it into it."""
        if self.corpus is not None:
            return
        tokenizer_dir = resolve_pretrained(self.tokenizer_name)
        parts = {
            "format": CACHE_FORMAT,
            "cleaning": cleaning.RULES_VERSION,
            "data": self.source.fingerprint(),
            "tokenizer": tokenizer_fingerprint(tokenizer_dir),
            "max_length": self.max_length,
            "truncation": self.truncation.key_parts(),
            "fields": ["text", "text_pair"],
            "problem_type": self.problem_type,
            "label_separator": self.label_separator,
            "max_drop_fraction": self.max_drop_fraction,
        }
        self.cache_path = self.cache_dir / cache_key(parts)
        self.corpus = load_or_build(
            self.cache_path,
            lambda: self._build(tokenizer_dir, parts),
            tokenizer_dir,
        )

    def _build(self, tokenizer_dir: Path, key_parts: dict) -> TokenizedCorpus:
        from transformers import AutoTokenizer

        start = time.perf_counter()
        table, report = cleaning.clean(self.source.load(), self.max_drop_fraction)
        provided = table["split"].to_numpy(str) if "split" in table else np.full(len(table), "")
        train_rows = provided != "test"
        train_rows &= provided != "validation"
        names = labeling.label_names(
            table["label"][train_rows], self.problem_type, self.label_separator
        )
        self._check_unseen_labels(table, provided, names)
        labels = labeling.encode(table["label"], names, self.problem_type, self.label_separator)
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        pairs = table["text_pair"].astype(str).tolist() if "text_pair" in table else None
        ids, offsets, types = tokenize(
            tok,
            table["text"].astype(str).tolist(),
            pairs,
            self.max_length,
            truncation=self.truncation,
        )
        meta = {
            "label_names": names,
            "problem_type": self.problem_type,
            "pad_token_id": int(tok.pad_token_id or 0),
            "clean": report.as_dict(),
            "key_parts": key_parts,
        }
        log.info(
            "Tokenized %d rows (%d tokens) in %.1f s",
            len(table),
            offsets[-1],
            time.perf_counter() - start,
        )
        ids_col = cleaning.example_ids(table).to_numpy().astype("S16")
        return TokenizedCorpus(ids, offsets, types, labels, provided.astype("U10"), ids_col, meta)

    def _check_unseen_labels(self, table, provided: np.ndarray, names: list[str]) -> None:
        if self.problem_type == "regression":
            return
        known = set(names)
        for split in ("validation", "test"):
            rows = table["label"][provided == split]
            seen = set(labeling.label_names(rows, self.problem_type, self.label_separator))
            if unseen := sorted(seen - known):
                raise DataError(
                    f"The provided {split} split has label(s) {unseen} that the train split never "
                    f"has (train labels: {sorted(known)}). Fix the labels, or add training "
                    "examples of those classes."
                )

    # ---- setup: every process ----
    def setup(self, stage: str | None = None) -> None:
        """Load the cached corpus (if prepare_data ran elsewhere) and compute the split."""
        if self.corpus is None:
            self.prepare_data()
        if self.indices is None:
            strata = self.corpus.labels if self.problem_type == "single_label" else None
            provided = self.corpus.split
            self.indices = split_indices(
                len(self.corpus), self.ratios, self.split_seed, strata, provided, self.label_names
            )
            if self.fold is not None:
                self.indices = fold_split(self.indices, self.fold, self.fold_seed, strata)
                log.info("Fold %d of %d (seed %d)", self.fold[0], self.fold[1], self.fold_seed)
            sizes = ", ".join(f"{k} {len(v)}" for k, v in self.indices.items())
            log.info("Split (seed %d): %s", self.split_seed, sizes)
            if len(self.indices["validation"]) == 0:
                raise DataError(
                    f"The validation split is empty ({sizes}): model selection scores on it. "
                    "Raise data.split.validation, or provide validation examples."
                )

    @property
    def label_names(self) -> list[str]:
        return list(self._meta["label_names"])

    @property
    def num_labels(self) -> int:
        return 1 if self.problem_type == "regression" else len(self.label_names)

    @property
    def _meta(self) -> dict:
        if self.corpus is None:
            raise RuntimeError("Call prepare_data() before asking for labels.")
        return self.corpus.meta

    def split_manifest(self) -> dict:
        """Sizes, per-label counts and id hashes of each split (byte-stable JSON content)."""
        self.setup()
        counts = {}
        for name, rows in self.indices.items():
            labels = self.corpus.labels[rows]
            if self.problem_type == "single_label":
                c = Counter(self.label_names[i] for i in labels.tolist())
            elif self.problem_type == "multi_label":
                c = (
                    dict(zip(self.label_names, labels.sum(0).astype(int).tolist(), strict=True))
                    if len(rows)
                    else {}
                )
            else:
                c = {}
            counts[name] = {k: int(v) for k, v in sorted(c.items())}
        extra = {
            "seed": self.split_seed,
            "ratios": self.ratios,
            "cache_key": self.cache_path.name,
            "cleaning": self._meta["clean"],
        }
        return manifest(self.indices, self.corpus.example_ids.astype(str), counts, extra)

    # ---- loaders ----
    def dataset(self, split: str, train: bool = False) -> Dataset:
        """A split's rows as evaluated (one item per document), or as trained on (`train`:
        the windows of data.truncation=chunks; the same rows otherwise)."""
        self.setup()
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split}")
        rows = self.indices[split]
        return split_view(self.corpus, rows, self.max_length, self.truncation, train)

    def _loader(self, split: str, train: bool) -> DataLoader:
        data = self.dataset(split, train)
        world, rank = 1, 0
        if self.trainer is not None:
            world, rank = self.trainer.world_size, self.trainer.global_rank
        kwargs = self._loader_settings()
        if not train:
            sampler, kwargs["collate_fn"] = eval_batching(
                data,
                self.eval_batch_size,
                self._meta["pad_token_id"],
                kwargs["collate_fn"].multiple,
                world,
                rank,
                self.bucket,
            )
            return DataLoader(data, batch_sampler=sampler, **kwargs)
        sampler = BucketBatchSampler(
            data.lengths,
            self.batch_size,
            shuffle=True,
            bucket=self.bucket,
            pool_batches=self.pool_batches,
            seed=self.seed,
            num_replicas=world,
            rank=rank,
        )
        # resumable mid-epoch (bertlab.resume); sets the sampler's epoch each epoch
        sampler, self._resume_at = ResumableBatchSampler(sampler, self._resume_at), None
        return DataLoader(data, batch_sampler=sampler, **kwargs)

    # ---- checkpoint state: where training stands, so a resume continues mid-epoch ----
    def state_dict(self) -> dict[str, int]:
        return train_position(self.trainer) if self.trainer is not None else {}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if state_dict:  # restored before the training loader is built
            self._resume_at = (state_dict["epoch"], state_dict["batches_done"])

    def _loader_settings(self) -> dict:
        """Collator and DataLoader settings, with "auto" resolved for the trainer's device."""
        gpu = self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"
        auto = {
            "pad_to_multiple_of": 8 if gpu else None,
            "num_workers": 2 if gpu else 0,
            "pin_memory": gpu,
        }
        mult, workers, pin = (
            auto[k] if getattr(self, k) == "auto" else getattr(self, k)
            for k in ("pad_to_multiple_of", "num_workers", "pin_memory")
        )
        return dict(
            collate_fn=PadCollator(self._meta["pad_token_id"], mult),
            num_workers=int(workers),
            pin_memory=bool(pin),
            persistent_workers=self.persistent_workers and int(workers) > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", train=False)

    def test_dataloader(self) -> DataLoader:
        log.info("Building the test dataloader: the test split is being opened")
        return self._loader("test", train=False)
