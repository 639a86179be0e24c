"""TextClassifier per problem type: loss, metrics, optimizer groups, schedule."""

from __future__ import annotations

import pytest
import torch

from bertlab.model import TextClassifier
from bertlab.model.optim import decay_groups, linear_warmup_decay


def batch(n=8, width=8, labels=None):
    ids = torch.randint(1000, 2000, (n, width))
    ids[:, 0] = 101
    return {
        "input_ids": ids,
        "token_type_ids": torch.zeros_like(ids),
        "attention_mask": torch.ones_like(ids),
        "labels": labels,
    }


CASES = {
    "single_label": (3, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), {"acc", "f1", "mcc", "loss"}),
    "binary": (2, torch.tensor([0, 1] * 4), {"acc", "f1", "mcc", "auroc", "loss"}),
    "multi_label": (3, torch.randint(0, 2, (8, 3)).float(), {"acc", "f1", "mcc", "loss"}),
    "regression": (1, torch.randn(8), {"pearson", "spearman", "mse", "loss"}),
}


@pytest.mark.parametrize("case", CASES)
def test_each_task_trains_and_reports_its_metrics(case, tiny_model_dir):
    num_labels, labels, names = CASES[case]
    problem = "single_label" if case == "binary" else case
    model = TextClassifier(str(tiny_model_dir), num_labels=num_labels, task=problem)
    assert model.network.training  # dropout active for fine-tuning
    data = batch(labels=labels)
    logits = model(data)
    assert logits.shape == (8, num_labels)
    loss = model.loss(logits, labels)
    loss.backward()
    assert model.network.classifier.weight.grad is not None
    model.val_metrics.update(logits, labels, loss)
    values = model.val_metrics.compute()
    assert {k.split("/")[1] for k in values} == names
    assert all(
        torch.isfinite(v)
        for k, v in values.items()
        if not k.endswith(("mcc", "pearson", "spearman"))
    )


def test_label_names_become_id2label(tiny_model_dir):
    model = TextClassifier(str(tiny_model_dir), num_labels=2, label_names=["neg", "pos"])
    assert model.network.config.id2label == {0: "neg", 1: "pos"}
    assert model.network.config.label2id == {"neg": 0, "pos": 1}


def test_no_weight_decay_on_bias_and_layernorm(tiny_model_dir):
    model = TextClassifier(str(tiny_model_dir), num_labels=2)
    decay, no_decay = decay_groups(model.network, 0.01)
    names = {id(p): n for n, p in model.network.named_parameters()}
    assert all(
        names[id(p)].endswith("weight") and "LayerNorm" not in names[id(p)] for p in decay["params"]
    )
    assert any("LayerNorm" in names[id(p)] for p in no_decay["params"])
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.01


def test_warmup_then_linear_decay():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = linear_warmup_decay(opt, total_steps=100, warmup_fraction=0.1)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] < lrs[5] < lrs[10] and max(lrs) == pytest.approx(1.0)
    assert lrs[55] == pytest.approx(0.5, abs=0.02) and lrs[-1] < 0.02
