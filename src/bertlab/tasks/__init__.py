"""Problem types as objects: `get_task("single_label")` → a `Task` that owns label encoding,
loss, metrics and outputs (see `bertlab.tasks.base`). Add your own with `register_task`, or
name its class in the `task` config group / by dotted path in `data.task` (docs/extending.md)."""

from __future__ import annotations

from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf

from bertlab.errors import ConfigError
from bertlab.tasks.base import Task, class_path
from bertlab.tasks.multi_label import MultiLabel
from bertlab.tasks.regression import Regression
from bertlab.tasks.single_label import SingleLabel
from bertlab.utils.instantiate import trust_subclasses

trust_subclasses(Task)  # bertlab's tasks may be built from a run's config

TASKS: dict[str, type[Task]] = {t.name: t for t in (SingleLabel, MultiLabel, Regression)}


def register_task(cls: type[Task]) -> type[Task]:
    """Make `data.task=<cls.name>` select `cls` (usable as a class decorator)."""
    TASKS[cls.name] = cls
    return cls


def get_task(spec: str | Mapping | Task | None, origin: str | None = None) -> Task:
    """The task `spec` names: a registered name, a dotted class path, a config node
    (`{_target_: <class path>, <constructor arguments>}`, as configs/task/ holds) or a Task.

    Args:
        origin: the run file `spec` was read from (after training). Its class paths must be
            allow-listed (`BERTLAB_TRUSTED_TARGETS`); a class named in your own config or on
            your own command line (origin None) needs no trust.

    Raises:
        ConfigError: an unknown name, a path that is not a Task class (or, with `origin`, not
            trusted), or arguments the class does not take.
    """
    if isinstance(spec, Task):
        return spec
    if spec is None:
        spec = "single_label"
    if isinstance(spec, DictConfig):
        spec = OmegaConf.to_container(spec, resolve=True)
    if isinstance(spec, Mapping):
        args = {str(k): v for k, v in spec.items() if k != "_target_"}
        target = str(spec.get("_target_", ""))
    else:
        spec, args = str(spec), {}
        if spec in TASKS:
            return TASKS[spec]()
        if "." not in spec:
            raise ConfigError(
                f"data.task={spec}: use one of {', '.join(TASKS)} (or a Task class path)."
            )
        target = spec
    return _build(target, args, origin)


def _build(target: str, args: dict, origin: str | None) -> Task:
    """Import `target` (checked against the allow-list when it comes from a run's file)."""
    from hydra._internal.utils import _locate

    from bertlab.utils.instantiate import TRUST_ENV, is_trusted

    if origin is not None and not is_trusted(target):
        raise ConfigError(
            f"{origin} names the task {target}, which bertlab does not build after training "
            f"unless trusted: a class of your own must subclass bertlab.tasks.Task and its "
            f"module be trusted with {TRUST_ENV}=<prefix>, e.g. "
            f"{TRUST_ENV}={target.rsplit('.', 1)[0]}."
        )
    try:
        cls = _locate(target)
    except Exception as err:
        raise ConfigError(
            f"task {target!r} cannot be imported ({err}). Name a Task class by its dotted path "
            "(its module on PYTHONPATH), or one of " + ", ".join(TASKS) + "."
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise ConfigError(f"task {target!r} is not a subclass of bertlab.tasks.Task.")
    try:
        return cls(**args)
    except TypeError as err:
        raise ConfigError(f"task {target}: {err} (check the task's arguments).") from None


def task_target(spec: str | Mapping | None) -> dict:
    """`spec` as a config node `{_target_: <class path>, ...}`, without importing anything
    (a registered name gives its class's path): how runs' task settings are compared."""
    if isinstance(spec, DictConfig):
        spec = OmegaConf.to_container(spec, resolve=True)
    if isinstance(spec, Mapping):
        return {str(k): v for k, v in spec.items()}
    name = "single_label" if spec is None else str(spec)
    if name in TASKS:
        return {"_target_": class_path(TASKS[name])}
    return {"_target_": name}


__all__ = [
    "TASKS",
    "MultiLabel",
    "Regression",
    "SingleLabel",
    "Task",
    "get_task",
    "register_task",
    "task_target",
]
