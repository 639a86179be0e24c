"""Evaluate a trained run on one of its splits or on a new labelled file.

    python -m bertlab.evaluate RUN_DIR                      # the test split, best checkpoint
    python -m bertlab.evaluate RUN_DIR --split validation --checkpoint last
    python -m bertlab.evaluate RUN_DIR --file new.csv --label-column sentiment

The split runs through Lightning's test (validation: validate) loop with the run's model
step, precision, batching and padding, so `evaluate RUN` reproduces the test numbers of the
run's metrics.json. Prints the metrics (`test/…`, `val/…`, `train/…` or `<file name>/…`) and
saves them as JSON to RUN_DIR/eval/<split or file name>[-<checkpoint>].json (or --out).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader

from bertlab.data import clean as cleaning
from bertlab.data.datamodule import TextClassificationDataModule
from bertlab.data.split import split_name
from bertlab.errors import DataError, RunDirError
from bertlab.tasks.base import check_unseen_labels
from bertlab.tools.loading import find_run_dir, run_config, run_encoding
from bertlab.tools.predictor import Predictor
from bertlab.train.run_dir import RunDir
from bertlab.utils.cli import run_cli, tool_parser
from bertlab.utils.instantiate import instantiate_trusted
from bertlab.utils.io import atomic_write_json

METRIC_PREFIX = {"train": "train", "validation": "val", "test": "test"}  # as training logs


def run_datamodule(run_dir: Path) -> TextClassificationDataModule:
    """The run's DataModule, checked to give the run's labels and split.

    Raises:
        DataError: the data now gives other splits or labels than the run recorded, or the
            tokenizer's files changed.
    """
    run = RunDir(run_dir)
    cfg = run.config()
    run_encoding(run_dir, cfg).verify_tokenizer(str(run_dir))  # what the corpus is tokenized with
    datamodule = instantiate_trusted(cfg.data, origin=run.config_origin)
    datamodule.setup()
    run.check_same_labels(datamodule.task.name, datamodule.label_names)
    run.check_same_split(datamodule.split_manifest())
    return datamodule


def file_loader(
    run_dir: Path,
    predictor: Predictor,
    path: Path,
    text_column: str,
    label_column: str,
    text_pair_column: str | None,
) -> DataLoader:
    """A new labelled file, cleaned like training data, encoded with the run's labels."""
    from bertlab.data.sources import LocalFile

    cfg = run_config(run_dir)
    table = LocalFile(
        path=str(path),
        text_column=text_column,
        label_column=label_column,
        text_pair_column=text_pair_column,
    ).load()
    table, _ = cleaning.clean(table, cfg.data.get("max_drop_fraction", 0.05))
    separator, task, names = cfg.data.get("label_separator"), predictor.task, predictor.label_names
    check_unseen_labels(task, table["label"], names, separator, str(path))
    labels = task.encode(table["label"], names, separator)
    pairs = table["text_pair"].tolist() if "text_pair" in table else None
    return predictor.loader(predictor.encode(table["text"].tolist(), pairs, labels))[0]


def run_stage(trainer: L.Trainer, predictor: Predictor, split: str, datamodule) -> dict:
    """Lightning's loop over a split: validate for validation, test for test (and train)."""
    model = predictor.model
    if split == "validation":
        return trainer.validate(model, datamodule=datamodule, verbose=False)[0]
    if split == "test":
        return trainer.test(model, datamodule=datamodule, verbose=False)[0]
    datamodule.trainer = trainer
    loader = datamodule.eval_dataloader("train")
    return trainer.test(model, dataloaders=loader, verbose=False)[0]


def evaluate(
    run: str | Path,
    split: str | None = "test",
    file: str | Path | None = None,
    checkpoint: str = "best",
    text_column: str = "text",
    label_column: str = "label",
    text_pair_column: str | None = None,
    out: str | Path | None = None,
    device: str | None = None,
) -> dict:
    """Score a run's checkpoint on a split (train/validation/test) or a labelled file; save JSON."""
    run_dir = find_run_dir(run)
    predictor = Predictor.from_run(run, checkpoint, device)
    trainer = predictor.trainer()
    if file is not None:
        file, name = Path(file), Path(file).stem
        loader = file_loader(run_dir, predictor, file, text_column, label_column, text_pair_column)
        examples = len(loader.dataset)
        raw = trainer.test(predictor.model, dataloaders=loader, verbose=False)[0]
    else:
        split = split_name(split)
        name = METRIC_PREFIX[split]
        datamodule = run_datamodule(run_dir)
        examples = len(datamodule.dataset(split))
        if examples == 0:
            raise DataError(
                f"{run_dir} has no {split} split (it was trained with data.split.{split}=0): "
                "nothing to score. Evaluate another split (--split validation) or a labelled "
                "file (--file new.csv)."
            )
        raw = run_stage(trainer, predictor, split, datamodule)
    metrics = {f"{name}/{key.split('/', 1)[1]}": float(value) for key, value in raw.items()}
    record = {
        "run_dir": str(run_dir),
        "checkpoint": str(checkpoint),
        "data": str(file or split),
        "examples": examples,
        "precision": predictor.precision,
        "metrics": metrics,
    }
    suffix = "" if str(checkpoint) == "best" else f"-{Path(str(checkpoint)).stem}"
    path = Path(out) if out else run_dir / "eval" / f"{file.stem if file else split}{suffix}.json"
    print(json.dumps(metrics, indent=2))  # before saving: a read-only run dir still shows them
    save_record(path, record)
    print(f"{examples} examples; saved to {path}")
    return record


def save_record(path: Path, record: dict) -> None:
    """Write the metrics JSON.

    Raises:
        RunDirError: the file cannot be written (e.g. a read-only run dir), naming it and
            pointing at --out; the metrics were printed already.
    """
    try:
        atomic_write_json(path, record)
    except OSError as err:
        raise RunDirError(
            f"The metrics above could not be saved to {path} ({err.strerror or err}). "
            "Save them elsewhere with --out <file.json> (e.g. when the run dir is read-only)."
        ) from None


def parser() -> argparse.ArgumentParser:
    p = tool_parser("bertlab.evaluate", __doc__)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--split", default="test", help="train, validation or test (default)")
    what.add_argument("--file", help="a labelled .csv/.tsv/.jsonl/.parquet file instead")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--text-pair-column", default=None)
    p.add_argument("--out", help="where to save the metrics JSON")
    return p


def evaluate_from_args(a: argparse.Namespace) -> None:
    evaluate(
        a.run,
        a.split,
        a.file,
        a.checkpoint,
        a.text_column,
        a.label_column,
        a.text_pair_column,
        a.out,
        a.device,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(evaluate_from_args, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
