"""The DataModule: load → clean → tokenize (cached, once) → split → batches."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from bertlab.data.batching import BucketBatchSampler, PadCollator
from bertlab.data.chunks import WindowSplit, eval_batching, split_view
from bertlab.data.corpus import CorpusRecipe
from bertlab.data.encoding import Encoding, auto_padding
from bertlab.data.folds import check_fold, fold_split
from bertlab.data.resumable import ResumableBatchSampler, train_position
from bertlab.data.sources import Source
from bertlab.data.split import SPLITS, check_ratios, manifest, split_indices
from bertlab.data.tokenize import TokenizedCorpus
from bertlab.data.truncation import Truncation
from bertlab.errors import DataError
from bertlab.tasks import Task, get_task

log = logging.getLogger(__name__)


def auto_loader_settings(device_type: str, max_length: int) -> dict:
    """What the "auto" data settings mean on a device ("cuda", "cpu", ...). On a GPU: pad each
    batch to one of <= 16 length buckets up to `max_length` (a bounded set of shapes for
    compile, cuDNN attention plans and CUDA graphs), 2 loader workers, pinned memory. On a
    CPU none of it: pad tokens are only extra work, and workers compete for the cores."""
    gpu = device_type == "cuda"
    return {
        "pad_to_multiple_of": auto_padding(device_type, max_length),
        "num_workers": 2 if gpu else 0,
        "pin_memory": gpu,
    }


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
        task: the problem type (`bertlab.tasks`): single_label, multi_label, regression, a
            Task class path, a `{_target_: <Task class>, <arguments>}` node (the `task` config
            group) or a Task; built once here, it encodes the labels and is handed to the model.
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
        task: str | Mapping | Task = "single_label",
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
        self.task = get_task(task)  # built once here; the pipeline hands it to the model
        task = self.task.spec()  # plain values only: hparams travel in checkpoints
        split = check_ratios(split or {"train": 0.8, "validation": 0.1, "test": 0.1})
        split_seed = seed if split_seed is None else split_seed
        fold = None if fold is None else tuple(check_fold(fold))
        fold_seed = split_seed if fold_seed is None else fold_seed
        self.save_hyperparameters(ignore=["source"], logger=False)
        self.source = source
        self.truncation = Truncation(truncation, head_tokens, chunk_stride, chunk_pooling)
        self.encoding = Encoding(  # text -> batches, as predict/evaluate/export redo it
            tokenizer,
            max_length,
            self.truncation,
            getattr(source, "text_pair_column", None) is not None,
            pad_to_multiple_of,
            eval_batch_size,
        )
        self.encoding.check()
        self.recipe = CorpusRecipe(
            source,
            tokenizer,
            max_length,
            self.truncation,
            self.task,
            label_separator,
            max_drop_fraction,
            Path(cache_dir),
        )
        self.corpus: TokenizedCorpus | None = None  # set by setup()
        self.indices: dict[str, np.ndarray] | None = None
        self._resume_at: tuple[int, int] | None = None  # (epoch, batches done) from a checkpoint

    # ---- prepare: once per machine (Lightning calls it on local rank 0); no state ----
    def prepare_data(self) -> None:
        """Make sure the tokenized corpus is in the cache (clean and tokenize on a miss).
        Nothing to do when a corpus was handed over (`dm.corpus = ...`, e.g. the bench's
        synthetic token ids): the configured source is then never read."""
        if self.corpus is None:
            self.recipe.ensure()

    @property
    def cache_path(self) -> Path:
        """The cache entry of this data config's corpus."""
        return self.recipe.cache_path()

    # ---- setup: every process ----
    def setup(self, stage: str | None = None) -> None:
        """Load the cached corpus (built here if prepare_data did not run) and split it."""
        hp = self.hparams
        if self.corpus is None:
            self.corpus = self.recipe.load()
        if self.indices is None:
            strata = self.task.strata(self.corpus.labels)
            provided = self.corpus.split
            self.indices = split_indices(
                len(self.corpus), hp.split, hp.split_seed, strata, provided, self.label_names
            )
            if hp.fold is not None:
                self.indices = fold_split(self.indices, hp.fold, hp.fold_seed, strata)
                log.info("Fold %d of %d (seed %d)", hp.fold[0], hp.fold[1], hp.fold_seed)
            sizes = ", ".join(f"{k} {len(v)}" for k, v in self.indices.items())
            log.info("Split (seed %d): %s", hp.split_seed, sizes)
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
        return self.task.num_labels(self.label_names)

    @property
    def _meta(self) -> dict:
        if self.corpus is None:
            raise RuntimeError("Call setup() before asking for labels.")
        return self.corpus.meta

    def split_manifest(self) -> dict:
        """Sizes, per-label counts and id hashes of each split (byte-stable JSON content)."""
        self.setup()
        counts = {}
        for name, rows in self.indices.items():
            c = self.task.label_counts(self.corpus.labels[rows], self.label_names)
            counts[name] = {k: int(v) for k, v in sorted(c.items())}
        extra = {
            "seed": self.hparams.split_seed,
            "ratios": dict(self.hparams.split),
            "cache_key": self.cache_path.name,
            "cleaning": self._meta["clean"],
        }
        ids, labels = self.corpus.example_ids.astype(str), self.corpus.labels
        return manifest(self.indices, ids, counts, extra, labels)

    def train_label_counts(self) -> dict[str, int]:
        """Per-label counts of what the loss sees: the train split's rows, or with
        data.truncation=chunks its windows (a long document counts once per window), so
        `model.loss.class_weights=balanced` balances the loss, not the documents."""
        self.setup()
        rows = self.indices["train"]
        data = self.dataset("train", train=True)
        if isinstance(data, WindowSplit):
            rows = rows[data.doc]
        c = self.task.label_counts(self.corpus.labels[rows], self.label_names)
        return {k: int(v) for k, v in sorted(c.items())}

    # ---- loaders ----
    def dataset(self, split: str, train: bool = False) -> Dataset:
        """A split's rows as evaluated (one item per document), or as trained on (`train`:
        the windows of data.truncation=chunks; the same rows otherwise)."""
        self.setup()
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split}")
        rows = self.indices[split]
        return split_view(self.corpus, rows, self.hparams.max_length, self.truncation, train)

    def _loader(self, split: str, train: bool) -> DataLoader:
        data = self.dataset(split, train)
        world, rank = 1, 0
        if self.trainer is not None:
            world, rank = self.trainer.world_size, self.trainer.global_rank
        kwargs = self._loader_settings()
        hp = self.hparams
        if not train:
            sampler, kwargs["collate_fn"] = eval_batching(
                data,
                hp.eval_batch_size,
                self._meta["pad_token_id"],
                kwargs["collate_fn"].multiple,
                world,
                rank,
                hp.bucket,
            )
            return DataLoader(data, batch_sampler=sampler, **kwargs)
        sampler = BucketBatchSampler(
            data.lengths,
            hp.batch_size,
            shuffle=True,
            bucket=hp.bucket,
            pool_batches=hp.pool_batches,
            seed=hp.seed,
            num_replicas=world,
            rank=rank,
        )
        # resumable mid-epoch (bertlab.train.resume); sets the sampler's epoch each epoch
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
        device = "cpu" if self.trainer is None else self.trainer.strategy.root_device.type
        auto = auto_loader_settings(device, self.hparams.max_length)
        mult = self.encoding.padding(device)
        workers, pin = (
            auto[k] if self.hparams[k] == "auto" else self.hparams[k]
            for k in ("num_workers", "pin_memory")
        )
        return dict(
            # its own generator: each iter() of a loader draws a seed from it, never from the
            # global torch RNG (dropout's), so a validation pass or a new epoch's iterator
            # leaves dropout's stream alone and a resume from an epoch's end is exact
            generator=torch.Generator().manual_seed(int(self.hparams.seed)),
            collate_fn=PadCollator(self._meta["pad_token_id"], mult),
            num_workers=int(workers),
            pin_memory=bool(pin),
            persistent_workers=self.hparams.persistent_workers and int(workers) > 0,
        )

    def eval_dataloader(self, split: str) -> DataLoader:
        """Any split batched as evaluation reads it (one item per document, no shuffling)."""
        return self._loader(split, train=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", train=False)

    def test_dataloader(self) -> DataLoader:
        log.info("Building the test dataloader: the test split is being opened")
        return self._loader("test", train=False)
