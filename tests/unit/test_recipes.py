"""Fine-tuning recipes: class weights, label smoothing, layer-wise LR decay, freezing and
gradient accumulation. Each test checks the option's effect, not only that it runs."""

from __future__ import annotations

import functools
import logging

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from bertlab.errors import ConfigError
from bertlab.model import TextClassifier
from bertlab.model.heads import MeanPoolingClassifier
from bertlab.model.loss import balanced_weights

LR = 1e-3


def batch(n: int = 8, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    ids = torch.randint(1000, 2000, (n, 10))
    ids[:, 0] = 101
    return {
        "input_ids": ids,
        "token_type_ids": torch.zeros_like(ids),
        "attention_mask": torch.ones_like(ids),
        "labels": torch.tensor([0, 1] * (n // 2)) if labels is None else labels,
    }


def trainer(**kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def classifier(model_dir, cls=TextClassifier, **kwargs) -> TextClassifier:
    optimizer = functools.partial(torch.optim.AdamW, lr=LR, weight_decay=0.01)
    return cls(str(model_dir), optimizer=optimizer, **kwargs)


# ---- class weights and label smoothing ----


def test_class_weights_weight_each_example_by_its_class(tiny_model_dir):
    weights = [1.0, 2.0, 5.0]
    model = classifier(tiny_model_dir, num_labels=3, loss={"class_weights": weights})
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    nll = -torch.log_softmax(logits, -1)[torch.arange(6), labels]
    w = torch.tensor(weights)[labels]
    expected = (w * nll).sum() / w.sum()
    assert model.loss(logits, labels) == pytest.approx(expected.item(), rel=1e-6)
    assert abs(model.loss(logits, labels).item() - nll.mean().item()) > 1e-3  # not a no-op


def test_balanced_weights_are_n_over_classes_times_count():
    weights = balanced_weights([90, 10])
    assert weights.tolist() == pytest.approx([100 / (2 * 90), 100 / (2 * 10)])
    assert balanced_weights([5, 5, 5]).tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_balanced_weights_follow_label_order_and_are_logged(tiny_model_dir, caplog):
    with caplog.at_level(logging.INFO, logger="bertlab.model.module"):
        model = classifier(
            tiny_model_dir,
            num_labels=2,
            label_names=["neg", "pos"],
            loss={"class_weights": "balanced"},
            label_counts={"pos": 10, "neg": 90},  # not in label order
        )
    assert model.class_weights.tolist() == pytest.approx([100 / 180, 100 / 20])
    assert "neg 0.5556, pos 5" in caplog.text


def test_checkpoint_carries_the_class_weights(tiny_model_dir, tmp_path):
    counts = {"neg": 30, "pos": 10}
    kwargs = {"num_labels": 2, "label_names": ["neg", "pos"], "loss": {"class_weights": "balanced"}}
    model = classifier(tiny_model_dir, label_counts=counts, **kwargs)
    fit = trainer(max_steps=1)
    fit.fit(model, train_dataloaders=DataLoader([batch()], batch_size=None))
    path = tmp_path / "model.ckpt"
    fit.save_checkpoint(path)
    data = batch()
    model.eval()
    expected = model.loss(model(data), data["labels"]).item()

    rebuilt = classifier(tiny_model_dir, **kwargs)  # as inference.load_model: no counts
    assert rebuilt.class_weights.tolist() == [1.0, 1.0]
    rebuilt.load_state_dict(torch.load(path, weights_only=False)["state_dict"])
    restored = TextClassifier.load_from_checkpoint(path)
    for other in (rebuilt.eval(), restored.eval()):
        assert other.class_weights.tolist() == pytest.approx([40 / 60, 40 / 20])
        assert other.loss(other(data), data["labels"]).item() == pytest.approx(expected)


def test_balanced_without_counts_refuses_to_train(tiny_model_dir):
    model = classifier(tiny_model_dir, num_labels=2, loss={"class_weights": "balanced"})
    with pytest.raises(ConfigError, match=r"model\.loss\.class_weights=balanced"):
        model.setup("fit")


def test_label_smoothing_mixes_in_the_uniform_target(tiny_model_dir):
    eps = 0.2
    model = classifier(tiny_model_dir, num_labels=3, loss={"label_smoothing": eps})
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    log_p = torch.log_softmax(logits, -1)
    nll = -log_p[torch.arange(6), labels]
    expected = ((1 - eps) * nll - eps * log_p.mean(-1)).mean()
    assert model.loss(logits, labels) == pytest.approx(expected.item(), rel=1e-6)
    assert abs(expected.item() - nll.mean().item()) > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"num_labels": 3, "loss": {"class_weights": [1.0, 2.0]}}, r"model\.loss\.class_weights"),
        ({"num_labels": 2, "loss": {"class_weights": "inverse"}}, r"model\.loss\.class_weights"),
        ({"num_labels": 2, "loss": {"class_weights": [1.0, -1.0]}}, r"model\.loss\.class_weights"),
        ({"num_labels": 2, "loss": {"label_smoothing": 1.0}}, r"model\.loss\.label_smoothing"),
        ({"num_labels": 2, "loss": {"smoothing": 0.1}}, r"model\.loss: unknown"),
        (
            {"num_labels": 3, "task": "multi_label", "loss": {"class_weights": "balanced"}},
            r"single-label",
        ),
        ({"num_labels": 2, "freeze": {"layers": 3}}, r"model\.freeze\.layers=3"),
        ({"num_labels": 2, "freeze": {"layers": -1}}, r"model\.freeze\.layers"),
        ({"num_labels": 2, "optimizer_groups": {"layer_decay": 0}}, r"layer_decay"),
        ({"num_labels": 2, "optimizer_groups": {"layer_decay": 1.5}}, r"layer_decay"),
    ],
)
def test_bad_values_raise_one_config_error_naming_the_key(tiny_model_dir, kwargs, key):
    with pytest.raises(ConfigError, match=key):
        classifier(tiny_model_dir, **kwargs)


# ---- layer-wise learning-rate decay ----


def group_lr_of(optimizer: torch.optim.Optimizer, network: torch.nn.Module) -> dict[str, float]:
    """Each parameter name's group base lr (before the schedule's warmup factor)."""
    by_id = {id(p): g["initial_lr"] for g in optimizer.param_groups for p in g["params"]}
    return {name: by_id[id(p)] for name, p in network.named_parameters() if id(p) in by_id}


@pytest.mark.parametrize("cls", [TextClassifier, MeanPoolingClassifier])
def test_layer_decay_scales_each_block(tiny_model_dir, cls, caplog):
    decay = 0.5  # 2 layers: embeddings decay^3, layer 0 decay^2, layer 1 decay^1, head 1
    model = classifier(tiny_model_dir, cls, num_labels=2, optimizer_groups={"layer_decay": decay})
    with caplog.at_level(logging.INFO, logger="bertlab.model.optim"):
        optimizer, _ = model.build_optimizer(total_steps=10)
    lrs = group_lr_of(optimizer, model.network)
    assert len(lrs) == len(list(model.network.parameters()))  # every parameter, once
    expected_by_block = {
        "embeddings.": LR * decay**3,
        "encoder.layer.0.": LR * decay**2,
        "encoder.layer.1.": LR * decay,
        "classifier.": LR,
    }
    for fragment, lr in expected_by_block.items():
        matched = [n for n in lrs if fragment in n]
        assert matched and all(lrs[n] == pytest.approx(lr) for n in matched), fragment
    head = [n for n in lrs if "embeddings." not in n and "encoder.layer." not in n]
    assert all(lrs[n] == pytest.approx(LR) for n in head)  # pooler (standard head) too
    no_decay = {
        id(p) for g in optimizer.param_groups if g["weight_decay"] == 0 for p in g["params"]
    }
    for name, param in model.network.named_parameters():
        assert (id(param) in no_decay) == (param.ndim < 2), name
    assert "Learning rates: embeddings 0.000125, layer.0 0.00025, layer.1 0.0005, head 0.001" in (
        caplog.text
    )


def test_without_layer_decay_the_groups_are_unchanged(tiny_model_dir):
    model = classifier(tiny_model_dir, num_labels=2)
    optimizer, _ = model.build_optimizer(total_steps=10)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
    assert all(g["initial_lr"] == LR and "name" not in g for g in optimizer.param_groups)


# ---- freezing ----


def test_frozen_parameters_get_no_optimizer_state_and_do_not_move(tiny_model_dir):
    L.seed_everything(0, verbose=False)
    model = classifier(tiny_model_dir, num_labels=2, freeze={"embeddings": True, "layers": 1})
    names = dict(model.network.named_parameters())
    frozen = {n for n in names if "embeddings." in n or "encoder.layer.0." in n}
    assert frozen and {n for n, p in names.items() if not p.requires_grad} == frozen
    before = {n: p.detach().clone() for n, p in names.items()}
    fit = trainer(max_steps=2)
    fit.fit(model, train_dataloaders=DataLoader([batch(), batch()], batch_size=None))
    in_optimizer = {id(p) for g in fit.optimizers[0].param_groups for p in g["params"]}
    assert not any(id(names[n]) in in_optimizer for n in frozen)
    assert all(id(p) in in_optimizer for n, p in names.items() if n not in frozen)
    assert all(torch.equal(names[n], before[n]) for n in frozen)
    moved = [n for n in names if n not in frozen and not torch.equal(names[n], before[n])]
    assert any("encoder.layer.1." in n for n in moved) and any("classifier" in n for n in moved)


# ---- gradient accumulation ----


@pytest.mark.parametrize(("accumulate", "steps"), [(1, 4), (2, 2)])
def test_accumulation_divides_optimizer_and_schedule_steps(tiny_model_dir, accumulate, steps):
    model = classifier(tiny_model_dir, num_labels=2)
    totals = []
    build = model.build_optimizer

    def spy(total_steps: int, fused: bool = True):
        totals.append(total_steps)
        return build(total_steps, fused)

    model.build_optimizer = spy
    fit = trainer(max_epochs=1, accumulate_grad_batches=accumulate)
    fit.fit(model, train_dataloaders=DataLoader([batch() for _ in range(4)], batch_size=None))
    assert fit.global_step == steps and totals == [steps]


# ---- through train.py and back through bertlab.tools.loading ----


def test_inference_rebuilds_a_weighted_model_from_its_run(tiny_model_dir, tmp_path):
    import json

    from hydra import compose, initialize_config_dir

    from bertlab.tools.loading import load_model
    from helpers.runs import ROOT

    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"model.pretrained={tiny_model_dir}", "model.loss.class_weights=balanced"],
        )
    kwargs = {"num_labels": 2, "label_names": ["neg", "pos"], "loss": {"class_weights": "balanced"}}
    model = classifier(tiny_model_dir, label_counts={"neg": 30, "pos": 10}, **kwargs)
    fit = trainer(max_steps=1)
    fit.fit(model, train_dataloaders=DataLoader([batch()], batch_size=None))
    fit.save_checkpoint(tmp_path / "last.ckpt")
    label_map = {"problem_type": "single_label", "id2label": {"0": "neg", "1": "pos"}}
    (tmp_path / "label_map.json").write_text(json.dumps(label_map))
    loaded = load_model(tmp_path, cfg, tmp_path / "last.ckpt")
    data = batch()
    with torch.no_grad():
        assert torch.equal(loaded(data), model.eval()(data))
