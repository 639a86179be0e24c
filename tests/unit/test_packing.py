"""Packed sequences (bertlab.data.packing, bertlab.model.packing): the packer, the collator,
and logits equal to the unpacked model's (fp32, CPU, tiny random BERT)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from bertlab.data.batching import PadCollator
from bertlab.data.packing import PackCollator, pack_rows, packing_efficiency
from bertlab.model.packing import block_diagonal_mask, packed_logits

MAX = 32


def tiny_network(attn: str) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=120,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64,
        type_vocab_size=2,
        num_labels=3,
        initializer_range=0.3,  # larger than BERT's 0.02: a wrong mask shows in the logits
    )
    config._attn_implementation = attn
    return BertForSequenceClassification(config).eval()


def make_examples(lengths, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for n in lengths:
        ids = rng.integers(5, 120, n)
        ids[0], ids[-1] = 101 % 120, 102 % 120
        types = np.zeros(n, dtype=np.int64)
        types[n // 2 :] = 1  # a pair: second segment's type ids must survive packing
        out.append((ids, types, np.int64(rng.integers(0, 3))))
    return out


def test_pack_rows_first_fit_every_example_once():
    lengths = np.random.default_rng(0).integers(1, 129, 500)
    rows = pack_rows(lengths, 128)
    flat = [i for row in rows for i in row]
    assert sorted(flat) == list(range(500))  # every example exactly once
    assert all(sum(lengths[row]) <= 128 for row in rows)
    lower = -(-int(lengths.sum()) // 128)
    assert len(rows) <= 1.25 * lower + 1  # first-fit decreasing is near the bound
    assert packing_efficiency(lengths, 128) > 0.8


def test_pack_rows_refuses_too_long_and_handles_exact_fit():
    assert pack_rows([32, 32, 10, 22], 32) == [[0], [1], [3, 2]]  # longest first
    with pytest.raises(ValueError, match="1..32"):
        pack_rows([33], 32)
    assert pack_rows([], 32) == []


def test_collator_layout_order_recoverable():
    lengths = [5, 17, 32, 3, 9, 12, 1 + 1]
    examples = make_examples(lengths)
    batch = PackCollator(pad_token_id=0, max_length=MAX)(examples)
    assert batch["input_ids"].shape[1] == MAX
    assert batch["labels"].tolist() == [int(e[2]) for e in examples]
    seg = batch["segment_ids"]
    for i, (ids, types, _) in enumerate(examples):
        row, col = batch["cls_index"][i].tolist()
        span = slice(col, col + len(ids))
        assert batch["input_ids"][row, span].tolist() == ids.tolist()
        assert batch["token_type_ids"][row, span].tolist() == types.tolist()
        assert batch["position_ids"][row, span].tolist() == list(range(len(ids)))
        assert (seg[row] == i).sum() == len(ids)  # contiguous, nothing else in its segment
    assert int((seg >= 0).sum()) == sum(lengths)
    assert (batch["input_ids"][seg < 0] == 0).all()


def test_collator_pads_width_to_bucket():
    examples = make_examples([5, 6])
    batch = PackCollator(max_length=MAX, pad_to_multiple_of=[16, 32])(examples)
    assert batch["input_ids"].shape == (1, 16)


def test_block_diagonal_mask():
    seg = torch.tensor([[0, 0, 1, 1, 1, -1]])
    mask = block_diagonal_mask(seg)
    assert mask.shape == (1, 1, 6, 6)
    assert mask[0, 0, 0].tolist() == [True, True, False, False, False, False]
    assert mask[0, 0, 3].tolist() == [False, False, True, True, True, False]
    assert mask[0, 0, 5].tolist() == [False] * 5 + [True]
    additive = block_diagonal_mask(seg, "additive")
    assert additive[0, 0, 0, 0] == 0 and additive[0, 0, 0, 2] == torch.finfo(torch.float32).min


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logits_equal_unpacked(attn):
    network = tiny_network(attn)
    lengths = [5, 17, 32, 3, 9, 12, 2, 30, 1 + 6]  # 32 fills a row exactly
    examples = make_examples(lengths, seed=1)
    packed = PackCollator(max_length=MAX)(examples)
    assert packed["input_ids"].shape[0] < len(examples)  # really packed
    padded = PadCollator(pad_to_multiple_of=None)(examples)
    with torch.no_grad():
        got = packed_logits(network, packed)
        want = network(
            input_ids=padded["input_ids"],
            attention_mask=padded["attention_mask"],
            token_type_ids=padded["token_type_ids"],
        ).logits
        alone = torch.cat(  # each example on its own, no padding at all
            [
                network(
                    input_ids=torch.as_tensor(ids)[None],
                    token_type_ids=torch.as_tensor(types)[None],
                ).logits
                for ids, types, _ in examples
            ]
        )
    assert got.shape == (len(examples), 3)
    assert (got - want).abs().max().item() <= 1e-5
    assert (got - alone).abs().max().item() <= 1e-5


def test_packed_logits_refuse_unsupported_attention():
    network = tiny_network("sdpa")
    network.bert.config._attn_implementation = "flash_attention_2"
    batch = PackCollator(max_length=MAX)(make_examples([4]))
    with pytest.raises(ValueError, match="sdpa or eager"):
        packed_logits(network, batch)


def test_packed_gradients_flow():
    network = tiny_network("sdpa").train()
    batch = PackCollator(max_length=MAX)(make_examples([5, 9, 12]))
    loss = torch.nn.functional.cross_entropy(packed_logits(network, batch), batch["labels"])
    loss.backward()
    grad = network.bert.embeddings.word_embeddings.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
