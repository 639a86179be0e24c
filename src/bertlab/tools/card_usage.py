"""The Usage section of a model card: runnable snippets, and how they cut long texts.

The snippets load the exported directory with ``transformers.pipeline`` or ONNX Runtime and
cut long texts with ``truncation=True``; the export saves the tokenizer with the
``truncation_side`` that makes that cut match the run's ``data.truncation`` where a tokenizer
can (head, tail), and the card says so in bold where it cannot (head_tail, chunks).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from string import Template

from bertlab.data.truncation import Truncation
from bertlab.tools.predictor import Predictor

EXAMPLES = ("a first text to classify", "a second, longer text to classify with the model")
PAIRS = ("the first text's pair", "the second text's pair")
PIPELINE_SNIPPET = Template(
    """\
from transformers import pipeline

classifier = pipeline("text-classification", model=$model)
$texts
predictions = classifier($inputs, top_k=None, truncation=True, max_length=$max_length)
print(predictions)
"""
)
ONNX_SNIPPET = Template(
    """\
import numpy as np
import onnxruntime
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained($model)
session = onnxruntime.InferenceSession($onnx_file)
$labels$texts
batch = tokenizer(
    texts$pairs,
    padding=True,
    truncation=True,
    max_length=$max_length,
    return_token_type_ids=True,
    return_tensors="np",
)
names = ("input_ids", "attention_mask", "token_type_ids")
logits = session.run(["logits"], {name: batch[name] for name in names})[0]
$scores
"""
)


def usage(predictor: Predictor, model_path: str, hf: bool, onnx: bool) -> str:
    pairs = predictor.uses_pairs
    texts = f"texts = {literal(EXAMPLES)}" + (f"\npairs = {literal(PAIRS)}" if pairs else "")
    common = {"model": literal(model_path), "texts": texts, "max_length": predictor.max_length}
    parts = []
    if hf:
        inputs = '[{"text": t, "text_pair": p} for t, p in zip(texts, pairs)]' if pairs else "texts"
        code = PIPELINE_SNIPPET.substitute(common, inputs=inputs)
        parts.append(f"With `transformers`:\n\n```python\n{code}```")
    if onnx:
        classes = predictor.task.has_classes
        code = ONNX_SNIPPET.substitute(
            common,
            onnx_file=literal(str(Path(model_path) / "model.onnx")),
            labels=f"labels = {literal(predictor.label_names)}\n" if classes else "",
            pairs=", pairs" if pairs else "",
            scores=predictor.task.onnx_scores,
        )
        parts.append(
            "With ONNX Runtime (`model.onnx`: inputs input_ids, attention_mask, token_type_ids, "
            f"output logits; any batch size and length):\n\n```python\n{code}```"
        )
    return "\n\n".join([*parts, cut_note(predictor.truncation, predictor.max_length)])


def kept(truncation: Truncation, max_length: int) -> str:
    """What the run keeps of a text longer than ``max_length`` tokens (specials included)."""
    t = truncation
    if t.strategy == "head":
        return f"cut to its first {max_length} tokens"
    if t.strategy == "tail":
        return f"cut to its last {max_length} tokens"
    if t.strategy == "head_tail":
        return f"cut to its first {t.head_tokens} and last {max_length - t.head_tokens} tokens"
    return (
        f"split into windows of {max_length} tokens overlapping by {t.chunk_stride}, "
        f"the windows' logits {t.chunk_pooling}-pooled per text"
    )


# The exported tokenizer's truncation_side that makes `truncation=True` cut as the run did.
TRUNCATION_SIDE = {"head": "right", "tail": "left"}


def cut_note(truncation: Truncation, max_length: int) -> str:
    """What the snippets' ``truncation=True`` does, and whether the run did the same."""
    if truncation.strategy in TRUNCATION_SIDE:
        which = "first" if truncation.strategy == "head" else "last"
        return (
            f"`truncation=True, max_length={max_length}` keeps a long text's {which} "
            f"{max_length} tokens (the exported tokenizer's truncation_side is "
            f"`{TRUNCATION_SIDE[truncation.strategy]}`), as training did."
        )
    return (
        f"**Long texts:** `truncation=True, max_length={max_length}` keeps the first "
        f"{max_length} tokens, but this model was trained with "
        f"`data.truncation={truncation.strategy}` (a longer text is "
        f"{kept(truncation, max_length)}). For texts longer than {max_length} tokens the "
        "snippets' outputs differ from the run's; `bertlab-predict <run dir> <file>` gives "
        "the run's."
    )


def literal(value: str | Sequence[str]) -> str:
    """A Python literal for a string or a list of strings, in double quotes (as JSON)."""
    return json.dumps(value if isinstance(value, str) else list(value), ensure_ascii=False)
