"""Label names: a total, process-independent order; "1" vs "1.0" refused; names that differ
only by Unicode normalisation or surrounding whitespace merged with a warning (issue 20.3,
20.4)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import unicodedata

import pandas as pd
import pytest

from bertlab.errors import DataError
from bertlab.tasks import MultiLabel, SingleLabel
from helpers.runs import HANG_GUARD_S


def test_one_number_written_two_ways_is_refused_naming_both():
    with pytest.raises(DataError, match=r"'1'.*'1\.0'|'1\.0'.*'1'"):
        SingleLabel().label_names(pd.Series(["1", "1.0", "2", "2"]), None)


def test_one_number_written_two_ways_is_refused_in_multi_label_too():
    with pytest.raises(DataError, match="1.0"):
        MultiLabel().label_names(pd.Series(["1,2", "1.0"]), ",")


@pytest.mark.slow
def test_label_order_is_the_same_under_any_hash_seed():
    """Ties on the numeric value used to keep set order (which PYTHONHASHSEED decides)."""
    code = (
        "import pandas as pd; from bertlab.tasks import SingleLabel;"
        "print(SingleLabel().label_names(pd.Series(['b','10','2','a','1e1x','B','-1','nan']),None))"
    )
    procs = [  # three interpreters at once: their start-up is most of the time
        subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in range(3)
    ]
    outs = {proc.communicate(timeout=HANG_GUARD_S)[0] for proc in procs}
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    assert len(outs) == 1, outs


def test_labels_differing_by_normalisation_or_whitespace_are_merged_with_a_warning(caplog):
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    labels = pd.Series([nfc, nfd, "pos", "pos ", " pos"])
    task = SingleLabel()
    with caplog.at_level(logging.WARNING):
        names = task.label_names(labels, None)
    assert names == [nfc, "pos"]
    assert "merged" in caplog.text
    assert task.encode(labels, names, None).tolist() == [0, 0, 1, 1, 1]


def test_multi_label_names_are_normalised_too():
    nfd = unicodedata.normalize("NFD", "café")
    task = MultiLabel()
    names = task.label_names(pd.Series([f"{nfd},pos", "café"]), ",")
    assert names == [unicodedata.normalize("NFC", "café"), "pos"]
