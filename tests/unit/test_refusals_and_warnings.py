"""Issue 20's exit-code and warning list, the cases in data/, tasks and checkpoint I/O:
each was accepted silently (or a traceback) before."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from bertlab.data.folds import fold_split
from bertlab.data.split import split_indices
from bertlab.errors import ConfigError, ModelError
from bertlab.train.config_checks import check_config
from bertlab.utils.checkpoint_io import AtomicCheckpointIO
from helpers.runs import ROOT


def test_data_csv_without_a_path_is_refused_naming_the_key():
    """`path: ???` made `"path" in source` false, so the check never ran."""
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=["data=csv"])
    with pytest.raises(ConfigError, match="data.source.path"):
        check_config(cfg)


class _Payload:
    def __reduce__(self):
        return (print, ("payload ran",))


def test_ckpt_path_to_a_pickle_says_what_bertlab_does(tmp_path):
    """Lightning loads ckpt_path= through the plugin: PyTorch's message suggests
    weights_only=False, which bertlab never does."""
    path = tmp_path / "foreign.ckpt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {}, "x": _Payload()}, f)
    with pytest.raises(ModelError, match="weights_only=True") as err:
        AtomicCheckpointIO().load_checkpoint(path)
    assert "will likely succeed" not in str(err.value)  # PyTorch's advice, not followed
    assert str(path) in str(err.value)


def test_a_split_ratio_that_cannot_be_honoured_warns(caplog):
    """1,000 classes x 3 rows: 80/10/10 silently became 33/33/33."""
    strata = np.repeat(np.arange(1000), 3)
    with caplog.at_level(logging.WARNING):
        out = split_indices(len(strata), {"train": 0.8, "validation": 0.1, "test": 0.1}, 0, strata)
    assert len(out["test"]) == 1000
    assert "data.split" in caplog.text and "33" in caplog.text


def test_an_honoured_split_ratio_does_not_warn(caplog):
    strata = np.repeat(np.arange(2), 100)
    with caplog.at_level(logging.WARNING):
        split_indices(len(strata), {"train": 0.8, "validation": 0.1, "test": 0.1}, 0, strata)
    assert caplog.text == ""


def test_cv_k_above_a_class_count_warns_naming_the_class(caplog):
    strata = np.array([0] * 20 + [1] * 3)
    indices = {"train": np.arange(23), "validation": np.empty(0, int), "test": np.empty(0, int)}
    with caplog.at_level(logging.WARNING):
        fold_split(indices, (0, 5), 0, strata)
    assert "cv.k=5" in caplog.text and "3" in caplog.text
