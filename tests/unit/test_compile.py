"""Regional compile and the on-disk compile cache (bertlab.model.compile, compile_cache), on a
tiny random BERT: same outputs and gradients as eager, one graph for all layers, a cache
directory keyed as designed, a damaged cache moved aside with a warning, auto's choice."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from bertlab.model.compile import apply_plan, compile_with_cache, plan_compile
from bertlab.model.compile_cache import MANIFEST, cache_key, entry_files, open_cache


def tiny(hidden: int = 32) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64, hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=32, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, attn_implementation="sdpa",
        problem_type="single_label_classification",
    )  # fmt: skip
    return BertForSequenceClassification(config).train()


def step(model: torch.nn.Module) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    ids = torch.arange(24).reshape(2, 12) % 60 + 2
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1]))
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.logits.detach(), grads


def test_regional_compile_matches_eager_with_one_graph_for_all_layers():
    eager = tiny()
    network = copy.deepcopy(eager)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    # aot_eager: the same Dynamo capture and AOTAutograd split as Inductor, no C++ build
    compiled = apply_plan(network, plan_compile("regional", None, "cpu"), backend="aot_eager")
    assert compiled is network  # compiled in place: state dict names unchanged
    assert all(getattr(layer, "_compiled_call_impl", None) for layer in network.bert.encoder.layer)
    logits, grads = step(compiled)
    want_logits, want_grads = step(eager)
    torch.testing.assert_close(logits, want_logits, rtol=1e-4, atol=1e-5)
    assert grads.keys() == want_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, want_grads[name], rtol=1e-4, atol=1e-5, msg=name)
    # both layers ran the one graph Dynamo built for the first
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1


def test_compiled_code_lands_in_the_keyed_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "elsewhere"))
    network = tiny().eval()
    torch._dynamo.reset()
    compiled = compile_with_cache(network, "regional", None, "cpu", 0, "32-true", str(tmp_path))
    with torch.no_grad():  # an inference graph: the fewest kernels to build
        got = compiled(input_ids=torch.tensor([[2, 3, 4, 5]])).logits
    torch._dynamo.reset()
    with torch.no_grad():
        want = network(input_ids=torch.tensor([[2, 3, 4, 5]])).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)

    key = cache_key(network, "cpu", "32-true")
    assert key.startswith(f"torch{torch.__version__.replace('+', '_')}-cpu-32-true-")
    assert key != cache_key(tiny(hidden=48), "cpu", "32-true")  # another shape, another dir
    assert key != cache_key(network, "cpu", "bf16-mixed")
    entry = tmp_path / key
    assert entry_files(entry), "compiled entries are written under <compile_cache>/<key>"
    assert not (tmp_path / "elsewhere").exists()
    cache = open_cache(tmp_path, key)  # what the next process sees
    assert cache.warm
    cache.record()
    assert (entry / MANIFEST).is_file()
    victim = entry_files(entry)[0]  # a real compiled entry, damaged after it was recorded
    victim.write_bytes(victim.read_bytes()[:-8] + b"\0damaged")
    assert not open_cache(tmp_path, key).warm  # moved aside: the next compile starts cold


def test_a_damaged_cache_is_moved_aside_with_a_warning(tmp_path, caplog):
    key = "k"
    (tmp_path / key / "fxgraph" / "ab").mkdir(parents=True)
    entry = tmp_path / key / "fxgraph" / "ab" / "entry"
    entry.write_bytes(b"compiled bytes")
    open_cache(tmp_path, key).record()
    entry.write_bytes(b"compiled bytez")  # damaged after it was recorded
    with caplog.at_level(logging.WARNING, logger="bertlab.model.compile_cache"):
        cache = open_cache(tmp_path, key)
    assert "1 damaged file(s) (fxgraph/ab/entry); moved aside" in caplog.text
    assert not cache.warm and not entry.exists()  # nothing damaged is read: a cold start
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("k.damaged-")]


def test_auto_compiles_only_when_the_planned_steps_repay_it():
    assert plan_compile("auto", None, "cpu", 10_000).how == "eager"
    assert "on cpu" in plan_compile("auto", None, "cpu", 10_000).why
    assert plan_compile("auto", None, "cuda", 0).how == "eager"  # evaluation only
    short = plan_compile("auto", None, "cuda", 160, warm=False)
    assert short.how == "eager" and "160 planned steps" in short.why
    assert plan_compile("auto", None, "cuda", 160_000, warm=False).how == "regional"
    assert plan_compile("auto", None, "cuda", 1_000, warm=True).how == "regional"
    assert plan_compile("auto", None, "cuda", 1_000, warm=False).how == "eager"
    assert plan_compile("auto", None, "cuda", float("inf")).how == "regional"
    assert plan_compile(True, None, "cpu").how == "full"
    assert plan_compile("eager", None, "cuda").how == "eager"
    with pytest.raises(ValueError, match="model.compile must be one of"):
        plan_compile("sometimes", None, "cuda")
