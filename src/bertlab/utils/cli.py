"""Shared plumbing of the small command-line tools (evaluate, predict, export)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from bertlab.errors import BertlabError


def run_cli(
    main: Callable[[argparse.Namespace], None],
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse arguments and run `main`; a BertlabError prints one line and exits with 2."""
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(message)s")
    try:
        main(args)
    except BertlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def tool_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser for `python -m <module>` with the module docstring as help and the run args."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(parser)
    return parser


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every tool shares: which run, which checkpoint, which device."""
    parser.add_argument("run", help="a run dir (outputs/train/runs/<time>) or a .ckpt inside one")
    parser.add_argument(
        "--checkpoint",
        default="best",
        help="best (default, from metrics.json), last, or a .ckpt path",
    )
    parser.add_argument(
        "--device", default=None, help="cuda, cpu, cuda:1, ... (default: the GPU when there is one)"
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (argparse exits 2 with the message otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use a whole number >= 1")
    return value
