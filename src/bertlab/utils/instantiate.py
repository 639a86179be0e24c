"""`hydra.utils.instantiate`, with bertlab's errors surfacing as themselves and, for configs
read back from a run dir, an allow-list of what may be built.

A run dir's `config.yaml` is a file anyone can edit or send: `_target_: pandas.read_pickle`
there would run code when the run is loaded. After training, bertlab builds only its own
model, data and source classes, torch optimizers, torchmetrics metrics and the schedules in
`bertlab.model.optim`; anything else is refused before it is imported. Your own classes
(docs/extending.md) are trusted by naming their module prefixes in `BERTLAB_TRUSTED_TARGETS`
(comma-separated, e.g. `my_package.,lab_utils.heads.`)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig

from bertlab.errors import BertlabError, ConfigError

TRUST_ENV = "BERTLAB_TRUSTED_TARGETS"
# Module prefixes a run's config may name at all; the located object is then checked by kind.
_PREFIXES = ("bertlab.", "torch.optim.", "torchmetrics.")


def instantiate(node: Any, /, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate(node, **kwargs)`; a BertlabError raised inside a constructor is
    re-raised as itself (Hydra wraps it in InstantiationException, which hides the message)."""
    import hydra
    from hydra.errors import InstantiationException

    try:
        return hydra.utils.instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        while cause is not None and not isinstance(cause, BertlabError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise


def instantiate_trusted(node: Any, /, origin: str, **kwargs: Any) -> Any:
    """Instantiate a config read from a run dir, refusing any `_target_` off the allow-list.

    Args:
        node: the config node (e.g. the run's `model` or `data`).
        origin: the file it came from, for the message.

    Raises:
        ConfigError: a `_target_` that bertlab does not build after training.
    """
    for key, target in _targets(node):
        if not is_trusted(target):
            raise ConfigError(
                f"{origin} asks to build '{target}' (at {key}._target_), which bertlab does "
                "not build after training: a run's config may only name bertlab's own model "
                "and data classes, torch.optim optimizers and torchmetrics metrics. If this "
                "run uses your own class, trust its module with "
                f"{TRUST_ENV}=<module prefix>, e.g. {TRUST_ENV}={target.rsplit('.', 1)[0]}."
            )
    return instantiate(node, **kwargs)


TRUSTED_BASES: list[type] = []  # bertlab's own base classes (Source, Task): trust_subclasses


def trust_subclasses(base: type) -> type:
    """Let a run's config build bertlab's subclasses of `base` (called where `base` is
    defined, so this layer imports nothing above it: a subclass's module has imported its
    base, so the base is registered before any subclass is checked)."""
    if base not in TRUSTED_BASES:
        TRUSTED_BASES.append(base)
    return base


def is_trusted(target: str) -> bool:
    """Whether a dotted `_target_` names something bertlab may build from a run's config."""
    trusted_by_user = [p.strip() for p in os.environ.get(TRUST_ENV, "").split(",") if p.strip()]
    if any(target == p.rstrip(".") or target.startswith(p) for p in trusted_by_user):
        return True
    if not target.startswith(_PREFIXES):
        return False  # refused before importing anything
    from hydra._internal.utils import _locate

    try:
        obj = _locate(target)
    except Exception:
        return False
    return _allowed_kind(obj)


def _allowed_kind(obj: Any) -> bool:
    import lightning as L
    import torch
    from torchmetrics import Metric

    module = getattr(obj, "__module__", "") or ""
    if inspect.isclass(obj):
        if issubclass(obj, (torch.optim.Optimizer, Metric)):
            return True
        ours = (L.LightningModule, L.LightningDataModule, *TRUSTED_BASES)
        return module.startswith("bertlab.") and issubclass(obj, ours)
    return inspect.isfunction(obj) and module == "bertlab.model.optim"


def _targets(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, target) of every `_target_` in a config tree."""
    if isinstance(node, DictConfig | dict):
        items = node.items_ex(resolve=False) if isinstance(node, DictConfig) else node.items()
        for key, value in items:
            if key == "_target_":
                yield path or "<root>", str(value)
            else:
                yield from _targets(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, ListConfig | list):
        for i, value in enumerate(node):
            yield from _targets(value, f"{path}[{i}]")
