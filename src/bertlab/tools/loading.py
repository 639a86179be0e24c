"""A finished run dir read back: its config, its checkpoint and its model.

The one way bertlab loads a run's model: build the run's model class from its config.yaml
(allow-listed targets only) with the labels of its label_map.json, then load the checkpoint's
whole state dict (weights_only). `Predictor.from_run` and every CLI tool use `load_model`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from bertlab.data.encoding import Encoding
from bertlab.errors import ModelError
from bertlab.model.module import TextClassifier
from bertlab.utils.checkpoint_io import load_checkpoint_file
from bertlab.utils.instantiate import instantiate_trusted

log = logging.getLogger(__name__)
ENCODING = "encoding.json"


def find_run_dir(path: str | Path) -> Path:
    """The run dir of `path`: the dir itself, or the run holding a checkpoint file."""
    path = Path(path).expanduser().resolve()
    for candidate in (path, *path.parents):
        if (candidate / "config.yaml").is_file() and (candidate / "label_map.json").is_file():
            return candidate
    raise ModelError(
        f"{path} is not inside a bertlab run dir (a folder with config.yaml and label_map.json, "
        "as train.py writes under outputs/). Pass the run dir or one of its checkpoints."
    )


def run_config(run_dir: Path) -> DictConfig:
    """The run's composed, resolved config, with paths.output_dir = where the run dir is now.

    Runs made before data.problem_type was renamed data.task are read with the new name."""
    cfg = OmegaConf.load(run_dir / "config.yaml")
    OmegaConf.update(cfg, "paths.output_dir", str(run_dir), force_add=True)
    data = cfg.get("data")
    if isinstance(data, DictConfig) and "problem_type" in data and "task" not in data:
        with open_dict(data):
            data.task = data.pop("problem_type")
    return cfg


def run_checkpoint(run_dir: Path, checkpoint: str | Path = "best") -> Path:
    """The run's `best` (named in metrics.json) or `last` checkpoint, or a given .ckpt path.

    `best` is looked up by name in the run dir's own checkpoints/, so a copied or moved run
    dir loads its own file, never the original's.
    """
    ckpt_dir = run_dir / "checkpoints"
    if str(checkpoint) == "last":
        path = ckpt_dir / "last.ckpt"
    elif str(checkpoint) == "best":
        metrics = run_dir / "metrics.json"
        best = json.loads(metrics.read_text()).get("best_checkpoint") if metrics.is_file() else None
        if not best:
            raise ModelError(
                f"{run_dir} records no best checkpoint (metrics.json is missing or has none: did "
                "the run finish?). Use --checkpoint last or a path to a .ckpt file."
            )
        path = ckpt_dir / Path(best).name
    else:
        path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise ModelError(f"Checkpoint {path} does not exist; use best, last or a .ckpt path.")
    return path


def run_encoding(run_dir: Path, cfg: DictConfig | None = None) -> Encoding:
    """How the run encoded text (its encoding.json, with the tokenizer's sha256); a run made
    before that file existed: from its config (the tokenizer then unverified)."""
    path = run_dir / ENCODING
    if path.is_file():
        return Encoding.from_json(json.loads(path.read_text(encoding="utf-8")))
    return Encoding.from_config((cfg if cfg is not None else run_config(run_dir)).data)


def run_labels(run_dir: Path) -> tuple[str, list[str]]:
    """(task name, label names in id order) from the run's label_map.json."""
    label_map = json.loads((run_dir / "label_map.json").read_text())
    names = [label_map["id2label"][k] for k in sorted(label_map["id2label"], key=int)]
    return label_map["problem_type"], names


def load_model(run_dir: Path, cfg: DictConfig, checkpoint: Path) -> TextClassifier:
    """Instantiate the run's model class from its config and load the checkpoint's state."""
    from bertlab.tasks import get_task

    task_name, names = run_labels(run_dir)
    task = get_task(OmegaConf.select(cfg, "data.task", default=None) or task_name)  # a class path
    if task.name != task_name:
        raise ModelError(
            f"{run_dir}: config.yaml selects the {task.name} task but label_map.json records "
            f"{task_name}; the run dir was edited. Restore the run's own files."
        )
    model = instantiate_trusted(
        cfg.model,
        origin=str(run_dir / "config.yaml"),
        _convert_="partial",
        num_labels=task.num_labels(names),
        task=task,
        label_names=names or None,
        compile=False,
    )
    state = load_checkpoint_file(checkpoint)
    model.load_state_dict(TextClassifier.current_state_dict(state["state_dict"]))
    log.info("Loaded %s (epoch %s) into %s", checkpoint, state.get("epoch"), type(model).__name__)
    return model.eval()
