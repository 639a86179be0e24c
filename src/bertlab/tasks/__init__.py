"""Problem types as objects: `get_task("single_label")` → a `Task` that owns label encoding,
loss, metrics and outputs (see `bertlab.tasks.base`). Add your own with `register_task`, or
name its class by dotted path in `data.task` (docs/extending.md)."""

from __future__ import annotations

from bertlab.errors import ConfigError
from bertlab.tasks.base import Task
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


def get_task(spec: str | Task) -> Task:
    """The task named `spec` (a registered name or a trusted dotted class path).

    Raises:
        ConfigError: an unknown name, or a path that does not name a trusted Task class.
    """
    if isinstance(spec, Task):
        return spec
    spec = str(spec)
    if spec in TASKS:
        return TASKS[spec]()
    if "." in spec:
        from bertlab.utils.instantiate import TRUST_ENV, is_trusted

        if is_trusted(spec):
            from hydra._internal.utils import _locate

            cls = _locate(spec)
            if isinstance(cls, type) and issubclass(cls, Task):
                return cls()
        raise ConfigError(
            f"data.task={spec}: not a Task class bertlab may load; a class of your own must "
            f"subclass bertlab.tasks.Task and its module be trusted with {TRUST_ENV}=<prefix>."
        )
    raise ConfigError(f"data.task={spec}: use one of {', '.join(TASKS)} (or a Task class path).")


__all__ = ["TASKS", "MultiLabel", "Regression", "SingleLabel", "Task", "get_task", "register_task"]
