"""Heads chosen by config (`model.head`): each pools only real tokens, unknown names are
refused, and checkpoints of the earlier mean-pooling class still load."""

from __future__ import annotations

import pytest
import torch

from bertlab.errors import ConfigError
from bertlab.model import TextClassifier, heads, module


def batch_of(ids: list[int], pad_to: int) -> dict[str, torch.Tensor]:
    row = torch.tensor([ids + [0] * (pad_to - len(ids))])
    return {
        "input_ids": row,
        "attention_mask": (row > 0).long(),
        "token_type_ids": torch.zeros_like(row),
    }


def test_head_names_agree():
    assert module.HEADS == heads.HEADS


@pytest.mark.parametrize("head", ["mean", "attention"])
def test_pooling_heads_ignore_padding(tiny_model_dir, head):
    model = TextClassifier(pretrained=str(tiny_model_dir), num_labels=3, head=head).eval()
    assert isinstance(model.network, heads.PooledNetwork)
    ids = [101, 2307, 2143, 102]
    with torch.no_grad():
        assert torch.allclose(model(batch_of(ids, 8)), model(batch_of(ids, 4)), atol=1e-6)


def test_attention_pooling_is_a_softmax_weighted_mean():
    pooling = heads.AttentionPooling(4)
    hidden = torch.randn(1, 3, 4)
    mask = torch.tensor([[1, 1, 0]])
    weights = pooling.score(hidden[:, :2]).squeeze(-1).softmax(-1)
    expected = (weights.unsqueeze(-1) * hidden[:, :2]).sum(1)
    assert torch.allclose(pooling(hidden, mask), expected, atol=1e-6)


def test_cls_head_is_the_transformers_model(tiny_model_dir):
    from transformers import BertForSequenceClassification

    model = TextClassifier(pretrained=str(tiny_model_dir), num_labels=2)
    assert isinstance(model.network, BertForSequenceClassification)


def test_unknown_head_is_refused(tiny_model_dir):
    with pytest.raises(ConfigError, match="model.head='max'.*cls, mean, attention"):
        TextClassifier(pretrained=str(tiny_model_dir), num_labels=2, head="max")


def test_mean_pooling_class_loads_into_the_mean_head(tiny_model_dir):
    old = heads.MeanPoolingClassifier(pretrained=str(tiny_model_dir), num_labels=2)
    new = TextClassifier(pretrained=str(tiny_model_dir), num_labels=2, head="mean")
    assert old.hparams.head == "mean"
    new.load_state_dict(old.state_dict())  # the same parameter names: old run dirs still load
