"""A finished run dir read back: its config, its checkpoint and its model.

The one way bertlab loads a run's model: build the run's model class from its config.yaml
(allow-listed targets only) with the labels of its label_map.json, then load the checkpoint's
whole state dict (weights_only). `Predictor.from_run` and every CLI tool use `load_model`."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from bertlab.data.encoding import Encoding
from bertlab.errors import ModelError
from bertlab.model.module import TextClassifier
from bertlab.train.run_dir import RunDir
from bertlab.utils.checkpoint_io import load_checkpoint_file
from bertlab.utils.instantiate import instantiate_trusted

log = logging.getLogger(__name__)


def find_run_dir(path: str | Path) -> Path:
    """The run dir of `path`: the dir itself, or the run holding a checkpoint file."""
    return RunDir.find(path).path


def run_config(run_dir: Path) -> DictConfig:
    """The run's composed, resolved config (`RunDir.config`)."""
    return RunDir(run_dir).config()


def run_checkpoint(run_dir: Path, checkpoint: str | Path = "best") -> Path:
    """The run's `best` or `last` checkpoint, or a given .ckpt path (`RunDir.checkpoint`)."""
    return RunDir(run_dir).checkpoint(checkpoint)


def run_encoding(run_dir: Path, cfg: DictConfig | None = None) -> Encoding:
    """How the run encoded text (its encoding.json, with the tokenizer's sha256); a run made
    before that file existed: from its config (the tokenizer then unverified)."""
    run = RunDir(run_dir)
    record = run.encoding_record()
    if record is not None:
        return Encoding.from_json(record)
    return Encoding.from_config((cfg if cfg is not None else run.config()).data)


def load_model(run_dir: Path, cfg: DictConfig, checkpoint: Path) -> TextClassifier:
    """Instantiate the run's model class from its config and load the checkpoint's state."""
    from bertlab.tasks import get_task

    run = RunDir(run_dir)
    task_name, names = run.labels()
    spec = OmegaConf.select(cfg, "data.task", default=None) or task_name
    task = get_task(spec, origin=run.config_origin)  # a class path must be allow-listed
    if task.name != task_name:
        raise ModelError(
            f"{run_dir}: {run.CONFIG} selects the {task.name} task but {run.LABEL_MAP} records "
            f"{task_name}; the run dir was edited. Restore the run's own files."
        )
    model = instantiate_trusted(
        cfg.model,
        origin=run.config_origin,
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
