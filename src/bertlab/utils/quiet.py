"""Silence the libraries' routine noise, keep their real warnings.

Each filter names one exact message of one library (never a blanket category filter).
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from rich.console import Console

log = logging.getLogger(__name__)

WIDE = 10_000  # columns of a console that is not a terminal: lines are never cut or wrapped
# (message regex, warning category) of warnings that say nothing to a bertlab user.
IGNORED_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # Lightning 2.6 on torch >= 2.10: its own pytree helper, nothing the user can change.
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
    # The summary's size estimate knows no mixed precision (bf16-mixed, 16-mixed).
    (r"Precision \S+ is not supported by the model summary", UserWarning),
    # Under DDP, for bertlab's stage metrics: they are torchmetrics states that compute()
    # already reduces across ranks, so `sync_dist=True` would only average equal numbers.
    (r"It is recommended to use `self\.log\('(train|val|test)/", UserWarning),
)
# Substrings of Lightning info lines that are advertisements, not information.
DROPPED_LIGHTNING_INFO = ("try installing [litlogger]",)
# Lightning's info lines come from its rank_zero module loggers (filters apply where emitted).
RANK_ZERO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)
# Lightning's own console handlers (`INFO: ...`), a second copy of each line under Hydra.
LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric")
HEAD_PREFIX = "classifier."  # the fresh classification head: missing from every checkpoint


class DropMessages(logging.Filter):
    """Drop log records whose message contains one of `substrings`."""

    def __init__(self, substrings: Iterable[str]) -> None:
        super().__init__()
        self.substrings = tuple(substrings)

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record unless its message holds a dropped substring."""
        message = record.getMessage()
        return not any(s in message for s in self.substrings)


class RoutineLoadReport(logging.Filter):
    """Drop transformers' LOAD REPORT unless it reports a conversion error or a shape mismatch.

    Those two make `from_pretrained` raise, pointing at the report: it stays then.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but a routine load report."""
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return True
        return any(status in message for status in ("CONVERSION", "MISMATCH"))


def silence_noise() -> None:
    """Install the warning and log filters (idempotent); call once logging is configured."""
    for message, category in IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropMessages) for f in logger.filters):
            logger.addFilter(DropMessages(DROPPED_LIGHTNING_INFO))
    _drop_duplicate_lightning_handlers()


def _drop_duplicate_lightning_handlers() -> None:
    """Remove Lightning's own console handlers when the root logger has handlers already.

    Lightning adds "INFO: ..." stream handlers at import; under Hydra's logging they repeat every
    Lightning line once more on the console.
    """
    if not logging.getLogger().handlers:
        return
    import lightning  # noqa: F401  (adds its handlers at import: remove them after)

    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.propagate = True


@contextlib.contextmanager
def quiet_weight_loading() -> Iterator[None]:
    """Hide transformers' weight-loading progress bar and its LOAD REPORT inside the block.

    Pair it with `report_loading(info)`, which logs what the report would have said that matters.
    """
    from transformers.utils import logging as hf_logging

    logger = logging.getLogger("transformers.modeling_utils")
    report = RoutineLoadReport()  # a filter, not a level: transformers reads the level
    bars = hf_logging.is_progress_bar_enabled()
    logger.addFilter(report)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        logger.removeFilter(report)
        if bars:
            hf_logging.enable_progress_bar()


def report_loading(info: Mapping[str, Any], source: str) -> None:
    """Log the loading info of `from_pretrained(..., output_loading_info=True)` in plain lines.

    The fresh classification head is expected (one info line); other missing or mismatched
    weights are warnings; checkpoint weights the model does not use (a pretraining head) are info.
    """
    missing = sorted(info.get("missing_keys") or ())
    head = [k for k in missing if k.startswith(HEAD_PREFIX)]
    other = [k for k in missing if not k.startswith(HEAD_PREFIX)]
    if head:
        log.info("New classification head (%s), the rest loaded from %s", ", ".join(head), source)
    if other:
        log.warning("Weights not in %s, initialised at random: %s", source, _listed(other))
    mismatched = [
        str(k[0]) if isinstance(k, tuple) else str(k) for k in info.get("mismatched_keys") or ()
    ]
    if mismatched:
        log.warning(
            "Weights of another shape in %s, initialised at random: %s", source, _listed(mismatched)
        )
    unexpected = sorted(info.get("unexpected_keys") or ())
    if unexpected:
        log.info("Weights in %s the classifier does not use: %s", source, _listed(unexpected))


def _listed(keys: list[str], most: int = 8) -> str:
    """The first `most` keys, then a count of the rest."""
    shown = ", ".join(keys[:most])
    return shown if len(keys) <= most else f"{shown} and {len(keys) - most} more"


def wide_console() -> Console:
    """A Console on stdout: the terminal's width; when not a terminal, never cut or wrapped."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=WIDE, soft_wrap=True, color_system=None)


def plain_text(renderable: Any) -> str:
    """`renderable` as plain text (no ANSI codes), as wide as its content, trailing blanks cut."""
    console = Console(width=WIDE, color_system=None, file=io.StringIO(), soft_wrap=True)
    with console.capture() as capture:
        console.print(renderable)
    return "\n".join(line.rstrip() for line in capture.get().splitlines())
