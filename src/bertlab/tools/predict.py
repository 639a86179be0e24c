"""Predict labels for a file of texts with a trained run.

    python -m bertlab.predict RUN_DIR texts.csv -o predictions.csv
    python -m bertlab.predict RUN_DIR reviews.jsonl --text-column review
    python -m bertlab.predict RUN_DIR --text "a great film" --text "a dull plot"
    cat texts.txt | python -m bertlab.predict RUN_DIR - --format jsonl   # one text a line

The output holds the input's columns plus `predicted_label` and one `prob_<label>` column per
class (multi-label: the labels at or above --threshold, joined by ','; regression:
`prediction`). `-o -` writes to stdout (the default for stdin and --text); an output that is a
symlink, FIFO or device is written in place, never replaced. Tokenization, max_length and
text pairs follow the run's config.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bertlab.errors import ConfigError, DataError
from bertlab.utils.cli import positive_int, run_cli, tool_parser
from bertlab.utils.io import write_output


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


def input_table(
    input_path: str | None,
    texts: Sequence[str] | None,
    text_column: str = "text",
    text_pair_column: str | None = None,
) -> pd.DataFrame:
    """The texts to classify: `--text` arguments, stdin (`-`, one text per line) or a file."""
    if (input_path is None) == (not texts):
        raise ConfigError("give either an input file (or - for stdin) or --text, not both")
    if texts or input_path == "-":
        if text_pair_column:
            raise ConfigError("--text-pair-column needs an input file with both columns")
        lines = list(texts) if texts else [t for t in sys.stdin.read().splitlines() if t.strip()]
        if not lines:
            raise DataError("no texts on stdin (one text per line)")
        return pd.DataFrame({text_column: lines})
    return read_texts(Path(input_path), text_column, text_pair_column)


def render(table: pd.DataFrame, file_format: str) -> str:
    """The predictions as CSV or JSON lines (one object per row)."""
    if file_format == "jsonl":
        return table.to_json(orient="records", lines=True, force_ascii=False)
    return table.to_csv(index=False)


def predict_file(
    run: str | Path,
    input_path: str | Path | None,
    output: str | Path | None = None,
    text_column: str = "text",
    text_pair_column: str | None = None,
    checkpoint: str = "best",
    device: str | None = None,
    batch_size: int | None = None,
    threshold: float = 0.5,
    texts: Sequence[str] | None = None,
    file_format: str | None = None,
) -> Path | None:
    """Write the predictions for `input_path` (a file, or `-` for stdin) or `texts`; return
    the output path (None for stdout). `output` `-` (the default for stdin and `texts`) is
    stdout; a symlink, FIFO or device is written in place, never replaced."""
    from bertlab.tools.predictor import Predictor

    source = None if input_path is None else str(input_path)
    table = input_table(source, texts, text_column, text_pair_column)
    predictor = Predictor.from_run(run, checkpoint, device, batch_size)
    pairs = table[text_pair_column].tolist() if text_pair_column else None
    preds = predictor.predict_table(table[text_column].tolist(), pairs, threshold)
    result = pd.concat(
        [table.drop(columns=preds.columns, errors="ignore").reset_index(drop=True), preds], axis=1
    )
    if output is None and source not in (None, "-"):
        suffix = ".jsonl" if file_format == "jsonl" else ".csv"
        output = Path(source).with_name(f"{Path(source).stem}.predictions{suffix}")
    if output is None or str(output) == "-":
        sys.stdout.write(render(result, file_format or "csv"))
        sys.stdout.flush()
        print(f"Wrote {len(result)} predictions to stdout", file=sys.stderr)
        return None
    out = Path(output)
    fmt = file_format or ("jsonl" if out.suffix in (".jsonl", ".json") else "csv")
    write_output(out, render(result, fmt))
    print(f"Wrote {len(result)} predictions to {out}", file=sys.stderr)
    return out


def parser() -> argparse.ArgumentParser:
    p = tool_parser("bertlab.predict", __doc__)
    p.add_argument(
        "input", nargs="?", help="texts to classify: .csv, .tsv, .jsonl, .parquet, or - (stdin)"
    )
    p.add_argument("--text", action="append", help="a text to classify (repeatable)")
    p.add_argument(
        "-o",
        "--output",
        help="output file, or - for stdout (default: <input>.predictions.csv; stdout for "
        "stdin and --text); a symlink, FIFO or device is written in place",
    )
    p.add_argument(
        "--format", choices=("csv", "jsonl"), default=None, help="default: from -o's suffix, csv"
    )
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
        texts=a.text,
        file_format=a.format,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(predict_from_args, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
