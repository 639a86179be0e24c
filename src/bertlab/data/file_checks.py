"""Checks of a data file and its columns: one clear DataError for a path that is not a
readable file, repeated column names, and text columns holding non-text values."""

from __future__ import annotations

import json
import logging
import math
import numbers
import stat
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bertlab.errors import DataError

log = logging.getLogger(__name__)


def refuse_duplicate_columns(names: Iterable[Any], origin: str) -> None:
    """Refuse a table with two columns of one name (which one is the text or the label?).

    Raises:
        DataError: naming the repeated column(s) and the file.
    """
    refuse_repeated([str(name) for name, n in Counter(names).items() if n > 1], origin)


def refuse_repeated(repeated: list[str], origin: str) -> None:
    if repeated:
        shown = ", ".join(f"'{name}'" for name in repeated)
        raise DataError(
            f"{origin} has more than one column named {shown}. Rename or remove the extra "
            "column(s) in the file so that every column name is unique."
        )


def value_kind(value: Any) -> str:
    """'text', 'missing', 'number', or the type name of anything else."""
    if isinstance(value, str):
        return "text"
    if value is None or value is pd.NA or value is pd.NaT:
        return "missing"
    if isinstance(value, float | np.floating) and math.isnan(value):
        return "missing"
    if isinstance(value, numbers.Number | np.number | np.bool_):
        return "number"
    return type(value).__name__


def number_text(value: Any) -> str:
    """A number as text; whole floats without '.0' (a missing value made the column float)."""
    if isinstance(value, float | np.floating) and float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def as_text(column: pd.Series, name: str, origin: str) -> pd.Series:
    """The column with numbers turned into text; missing values stay missing.

    Raises:
        DataError: a value is a list, dict or another non-text, non-number value.
    """
    if isinstance(column.dtype, pd.StringDtype):
        return column
    kinds = column.map(value_kind)
    other = np.flatnonzero(~kinds.isin(["text", "missing", "number"]).to_numpy())
    if len(other):
        first = int(other[0])
        example = repr(column.iloc[first])
        example = example if len(example) <= 60 else example[:57] + "..."
        types = ", ".join(sorted(set(kinds.iloc[other])))
        raise DataError(
            f"{origin}: {len(other)} value(s) of the text column '{name}' are not text but "
            f"{types} (first at data row {first + 1}: {example}). Each "
            "row needs one string: join the pieces into one text in the file, or set "
            "data.source.text_column / text_pair_column to a column of text."
        )
    is_number = kinds.eq("number")
    if not is_number.any():
        return column
    texts = column[is_number].map(number_text)
    log.warning(
        "%s: %d value(s) of the text column '%s' are numbers (e.g. %s); they are used as "
        "text. If '%s' is not the text column, set data.source.text_column.",
        origin,
        len(texts),
        name,
        texts.iloc[0],
        name,
    )
    out = column.astype(object)
    out[is_number] = texts
    return out


def check_file(path: Path) -> None:
    """Refuse a path that is missing, a directory, not a regular file, or cannot be reached.

    Raises:
        DataError: naming the path and what is wrong with it.
    """
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(f"Data file not found: {path}. Check data.source.path / files.") from None
    except OSError as err:
        raise unreadable(path, err) from err
    if stat.S_ISDIR(mode):
        raise DataError(
            f"{path} is a directory, not a data file. Set data.source.path (or files) to the "
            "CSV / TSV / JSONL / Parquet file itself."
        )
    if not stat.S_ISREG(mode):
        raise DataError(
            f"{path} is not a regular file (a pipe, socket or device); bertlab reads the data "
            "file twice (fingerprint, then load). Save the data to a file and point at that."
        )


def unreadable(path: Path, err: OSError) -> DataError:
    """The message for a data file the operating system refuses to read."""
    reason = err.strerror or str(err)
    if isinstance(err, PermissionError):
        fix = f"Give the user running bertlab read access to it (e.g. chmod a+r {path})."
    else:
        fix = "Check the file and the disk it lives on, or copy it to a local disk."
    return DataError(f"Cannot read data file {path}: {reason}. {fix}")


def parquet_columns(path: Path) -> list[str]:
    """Column names in a Parquet file's schema (pandas fails obscurely on repeated ones)."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (ValueError, TypeError):
        return []  # not Parquet: pd.read_parquet says so


class _Keys(dict):
    """A JSON object that remembers which keys it had more than once."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.repeated = [key for key, n in Counter(k for k, _ in pairs).items() if n > 1]


def jsonl_repeated_keys(path: Path, encoding: str) -> list[str]:
    """The keys that the first line with a repeated top-level key repeats (JSON parsers keep
    only the last value of a repeated key, silently)."""
    with open(path, encoding=encoding) as f:
        for line in f:
            if not line.strip():
                continue
            try:
                row = json.loads(line, object_pairs_hook=_Keys)
            except ValueError:
                return []  # pandas read it; leave odd lines to pandas
            if isinstance(row, _Keys) and row.repeated:
                return row.repeated
    return []
