"""The run's text → batch contract has one owner (`bertlab.data.encoding.Encoding`): the
DataModule builds it, the run dir keeps it, and the figures, the Predictor and the tools use it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bertlab.callbacks.figures import TensorBoardFigures
from bertlab.data.datamodule import TextClassificationDataModule
from bertlab.data.sources import LocalFile
from bertlab.testing import shuffled_tokenizer


@pytest.fixture(scope="module")
def other_tokenizer(tiny_model_dir, tmp_path_factory) -> Path:
    return shuffled_tokenizer(tiny_model_dir, tmp_path_factory.mktemp("shuffled_tok"))


def test_mistakes_panel_decodes_with_the_data_tokenizer(
    tiny_model_dir, other_tokenizer, tiny_csv, tmp_path
):
    """data.tokenizer differs from model.pretrained: the panel decodes the batches' ids with
    the tokenizer that encoded them (it used the model's: other words)."""
    from transformers import AutoTokenizer

    datamodule = TextClassificationDataModule(
        LocalFile(path=str(tiny_csv)), tokenizer=str(other_tokenizer), cache_dir=str(tmp_path)
    )
    trainer = SimpleNamespace(datamodule=datamodule)
    module = SimpleNamespace(hparams=SimpleNamespace(pretrained=str(tiny_model_dir)))
    data_tok = AutoTokenizer.from_pretrained(str(other_tokenizer))
    ids = data_tok("a wonderful film with a dull ending")["input_ids"]
    decoded = TensorBoardFigures()._tokenizer(trainer, module).decode(ids, skip_special_tokens=True)
    assert decoded == "a wonderful film with a dull ending"
