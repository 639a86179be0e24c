"""The model card (README.md) of an exported model: task, labels, data, metrics, settings, usage.

Everything comes from the run dir: config.yaml (data source, training settings),
split_manifest.json (split sizes and the sha256 of each split's example ids), metrics.json
(the best validation epoch and the test metrics) and the loaded model (labels, max_length).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bertlab.data.truncation import Truncation
from bertlab.pretrained import DEFAULT
from bertlab.tools.loading import run_config
from bertlab.tools.predictor import Predictor

DEFAULT_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # what model.pretrained=default is
SPLITS = ("train", "validation", "test")
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


def model_card(
    run_dir: Path,
    predictor: Predictor,
    checkpoint: Path,
    model_path: str,
    transformers_model: bool = True,
    onnx: bool = False,
) -> str:
    """The Markdown model card, with Hugging Face YAML front matter and runnable snippets.

    Args:
        run_dir: the exported run.
        predictor: the loaded run (labels, problem type, max_length, text pairs).
        checkpoint: the exported checkpoint file.
        model_path: the export directory as the usage snippets should name it.
        transformers_model: the directory holds a transformers model (a pipeline snippet).
        onnx: the directory holds model.onnx (an onnxruntime snippet).
    """
    cfg, metrics = run_config(run_dir), _read_json(run_dir / "metrics.json")
    pretrained = str(_get(cfg, "model.pretrained"))
    task = predictor.task
    problem, output = task.title, task.output
    network = type(predictor.model.network).__name__
    parts = [
        _front_matter(task.name, _base_model(pretrained), transformers_model, onnx),
        "# Text classifier fine-tuned with bertlab",
        f"`{network}` fine-tuned with bertlab from `{_pretrained_name(pretrained)}` for "
        f"{problem}: {output}. Exported from the run `{run_dir}`, checkpoint "
        f"`{checkpoint.name}`.",
        "## Task\n\n" + _task(predictor, problem),
        "## Data\n\n" + _data(cfg, _read_json(run_dir / "split_manifest.json")),
        "## Metrics\n\n" + _metrics(metrics, checkpoint),
        "## Training\n\n" + _training(cfg, metrics),
        "## Usage\n\n" + _usage(predictor, model_path, transformers_model, onnx),
    ]
    return "\n\n".join(parts) + "\n"


def _front_matter(task_name: str, base_model: str | None, hf: bool, onnx: bool) -> str:
    tags = ["bertlab", "text-classification", task_name.replace("_", "-"), *(["onnx"] * onnx)]
    lines = [
        "---",
        f"library_name: {'transformers' if hf else 'onnx'}",
        "pipeline_tag: text-classification",
        "tags:",
        *(f"- {tag}" for tag in tags),
        *([f"base_model: {base_model}"] if base_model else []),
        "---",
    ]
    return "\n".join(lines)


def _task(predictor: Predictor, problem: str) -> str:
    inputs = "a text and its pair (two texts)" if predictor.uses_pairs else "one text"
    longer = kept(predictor.truncation, predictor.max_length)
    if not predictor.task.has_classes:
        labels = "none: the model outputs one value"
    else:
        labels = ", ".join(f"{i} `{name}`" for i, name in enumerate(predictor.label_names))
    return "\n".join(
        [
            f"- Problem type: {problem} (`{predictor.task.name}`)",
            f"- Input: {inputs}; a longer one is {longer}",
            f"- Labels (id `name`): {labels}",
        ]
    )


def _data(cfg: DictConfig, manifest: dict) -> str:
    source = _get(cfg, "data.source") or {}
    kind = str(source.get("_target_", "unknown")).rsplit(".", 1)[-1]
    fields = [f"{k} `{_plain(v)}`" for k, v in source.items() if k != "_target_" and v is not None]
    lines = [f"- Source: `{kind}`" + (f": {', '.join(fields)}" if fields else "")]
    if not manifest:
        return "\n".join([*lines, "- Splits: not recorded (the run has no split_manifest.json)"])
    if cleaning := manifest.get("cleaning"):
        lines.append("- Cleaning: " + ", ".join(f"{k} {_plain(v)}" for k, v in cleaning.items()))
    splits = manifest.get("splits", {})
    ratios = manifest.get("ratios") or {}
    ratios = ", ".join(f"{k} {ratios[k]}" for k in sorted(ratios, key=lambda k: _order(k, SPLITS)))
    lines.append(f"- Split: seed {manifest.get('seed')}" + (f", ratios {ratios}" if ratios else ""))
    rows = [
        [
            name,
            str(split.get("size")),
            ", ".join(f"{k} {v}" for k, v in (split.get("label_counts") or {}).items()),
            f"`{split.get('ids_sha256')}`",
        ]
        for name, split in sorted(splits.items(), key=lambda kv: _order(kv[0], SPLITS))
    ]
    return "\n".join(lines) + "\n\n" + _table(["split", "examples", "labels", "ids_sha256"], rows)


def _metrics(metrics: dict, checkpoint: Path) -> str:
    if not metrics:
        return "Not recorded (the run has no metrics.json)."
    val, test = _by_name(metrics.get("best_val")), _by_name(metrics.get("test"))
    best = metrics.get("best_val") or {}
    text = (
        f"Objective `{metrics.get('objective')}` ({metrics.get('mode')}); the best validation "
        f"epoch is {best.get('epoch')} (step {best.get('step')})"
    )
    text += (
        ", and the test split was scored with its checkpoint."
        if test
        else "; the test split was not scored (test_after_fit off)."
    )
    best_file = Path(metrics.get("best_checkpoint") or "").name
    if best_file and best_file != checkpoint.name:
        text += f" These are the scores of `{best_file}`, not of the exported `{checkpoint.name}`."
    header = ["metric", "validation", *(["test"] * bool(test))]
    rows = [
        [name, _number(val.get(name)), *([_number(test.get(name))] * bool(test))]
        for name in sorted(val.keys() | test.keys())
    ]
    return text + "\n\n" + _table(header, rows)


def _training(cfg: DictConfig, metrics: dict) -> str:
    optimizer = str(_get(cfg, "model.optimizer._target_")).rsplit(".", 1)[-1]
    settings = [
        ["base model", _pretrained_name(str(_get(cfg, "model.pretrained")))],
        ["model class", _get(cfg, "model._target_")],
        ["optimizer", optimizer],
        ["learning rate", _get(cfg, "model.optimizer.lr")],
        ["weight decay", _get(cfg, "model.optimizer.weight_decay")],
        ["batch size", _get(cfg, "data.batch_size")],
        [
            "epochs run (max_epochs)",
            f"{metrics.get('epochs_run')} ({_get(cfg, 'trainer.max_epochs')})",
        ],
        ["max_length", _get(cfg, "data.max_length")],
        ["truncation", _get(cfg, "data.truncation") or "head"],
        ["seed (split seed)", f"{_get(cfg, 'seed')} ({_get(cfg, 'data.split_seed')})"],
        ["precision", _get(cfg, "trainer.precision")],
    ]
    return _table(["setting", "value"], [[name, f"`{value}`"] for name, value in settings])


def _usage(predictor: Predictor, model_path: str, hf: bool, onnx: bool) -> str:
    pairs = predictor.uses_pairs
    texts = f"texts = {_literal(EXAMPLES)}" + (f"\npairs = {_literal(PAIRS)}" if pairs else "")
    common = {"model": _literal(model_path), "texts": texts, "max_length": predictor.max_length}
    parts = []
    if hf:
        inputs = '[{"text": t, "text_pair": p} for t, p in zip(texts, pairs)]' if pairs else "texts"
        code = PIPELINE_SNIPPET.substitute(common, inputs=inputs)
        parts.append(f"With `transformers`:\n\n```python\n{code}```")
    if onnx:
        classes = predictor.task.has_classes
        code = ONNX_SNIPPET.substitute(
            common,
            onnx_file=_literal(str(Path(model_path) / "model.onnx")),
            labels=f"labels = {_literal(predictor.label_names)}\n" if classes else "",
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


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def _by_name(row: dict | None) -> dict[str, Any]:
    """{'val/acc': 0.9, 'epoch': 1} -> {'acc': 0.9}: the metrics, without their stage prefix."""
    return {k.split("/", 1)[1]: v for k, v in (row or {}).items() if "/" in k}


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "—" if value is None else str(value)


def _literal(value: str | Sequence[str]) -> str:
    """A Python literal for a string or a list of strings, in double quotes (as JSON)."""
    return json.dumps(value if isinstance(value, str) else list(value), ensure_ascii=False)


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _order(name: str, known: tuple[str, ...]) -> tuple[int, str]:
    return (known.index(name) if name in known else len(known), name)


def _get(cfg: DictConfig, key: str) -> Any:
    """The config's value at `key`, resolved, as plain Python (None when missing)."""
    value = OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _pretrained_name(pretrained: str) -> str:
    return f"{DEFAULT_HUB_NAME} (bertlab's default)" if _is_default(pretrained) else pretrained


def _base_model(pretrained: str) -> str | None:
    """The hub name of the base model, for the card's metadata (None for a local directory)."""
    if _is_default(pretrained):
        return DEFAULT_HUB_NAME
    local = Path(pretrained).expanduser().exists() or pretrained.startswith((".", "/", "~"))
    return None if local else pretrained


def _is_default(pretrained: str) -> bool:
    return pretrained in (DEFAULT, "", "None")  # as resolve_pretrained reads them


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
