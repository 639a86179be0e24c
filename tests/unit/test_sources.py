"""Loading local files and the packaged corpus, and the errors for bad files."""

from __future__ import annotations

import pandas as pd
import pytest

from bertlab.data.sources import LocalFile, MovieReviews
from bertlab.errors import DataError

ROWS = pd.DataFrame(
    {
        "review": ["good film", "bad film", "fine film"],
        "y": ["pos", "neg", "pos"],
        "other": ["a", "b", "c"],
    }
)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_local_formats_load_the_same_table(tmp_path, suffix):
    path = tmp_path / f"d{suffix}"
    if suffix == ".csv":
        ROWS.to_csv(path, index=False)
    elif suffix == ".tsv":
        ROWS.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        ROWS.to_json(path, orient="records", lines=True)
    else:
        ROWS.to_parquet(path)
    table = LocalFile(path=str(path), text_column="review", label_column="y").load()
    assert list(table.columns) == ["text", "label"]
    assert table["text"].tolist() == ROWS["review"].tolist()
    assert table["label"].tolist() == ROWS["y"].tolist()


def test_text_pair_column(tmp_path):
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"a": ["x"], "b": ["y"], "label": [1]}).to_csv(path, index=False)
    table = LocalFile(path=str(path), text_column="a", text_pair_column="b").load()
    assert table.iloc[0].to_dict() == {"text": "x", "text_pair": "y", "label": 1}


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="Data file not found: .*nope.csv"):
        LocalFile(path=str(tmp_path / "nope.csv")).load()


def test_missing_columns_list_the_columns_present(tmp_path):
    path = tmp_path / "d.csv"
    ROWS.to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        LocalFile(path=str(path), text_column="sentence").load()
    message = str(err.value)
    assert "text column 'sentence'" in message and "label column 'label'" in message
    assert "review, y, other" in message


def test_non_utf8_file_names_the_encoding_option_which_works(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9 cr\xe8me,1\nna\xefve,0\n".encode("latin-1"))
    with pytest.raises(DataError, match="data.source.encoding"):
        LocalFile(path=str(path)).load()
    table = LocalFile(path=str(path), encoding="latin-1").load()
    assert table["text"].tolist() == ["café crème", "naïve"]


def test_provided_split_files_are_tagged(tmp_path):
    for name in ("train", "test"):
        ROWS.to_csv(tmp_path / f"{name}.csv", index=False)
    files = {"train": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv")}
    table = LocalFile(files=files, text_column="review", label_column="y").load()
    assert table["split"].tolist() == ["train"] * 3 + ["test"] * 3


def test_fingerprint_follows_content(tmp_path):
    path = tmp_path / "d.csv"
    ROWS.to_csv(path, index=False)
    first = LocalFile(path=str(path), text_column="review", label_column="y").fingerprint()
    ROWS.iloc[:2].to_csv(path, index=False)
    assert LocalFile(path=str(path), text_column="review", label_column="y").fingerprint() != first


def test_packaged_rotten_tomatoes():
    table = MovieReviews("rotten_tomatoes").load()
    assert len(table) == 8530
    assert table["label"].value_counts().to_dict() == {0: 4265, 1: 4265}


def test_unknown_packaged_subset():
    with pytest.raises(DataError, match="imdb, rotten_tomatoes"):
        MovieReviews("sst2").load()
