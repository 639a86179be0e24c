"""Evaluate a trained run on one of its splits or on a new labelled file.

    python -m bertlab.evaluate RUN_DIR                      # the test split, best checkpoint
    python -m bertlab.evaluate RUN_DIR --split validation --checkpoint last
    python -m bertlab.evaluate RUN_DIR --file new.csv --label-column sentiment

Prints the metrics (the same torchmetrics as training) and saves them as JSON to
RUN_DIR/eval/<split or file name>[-<checkpoint>].json (or --out).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from bertlab.data import clean as cleaning
from bertlab.data import labels as labeling
from bertlab.errors import DataError
from bertlab.inference import Predictor, find_run_dir, run_config
from bertlab.model.pooling import pool_documents
from bertlab.utils.cli import run_cli, tool_parser
from bertlab.utils.instantiate import instantiate_trusted
from bertlab.utils.io import atomic_write_json
from bertlab.verify import check_same_labels, check_same_split

SPLIT_ALIASES = {"val": "validation", "dev": "validation", "valid": "validation"}


def split_data(run_dir: Path, predictor: Predictor, split: str) -> Dataset:
    """A split of the run's own corpus, as the run made it (same seed, ratios, cache).

    Raises:
        DataError: the data now gives other splits or labels than the run recorded.
    """
    cfg = run_config(run_dir)
    datamodule = instantiate_trusted(cfg.data, origin=str(run_dir / "config.yaml"))
    datamodule.prepare_data()
    check_same_labels(run_dir, datamodule.problem_type, datamodule.label_names)
    check_same_split(run_dir, datamodule.split_manifest())
    return datamodule.dataset(split)


def file_data(
    run_dir: Path,
    predictor: Predictor,
    path: Path,
    text_column: str,
    label_column: str,
    text_pair_column: str | None,
) -> Dataset:
    """A new labelled file, cleaned like training data and encoded with the run's labels."""
    from bertlab.data.sources import LocalFile

    cfg = run_config(run_dir)
    table = LocalFile(
        path=str(path),
        text_column=text_column,
        label_column=label_column,
        text_pair_column=text_pair_column,
    ).load()
    table, _ = cleaning.clean(table, cfg.data.get("max_drop_fraction", 0.05))
    separator = cfg.data.get("label_separator")
    names = predictor.label_names
    if predictor.problem_type != "regression":
        seen = labeling.label_names(table["label"], predictor.problem_type, separator)
        if unseen := sorted(set(seen) - set(names)):
            raise DataError(
                f"{path} has label(s) {unseen} that the model does not know "
                f"(it knows {names}). Map them to known labels or remove them."
            )
    labels = labeling.encode(table["label"], names, predictor.problem_type, separator)
    pairs = table["text_pair"].tolist() if "text_pair" in table else None
    return predictor.encode(table["text"].tolist(), pairs, labels)


@torch.inference_mode()
def score(predictor: Predictor, data: Dataset, name: str) -> dict[str, float]:
    """The run's test-stage metrics over `data`, named `<name>/<metric>`."""
    model = predictor.model
    metrics = model.stage_metrics("test")
    metrics.reset()
    for _, batch in predictor.batches(data):
        logits = pool_documents(model(batch), batch)  # chunks: one row per document
        metrics.update(logits, batch["labels"], model.loss(logits, batch["labels"]))
    return {f"{name}/{k.split('/', 1)[1]}": float(v) for k, v in metrics.compute().items()}


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
    if file is not None:
        file = Path(file)
        name = file.stem
        data = file_data(run_dir, predictor, file, text_column, label_column, text_pair_column)
    else:
        split = SPLIT_ALIASES.get(split, split)
        if split not in ("train", "validation", "test"):
            raise DataError(f"--split {split}: use train, validation or test (or --file).")
        name = split
        data = split_data(run_dir, predictor, split)
    metrics = score(predictor, data, name)
    record = {
        "run_dir": str(run_dir),
        "checkpoint": str(checkpoint),
        "data": str(file or split),
        "examples": len(data),
        "metrics": metrics,
    }
    suffix = "" if str(checkpoint) == "best" else f"-{Path(str(checkpoint)).stem}"
    path = Path(out) if out else run_dir / "eval" / f"{name}{suffix}.json"
    atomic_write_json(path, record)
    print(json.dumps(metrics, indent=2))
    print(f"{len(data)} examples; saved to {path}")
    return record


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


def main(argv: Sequence[str] | None = None) -> int:
    def go(a: argparse.Namespace) -> None:
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

    return run_cli(go, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
