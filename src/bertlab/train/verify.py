"""What differs between a run's records and the data and config it is used with.

A run records its split (`split_manifest.json`: per split the size and a sha256 of its
example ids), its labels and its config; `bertlab.train.run_dir.RunDir` reads them back and
refuses any difference these functions find, so no number is computed on a split that is not
the run's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from bertlab.data.split import label_differences
from bertlab.tasks import task_target

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
    "model.compile_cache",
}


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


def config_differences(
    recorded: DictConfig, current: DictConfig, keys: tuple[str, ...]
) -> list[str]:
    """Dotted keys under `keys` whose resolved values differ between two configs."""
    before = flat(_task_as_node(OmegaConf.to_container(recorded, resolve=True)))
    after = flat(_task_as_node(OmegaConf.to_container(current, resolve=True)))
    changed = []
    for key in sorted(set(before) | set(after)):
        if key in RESUME_FREE or key.split(".", 1)[0] not in keys:
            continue
        if before.get(key) != after.get(key):
            changed.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    return changed


def _task_as_node(cfg: Any) -> Any:
    """data.task as `{_target_: ...}` however it was written (a run made before the task
    group recorded `single_label`; now `{_target_: bertlab.tasks.single_label.SingleLabel}`)."""
    data = cfg.get("data") if isinstance(cfg, dict) else None
    if isinstance(data, dict) and "task" in data:
        data["task"] = task_target(data["task"])
    return cfg


def flat(node: Any, prefix: str = "") -> dict[str, Any]:
    """A nested container as {dotted key: leaf}."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(flat(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}
