"""Loading local files and the packaged corpus, and the errors for bad files."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    assert table["label"].value_counts().to_dict() == {"negative": 4265, "positive": 4265}


def test_unknown_packaged_subset():
    with pytest.raises(DataError, match="imdb, rotten_tomatoes"):
        MovieReviews("sst2").load()


# ---- data oddities: one clear DataError each ----


@pytest.mark.parametrize("sep", [",", "\t"])
def test_duplicate_csv_column_is_refused_naming_column_and_file(tmp_path, sep):
    path = tmp_path / ("d.csv" if sep == "," else "d.tsv")
    path.write_text(sep.join(["text", "label", "label"]) + "\n" + sep.join(["a", "1", "0"]) + "\n")
    with pytest.raises(DataError, match=r"d\.[ct]sv has more than one column named 'label'"):
        LocalFile(path=str(path)).load()


def test_dotted_csv_header_that_is_not_a_duplicate_loads(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label,label.1\na,1,x\nb,0,y\n")
    table = LocalFile(path=str(path), label_column="label.1").load()
    assert table["label"].tolist() == ["x", "y"]


def test_duplicate_jsonl_key_is_refused(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": 0, "label": 1}\n')
    with pytest.raises(DataError, match=r"d\.jsonl has more than one column named 'label'"):
        LocalFile(path=str(path)).load()


def test_nested_repeated_keys_in_jsonl_are_not_columns(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": 1, "meta": {"k": 1, "k": 2}}\n')
    assert LocalFile(path=str(path)).load()["text"].tolist() == ["a"]


def test_duplicate_parquet_column_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    columns = [pa.array(["a", "b"]), pa.array([1, 0]), pa.array([0, 1])]
    pq.write_table(pa.table(columns, names=["text", "label", "label"]), path)
    with pytest.raises(DataError, match=r"d\.parquet has more than one column named 'label'"):
        LocalFile(path=str(path)).load()


def test_numeric_csv_text_column_becomes_text_with_a_warning(tmp_path, caplog):
    path = tmp_path / "n.csv"
    path.write_text("text,label\n12,a\n7,b\n,a\n3,b\n")  # the blank makes pandas read floats
    table = LocalFile(path=str(path)).load()
    assert table["text"].tolist()[:2] == ["12", "7"] and table["text"].tolist()[3] == "3"
    assert pd.isna(table["text"].iloc[2])  # left to cleaning as an empty text
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "3 value(s) of the text column 'text' are numbers" in warning
    assert "n.csv" in warning


def test_jsonl_strings_stay_exact_and_numbers_become_text(tmp_path, caplog):
    path = tmp_path / "n.jsonl"
    path.write_text('{"t": "007", "label": 1}\n{"t": 2.5, "label": 0}\n{"t": "x", "label": 0}\n')
    table = LocalFile(path=str(path), text_column="t").load()
    assert table["text"].tolist() == ["007", "2.5", "x"]
    assert "1 value(s) of the text column 't' are numbers" in caplog.text


@pytest.mark.parametrize(
    ("value", "kind"), [("[1, 2]", "list"), ('{"a": 1}', "dict"), ("true", "bool")]
)
def test_list_or_dict_text_in_jsonl(tmp_path, value, kind):
    path = tmp_path / "l.jsonl"
    path.write_text(f'{{"text": "ok", "label": 1}}\n{{"text": {value}, "label": 0}}\n')
    if kind == "bool":  # a scalar: used as text, like a number
        assert LocalFile(path=str(path)).load()["text"].tolist() == ["ok", "True"]
        return
    with pytest.raises(DataError) as err:
        LocalFile(path=str(path)).load()
    message = str(err.value)
    assert f"1 value(s) of the text column 'text' are not text but {kind}" in message
    assert "data row 2" in message and "l.jsonl" in message and "join the pieces" in message


def test_list_text_pair_in_parquet_is_refused(tmp_path):
    path = tmp_path / "l.parquet"
    pd.DataFrame({"a": ["x", "y"], "b": [["p", "q"], ["r"]], "label": [0, 1]}).to_parquet(path)
    with pytest.raises(DataError, match="text column 'b' are not text but ndarray"):
        LocalFile(path=str(path), text_column="a", text_pair_column="b").load()


def test_directory_given_as_path(tmp_path):
    (tmp_path / "data.csv").mkdir()
    source = LocalFile(path=str(tmp_path / "data.csv"))
    for call in (source.load, source.fingerprint):
        with pytest.raises(DataError, match=r"data\.csv is a directory, not a data file"):
            call()


def test_fifo_given_as_path(tmp_path):
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)  # opening it would block forever: it must be refused before any read
    with pytest.raises(DataError, match=r"pipe\.csv is not a regular file"):
        LocalFile(path=str(path)).load()


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="needs Linux /proc")
def test_read_error_is_one_message_with_the_os_reason():
    """/proc/self/mem is a regular file whose read at offset 0 fails (EIO), even for root."""
    source = LocalFile(path="/proc/self/mem", format="csv")
    for call in (source.load, source.fingerprint):
        with pytest.raises(DataError, match="Cannot read data file /proc/self/mem: Input/output"):
            call()


def test_permission_denied_names_the_file_and_the_reason(tmp_path):
    path = tmp_path / "secret.csv"
    ROWS.to_csv(path, index=False)
    path.chmod(0)
    source = LocalFile(path=str(path), text_column="review", label_column="y")
    with read_override_dropped(path):
        for call in (source.fingerprint, source.load):
            with pytest.raises(DataError) as err:
                call()
            assert f"Cannot read data file {path}: Permission denied" in str(err.value)
            assert "chmod a+r" in str(err.value)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]


@contextmanager
def read_override_dropped(unreadable: Path) -> Iterator[None]:
    """Within: this thread cannot read `unreadable` (mode 000), even as root.

    Root reads a chmod-000 file through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH; they are
    taken out of this thread's effective capabilities (still permitted, so restored after).
    Skips the test where that cannot be arranged.
    """
    if os.geteuid() != 0:
        yield  # an ordinary user is refused anyway
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header, caps = _CapHeader(0x20080522, 0), (_CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), caps) != 0:
        pytest.skip("capget failed: cannot drop the read override here")
    saved = (_CapData * 2)()
    ctypes.memmove(saved, caps, ctypes.sizeof(caps))
    caps[0].effective &= ~((1 << 1) | (1 << 2))  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.capset(ctypes.byref(header), caps) != 0:
        pytest.skip("capset failed: cannot drop the read override here")
    try:
        try:
            unreadable.read_bytes()
        except PermissionError:
            pass
        else:
            pytest.skip(f"{unreadable} stays readable here")
        yield
    finally:
        libc.capset(ctypes.byref(header), saved)
