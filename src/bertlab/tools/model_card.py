"""The model card (README.md) of an exported model: task, labels, data, metrics, settings, usage.

Everything comes from the run dir: config.yaml (data source, training settings),
split_manifest.json (split sizes and the sha256 of each split's example ids), metrics.json
(the best validation epoch and the test metrics) and the loaded model (labels, max_length).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bertlab.data.encoding import Encoding
from bertlab.pretrained import DEFAULT
from bertlab.tools.card_usage import kept, usage
from bertlab.tools.predictor import Predictor
from bertlab.train.run_dir import RunDir

DEFAULT_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # what model.pretrained=default is
SPLITS = ("train", "validation", "test")


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
    run = RunDir(run_dir)
    cfg, metrics = run.config(), run.metrics()
    pretrained = str(_get(cfg, "model.pretrained"))
    task = predictor.task
    problem = task.title or f"the task `{task.name}`"
    output = f": {task.output}" if task.output else ""
    network = type(predictor.model.network).__name__
    parts = [
        _front_matter(task.name, _base_model(pretrained), transformers_model, onnx),
        "# Text classifier fine-tuned with bertlab",
        f"`{network}` fine-tuned with bertlab from `{_pretrained_name(pretrained)}` for "
        f"{problem}{output}. Exported from the run `{Path(run_dir).name}`, checkpoint "
        f"`{checkpoint.name}`.",
        "## Task\n\n" + _task(predictor, problem),
        "## Data\n\n" + _data(cfg, run.manifest()),
        "## Metrics\n\n" + _metrics(metrics, checkpoint),
        "## Training\n\n" + _training(cfg, metrics, predictor.encoding),
        "## Intended use and limitations\n\n" + _limitations(cfg, pretrained, predictor),
        "## Usage\n\n" + usage(predictor, model_path, transformers_model, onnx),
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
        *([f"license: {BASE_LICENSES[base_model]}"] if base_model in BASE_LICENSES else []),
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
    fields = [
        f"{k} `{_local_name(_plain(v))}`"
        for k, v in source.items()
        if k != "_target_" and v is not None
    ]
    lines = [f"- Source: `{kind}`" + (f": {', '.join(fields)}" if fields else "")]
    if not manifest:
        return "\n".join([*lines, f"- Splits: not recorded (the run has no {RunDir.MANIFEST})"])
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
        return f"Not recorded (the run has no {RunDir.METRICS})."
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


def _training(cfg: DictConfig, metrics: dict, encoding: Encoding) -> str:
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
        ["max_length", encoding.max_length],
        ["truncation", encoding.truncation.strategy],
        ["seed (split seed)", f"{_get(cfg, 'seed')} ({_get(cfg, 'data.split_seed')})"],
        ["precision", _get(cfg, "trainer.precision")],
    ]
    return _table(["setting", "value"], [[name, f"`{value}`"] for name, value in settings])


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def _by_name(row: dict | None) -> dict[str, Any]:
    """{'val/acc': 0.9, 'epoch': 1} -> {'acc': 0.9}: the metrics, without their stage prefix."""
    return {k.split("/", 1)[1]: v for k, v in (row or {}).items() if "/" in k}


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "—" if value is None else str(value)


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


def _local_name(value: str) -> str:
    """A local absolute path as its file name only: the card travels, this machine does not."""
    return Path(value).name if value.startswith(("/", "~")) else value


BASE_LICENSES = {DEFAULT_HUB_NAME: "apache-2.0"}  # the packaged default's weights


def _license(pretrained: str) -> str | None:
    """The base model's license: known for the default, else its own card's `license:`."""
    if _is_default(pretrained):
        return BASE_LICENSES[DEFAULT_HUB_NAME]
    card = Path(pretrained).expanduser() / "README.md"
    if card.is_file():
        for line in card.read_text(encoding="utf-8", errors="replace").splitlines()[:40]:
            if line.startswith("license:"):
                return line.split(":", 1)[1].strip() or None
    return None


def _limitations(cfg: DictConfig, pretrained: str, predictor: Predictor) -> str:
    source = str(_get(cfg, "data.source._target_") or "unknown").rsplit(".", 1)[-1]
    subset = _get(cfg, "data.source.subset")
    data = f"`{source}`" + (f" (`{subset}`)" if subset else "")
    license_ = _license(pretrained)
    return "\n".join(
        [
            f"- Intended use: research and evaluation of {predictor.task.title or 'this task'} "
            f"on texts like its training data, {data}. Check it on your own data before "
            "relying on it; it is not meant for decisions about people.",
            f"- Limitations: it learned only from that data (its language, domain, length and "
            f"label definitions); texts longer than {predictor.max_length} tokens are "
            f"{kept(predictor.truncation, predictor.max_length)}; the scores above are from "
            "one split of that data and one seed, not a guarantee elsewhere; biases of the "
            "data and of the base model carry over.",
            f"- Base model: `{_pretrained_name(pretrained)}`, license "
            + (f"`{license_}`" if license_ else "unknown (see the base model's own card)")
            + "; this fine-tuned model is bound by it.",
        ]
    )


def _pretrained_name(pretrained: str) -> str:
    if _is_default(pretrained):
        return f"{DEFAULT_HUB_NAME} (bertlab's default)"
    return _local_name(pretrained)


def _base_model(pretrained: str) -> str | None:
    """The hub name of the base model, for the card's metadata (None for a local directory)."""
    if _is_default(pretrained):
        return DEFAULT_HUB_NAME
    local = Path(pretrained).expanduser().exists() or pretrained.startswith((".", "/", "~"))
    return None if local else pretrained


def _is_default(pretrained: str) -> bool:
    return pretrained in (DEFAULT, "", "None")  # as resolve_pretrained reads them
