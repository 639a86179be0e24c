"""The classifier as an ONNX graph: input_ids, attention_mask, token_type_ids in, logits out.

Uses torch's default exporter (`torch.onnx.export(..., dynamo=True)`, built on torch.export and
onnxscript); the TorchScript exporter (`dynamo=False`) is deprecated. Batch and sequence
length are dynamic axes, so one graph serves any batch of texts up to the model's positions.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from bertlab.errors import ModelError

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
_PROTOBUF_LIMIT = 2**31 - 2**26  # one .onnx file holds < 2 GiB; bigger weights go beside it


def require_onnx() -> None:
    """Check that the exporter's packages are installed.

    Raises:
        ModelError: one of them is missing, saying which extra installs them.
    """
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ModelError(
            f"ONNX export needs the packages onnx and onnxscript ({err}): "
            "pip install 'bertlab[onnx]'"
        ) from err


class LogitsGraph(nn.Module):
    """A network called like a Hugging Face classifier (keyword tensors in, `.logits` out) as a
    module of three positional tensors returning the logits: the signature the graph gets."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        return self.network(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).logits


def export_onnx(network: nn.Module, tokenizer, path: Path) -> Path:
    """Write `network` (eval mode, on the CPU) to `path` as an ONNX graph with dynamic axes.

    Args:
        network: the run's network, e.g. BertForSequenceClassification or PooledNetwork.
        tokenizer: the run's tokenizer, for example inputs (two texts of different lengths).
        path: the .onnx file to write.
    """
    example = tokenizer(
        ["an example", "a second, longer example text"],
        padding=True,
        return_token_type_ids=True,
        return_tensors="pt",
    )
    args = tuple(example[name] for name in INPUT_NAMES)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    weight_bytes = sum(p.numel() * p.element_size() for p in network.parameters())
    with _quiet_exporter():
        torch.onnx.export(
            LogitsGraph(network).eval(),
            args,
            path,
            input_names=list(INPUT_NAMES),
            output_names=["logits"],
            dynamic_shapes=({0: batch, 1: sequence},) * len(INPUT_NAMES),
            external_data=weight_bytes > _PROTOBUF_LIMIT,
            dynamo=True,
            verbose=False,
        )
    return path


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Hide the exporter's notes that need no action: skipped torchvision ops, each step of
    the graph optimizer, and that the three inputs share one batch and one sequence axis."""
    loggers = {
        logging.getLogger("torch.onnx._internal.exporter._registration"): logging.ERROR,
        logging.getLogger("onnxscript"): logging.WARNING,
        logging.getLogger("onnx_ir"): logging.WARNING,
    }
    levels = {logger: logger.level for logger in loggers}
    for logger, level in loggers.items():
        logger.setLevel(level)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="# The axis name", category=UserWarning)
            yield
    finally:
        for logger, level in levels.items():
            logger.setLevel(level)
