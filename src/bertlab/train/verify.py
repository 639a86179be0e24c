"""Checks that a run dir still describes the data and model it is used with.

A run records its split (`split_manifest.json`: per split the size and a sha256 of its
example ids), its labels (`label_map.json`) and its config. Evaluating or resuming a run
recomputes these from the current data and config and refuses any difference, so no number
is computed on a split that is not the run's own."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bertlab.data.split import label_differences
from bertlab.errors import DataError, RunDirError

MANIFEST, LABEL_MAP, CONFIG = "split_manifest.json", "label_map.json", "config.yaml"
# Keys whose change makes a resumed run a different experiment (refused); others may change
# (e.g. trainer.max_epochs to train longer) and are only logged.
RESUME_FIXED = ("data", "model", "seed", "objective")
# ...except these, which change where or how fast it runs, not what it computes.
RESUME_FREE = {
    "data.cache_dir",
    "data.num_workers",
    "data.pin_memory",
    "data.persistent_workers",
    "model.compile",
    "model.compile_mode",
}


def read_json(path: Path) -> dict:
    """A run file as JSON, or one error naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise RunDirError(f"{path} is missing: this run dir is incomplete.") from err
    except (OSError, ValueError) as err:
        raise RunDirError(
            f"{path} cannot be read as JSON ({err}): the run dir is damaged."
        ) from err


def split_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two split manifests (empty when they match)."""
    out = []
    for name, now in current.get("splits", {}).items():
        then = recorded.get("splits", {}).get(name)
        if then is None:
            out.append(f"{name}: not in the run's manifest")
        elif then["size"] != now["size"]:
            out.append(f"{name}: {now['size']} examples now, {then['size']} in the run")
        elif then["ids_sha256"] != now["ids_sha256"]:
            out.append(f"{name}: same size ({now['size']}) but other examples")
    return out + label_differences(recorded, current)


def check_same_split(run_dir: Path, current: Mapping[str, Any]) -> None:
    """Refuse when the data now gives another split than the run's `split_manifest.json`.

    Raises:
        DataError: naming each split that changed.
    """
    diffs = split_differences(read_json(run_dir / MANIFEST), current)
    if diffs:
        raise DataError(
            f"The data changed since {run_dir} was trained: {'; '.join(diffs)}. Its splits "
            "can no longer be rebuilt, so a score on them would mix in other (possibly "
            "training) examples. To score a new labelled file, use "
            "`python -m bertlab.evaluate RUN --file new.csv`."
        )


def check_same_labels(run_dir: Path, task_name: str, label_names: list[str]) -> None:
    """Refuse when the data's labels differ from the run's `label_map.json`.

    Raises:
        DataError: naming both label lists.
    """
    recorded = read_json(run_dir / LABEL_MAP)
    then = [recorded["id2label"][k] for k in sorted(recorded.get("id2label", {}), key=int)]
    if recorded.get("problem_type") != task_name or then != list(label_names):
        raise DataError(
            f"The data now has {task_name} labels {label_names}; {run_dir} was trained on "
            f"{recorded.get('problem_type')} labels {then}."
        )


def config_differences(
    recorded: DictConfig, current: DictConfig, keys: tuple[str, ...]
) -> list[str]:
    """Dotted keys under `keys` whose resolved values differ between two configs."""
    before = _flat(OmegaConf.to_container(recorded, resolve=True))
    after = _flat(OmegaConf.to_container(current, resolve=True))
    changed = []
    for key in sorted(set(before) | set(after)):
        if key in RESUME_FREE or key.split(".", 1)[0] not in keys:
            continue
        if before.get(key) != after.get(key):
            changed.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    return changed


def check_resume_compatible(run_dir: Path, cfg: DictConfig) -> list[str]:
    """Refuse a resume whose data, model, seed or objective differ from the recorded run.

    Returns:
        The other keys that changed (allowed, e.g. trainer.max_epochs), for the log.

    Raises:
        RunDirError: naming the keys that differ.
    """
    path = run_dir / CONFIG
    if not path.is_file():
        raise RunDirError(f"resume={run_dir}: {path} is missing, so the run cannot be checked.")
    recorded = OmegaConf.load(path)
    current = cfg.copy()
    for node in (recorded, current):  # where the run writes is the resume target itself
        OmegaConf.update(node, "paths.output_dir", None, force_add=True)
    fixed = config_differences(recorded, current, RESUME_FIXED)
    if fixed:
        raise RunDirError(
            f"resume={run_dir} with another setup than the run's: {'; '.join(fixed)}. Resume "
            "with the run's own overrides (its config.yaml), or start a new run without resume=."
        )
    others = {k.split(".", 1)[0] for k in _flat(OmegaConf.to_container(current))}
    return config_differences(recorded, current, tuple(others - set(RESUME_FIXED)))


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}
