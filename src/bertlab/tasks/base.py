"""What a kind of problem means for bertlab: how labels are encoded, the loss, the metrics and
how logits become outputs. One `Task` subclass per problem type; nothing else branches on it."""

from __future__ import annotations

import inspect
import logging
import math
import unicodedata
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torchmetrics import Metric

from bertlab.errors import DataError
from bertlab.utils.plain import is_plain

log = logging.getLogger(__name__)


class Task:
    """A problem type. Subclasses set the class attributes and implement the methods.

    Attributes:
        name: the config value (`data.task`), also recorded in label_map.json.
        hf_problem_type: the matching `transformers` `config.problem_type`.
        title / output: what it is and what the model outputs, in words (model cards;
            optional: a card without them names the task and leaves the output out).
        has_classes: outputs are per-class (False: one value per text).
        min_classes: the fewest distinct labels the train split must have.
        weighted_loss: supports `model.loss` class weights and label smoothing.
        stratified: splits keep each label's share (single labels only).
        metric_names: the metrics logged as `<stage>/<name>` (besides `loss`).
        onnx_scores: Python lines turning numpy `logits` into printed outputs (model cards;
            optional: the default prints the logits).
    """

    name: ClassVar[str]
    hf_problem_type: ClassVar[str]
    title: ClassVar[str] = ""
    output: ClassVar[str] = ""
    has_classes: ClassVar[bool] = True
    min_classes: ClassVar[int] = 1
    weighted_loss: ClassVar[bool] = False
    stratified: ClassVar[bool] = False
    metric_names: ClassVar[tuple[str, ...]]
    onnx_scores: ClassVar[str] = "print(logits)  # this task gives no decoding snippet"

    def __new__(cls, *args, **kwargs):
        """Record the constructor's arguments: `spec()` hands them on as plain data."""
        self = super().__new__(cls)
        self._arguments = {}
        if cls.__init__ is object.__init__:
            if args or kwargs:
                raise TypeError(f"{cls.__name__}() takes no arguments")
        else:
            params = list(inspect.signature(cls.__init__).parameters.values())[1:]
            bound = inspect.Signature(params).bind(*args, **kwargs)
            bound.apply_defaults()
            for param in params:
                value = bound.arguments.get(param.name)
                if param.kind is param.VAR_KEYWORD:
                    self._arguments.update(value or {})
                elif param.kind is not param.VAR_POSITIONAL:
                    self._arguments[param.name] = value
        return self

    def spec(self) -> str | dict:
        """This task as plain data (what hyperparameters save): its registered name when it
        is a built-in without arguments, else `{_target_: <class path>, **arguments}`.

        Raises:
            ConfigError: an argument is not a plain value (str, number, bool, None, lists and
                dicts of them), so a checkpoint could not hold it.
        """
        from bertlab.errors import ConfigError

        arguments = getattr(self, "_arguments", {})
        for key, value in arguments.items():
            if not is_plain(value):
                raise ConfigError(
                    f"{class_path(type(self))}: argument {key}={value!r} is not a plain value "
                    "(str, number, bool, None, or lists / dicts of them); a task's arguments "
                    "are saved in checkpoints."
                )
        if type(self).__module__.startswith("bertlab.tasks.") and not arguments:
            return self.name
        return {"_target_": class_path(type(self)), **arguments}

    # ---- labels ----
    def label_names(self, labels: pd.Series, separator: str | None) -> list[str]:
        """The sorted distinct label names of a column (numbers in numeric order).

        Raises:
            DataError: one number written two ways ("1" and "1.0").
        """
        return sorted_names(named_labels(labels))

    def encode(self, labels: pd.Series, names: Sequence[str], separator: str | None) -> np.ndarray:
        """Labels as model targets (int64 class ids unless a subclass says otherwise)."""
        index = {n: i for i, n in enumerate(names)}
        return np.fromiter((index[label_name(v)] for v in labels), np.int64, count=len(labels))

    def num_labels(self, names: Sequence[str]) -> int:
        """Width of the model's output."""
        return len(names)

    def strata(self, labels: np.ndarray) -> np.ndarray | None:
        """What a split keeps the proportions of (None: a plain random split)."""
        return labels if self.stratified else None

    def label_counts(self, labels: np.ndarray, names: Sequence[str]) -> dict[str, int]:
        """Examples per label name in encoded `labels` ({} without classes)."""
        counts = np.bincount(labels.astype(np.int64), minlength=len(names)) if len(labels) else []
        return {n: int(c) for n, c in zip(names, counts, strict=False) if c}

    # ---- training ----
    def loss(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        weights: torch.Tensor | None = None,
        smoothing: float = 0.0,
    ) -> torch.Tensor:
        raise NotImplementedError

    def metrics(self, num_labels: int) -> dict[str, Metric]:
        """Metrics fed `metric_inputs` (predictions and targets)."""
        raise NotImplementedError

    def score_metrics(self, num_labels: int) -> dict[str, Metric]:
        """Metrics fed `score_inputs` (e.g. AUROC on probabilities); none by default."""
        return {}

    def metric_sizes(self, num_labels: int) -> dict[str, int]:
        """Constructor arguments filled in for `model.extra_metrics` (num_classes, ...)."""
        return {}

    def metric_inputs(
        self, logits: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(predictions, targets) as the metrics take them."""
        raise NotImplementedError

    def score_inputs(
        self, logits: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores, targets) for `score_metrics`."""
        return self.scores(logits), labels

    # ---- outputs ----
    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """What a user reads per text: probabilities per class, or values."""
        raise NotImplementedError

    def decode(self, scores: np.ndarray, names: Sequence[str], threshold: float = 0.5) -> list:
        """Predicted label names (or values) from `scores`."""
        raise NotImplementedError

    def table(
        self, scores: np.ndarray, names: Sequence[str], threshold: float, separator: str = ","
    ) -> pd.DataFrame:
        """One row per text: `predicted_label` and a `prob_<name>` column per class."""
        table = pd.DataFrame({"predicted_label": self.decode(scores, names, threshold)})
        for j, name in enumerate(names):
            table[f"prob_{name}"] = scores[:, j]
        return table

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def class_path(cls: type) -> str:
    """A class's dotted path, `module.QualName`."""
    return f"{cls.__module__}.{cls.__qualname__}"


def label_name(value) -> str:
    """A label value as its name: 1.0 → "1", "pos " → "pos", NFD "café" → NFC "café"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def named_labels(values) -> set[str]:
    """The names of label values, warning once where distinct values became one name."""
    by_name: dict[str, set[str]] = {}
    for value in values:
        raw = str(int(value) if isinstance(value, float) and value.is_integer() else value)
        by_name.setdefault(label_name(value), set()).add(raw)
    merged = {name: sorted(raw) for name, raw in by_name.items() if len(raw) > 1}
    if merged:
        log.warning(
            "Labels that differ only by Unicode normalisation or surrounding whitespace are "
            "merged: %s",
            "; ".join(f"{[*raw]!r} → {name!r}" for name, raw in sorted(merged.items())),
        )
    return set(by_name)


def _sort_key(value: str) -> tuple[int, float, str]:
    """Numbers numerically, then other names; ties broken by the text (a total order)."""
    try:
        number = float(value)
    except ValueError:
        return (1, 0.0, value)
    return (0, number, value) if math.isfinite(number) else (1, 0.0, value)


def sorted_names(names: set[str]) -> list[str]:
    """Label names in order: numbers numerically, then strings (total, hash-seed free).

    Raises:
        DataError: two names are one number written two ways ("1" and "1.0").
    """
    ordered = sorted(names, key=_sort_key)
    numbers: dict[float, str] = {}
    for name in ordered:
        kind, number, _ = _sort_key(name)
        if kind == 0 and number in numbers:
            raise DataError(
                f"The labels {numbers[number]!r} and {name!r} are the same number written two "
                "ways, so they would be two classes. Write each label one way in the file."
            )
        numbers.setdefault(number, name)
    return ordered


def unseen_labels(task: Task, labels: pd.Series, known: Sequence[str], separator: str | None):
    """Label names in `labels` that are not in `known` ([] for tasks without classes)."""
    if not task.has_classes:
        return []
    return sorted(set(task.label_names(labels, separator)) - set(known), key=_sort_key)


def check_unseen_labels(
    task: Task, labels: pd.Series, known: Sequence[str], separator: str | None, where: str
) -> None:
    """Refuse labels the model never saw in training.

    Raises:
        DataError: naming the unseen labels and `where` they are.
    """
    if unseen := unseen_labels(task, labels, known, separator):
        raise DataError(
            f"{where} has label(s) {unseen} that the train split never has (train labels: "
            f"{list(known)}). Fix or map those labels, or add training examples of them."
        )
