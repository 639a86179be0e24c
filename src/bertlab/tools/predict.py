"""Predict labels for a file of texts with a trained run.

    python -m bertlab.predict RUN_DIR texts.csv -o predictions.csv
    python -m bertlab.predict RUN_DIR reviews.jsonl --text-column review

The output holds the input's columns plus `predicted_label` and one `prob_<label>` column per
class (multi-label: the labels at or above --threshold, joined by ','; regression:
`prediction`). Tokenization, max_length and text pairs follow the run's config.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bertlab.errors import DataError
from bertlab.utils.cli import positive_int, run_cli, tool_parser
from bertlab.utils.io import atomic_write_text


def read_texts(
    path: Path,
    text_column: str,
    text_pair_column: str | None = None,
    file_format: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a CSV/TSV/JSONL/Parquet file that has (at least) the text column(s)."""
    from bertlab.data.sources import LocalFile

    table = LocalFile(path=str(path), format=file_format, encoding=encoding).read_raw()
    wanted = [c for c in (text_column, text_pair_column) if c]
    if missing := [c for c in wanted if c not in table]:
        raise DataError(
            f"{path} has no column {missing[0]!r}; columns present: "
            f"{', '.join(map(str, table.columns))}. Use --text-column to name it."
        )
    if table[text_column].isna().any():
        raise DataError(
            f"{path}: {int(table[text_column].isna().sum())} rows have an empty "
            f"{text_column!r}; remove them first."
        )
    return table


def predict_file(
    run: str | Path,
    input_path: str | Path,
    output: str | Path | None = None,
    text_column: str = "text",
    text_pair_column: str | None = None,
    checkpoint: str = "best",
    device: str | None = None,
    batch_size: int | None = None,
    threshold: float = 0.5,
) -> Path:
    """Write the predictions CSV for `input_path`; return its path."""
    from bertlab.tools.predictor import Predictor

    input_path = Path(input_path)
    predictor = Predictor.from_run(run, checkpoint, device, batch_size)
    table = read_texts(input_path, text_column, text_pair_column)
    pairs = table[text_pair_column].tolist() if text_pair_column else None
    preds = predictor.predict_table(table[text_column].tolist(), pairs, threshold)
    result = pd.concat(
        [table.drop(columns=preds.columns, errors="ignore").reset_index(drop=True), preds], axis=1
    )
    out = Path(output) if output else input_path.with_name(f"{input_path.stem}.predictions.csv")
    atomic_write_text(out, result.to_csv(index=False))
    print(f"Wrote {len(result)} predictions to {out}")
    return out


def parser() -> argparse.ArgumentParser:
    p = tool_parser("bertlab.predict", __doc__)
    p.add_argument("input", help="texts to classify: .csv, .tsv, .jsonl or .parquet")
    p.add_argument("-o", "--output", help="output CSV (default: <input>.predictions.csv)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--text-pair-column", default=None, help="the second text, for pair models")
    p.add_argument(
        "--batch-size", type=positive_int, default=None, help="default: data.eval_batch_size"
    )
    p.add_argument("--threshold", type=float, default=0.5, help="multi-label decision threshold")
    return p


def predict_from_args(a: argparse.Namespace) -> None:
    predict_file(
        a.run,
        a.input,
        a.output,
        a.text_column,
        a.text_pair_column,
        a.checkpoint,
        a.device,
        a.batch_size,
        a.threshold,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(predict_from_args, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
