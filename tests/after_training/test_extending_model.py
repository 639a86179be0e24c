"""docs/extending.md examples 1 and 2, run as written: another checkpoint, the mean-pooling head."""

from __future__ import annotations

import inspect

import pytest
import torch

import bertlab
from bertlab.errors import ModelError
from bertlab.model import heads
from bertlab.testing import make_tiny_checkpoint
from bertlab.tools.export import export
from helpers.inprocess import run_here, train_in_process
from helpers.runs import ROOT, with_epochs
from helpers.trained import doc_blocks, write_block


def test_example_1_another_checkpoint_directory(tmp_path, tiny_csv):
    other = make_tiny_checkpoint(tmp_path / "my-bert", hidden=48, layers=3)
    conf = tmp_path / "conf"
    write_block("configs/model/my_bert.yaml", conf, {"/data/checkpoints/my-bert": str(other)})
    assert "python train.py model=my_bert" in (ROOT / "docs/extending.md").read_text()
    out = tmp_path / "run"
    proc = run_here(
        ROOT / "train.py",
        "--config-dir",
        str(conf),
        "model=my_bert",
        *with_epochs(tmp_path, tiny_csv, out, tmp_path / "c", "model.pretrained", epochs=1),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["hyper_parameters"]["pretrained"] == str(other)
    assert state["state_dict"]["network.bert.embeddings.word_embeddings.weight"].shape == (
        30522,
        48,
    )
    assert "network.bert.encoder.layer.2.output.dense.weight" in state["state_dict"]


def test_example_2_doc_shows_the_real_head():
    blocks = doc_blocks()
    source = inspect.getsource(heads)
    assert blocks["src/bertlab/model/heads.py"].strip() in source
    assert (
        blocks["configs/model/minilm_mean.yaml"]
        == (ROOT / "configs/model/minilm_mean.yaml").read_text()
    )


def test_mean_pooling_ignores_padding(tiny_model_dir):
    model = heads.MeanPoolingClassifier(pretrained=str(tiny_model_dir), num_labels=3).eval()
    ids = torch.tensor([[101, 2307, 2143, 102, 0, 0, 0, 0]])
    batch = {
        "input_ids": ids,
        "attention_mask": (ids > 0).long(),
        "token_type_ids": torch.zeros_like(ids),
    }
    short = {k: v[:, :4] for k, v in batch.items()}
    assert torch.allclose(model(batch), model(short), atol=1e-6)
    encoder = model.network.encoder
    hidden = encoder(input_ids=short["input_ids"]).last_hidden_state.mean(1)
    assert torch.allclose(model(short), model.network.classifier(hidden), atol=1e-5)
    assert encoder.pooler is None


def test_example_2_trains_loads_and_refuses_export(tmp_path, tiny_model_dir, tiny_csv):
    out = tmp_path / "run"
    train_in_process(
        "model=minilm_mean", *with_epochs(tiny_model_dir, tiny_csv, out, tmp_path / "c", epochs=1)
    )
    predictor = bertlab.load(out)
    assert predictor.model.hparams.head == "mean"
    assert isinstance(predictor.model.network, heads.PooledNetwork)
    assert len(predictor.predict(["a great film", "a dull film"])) == 2
    with pytest.raises(ModelError, match="transformers.pipeline cannot load it"):
        export(out, tmp_path / "hf")
