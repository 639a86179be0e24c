"""OmegaConf resolvers that bertlab's configs use; registered when `bertlab` is imported."""

from __future__ import annotations

import os

from omegaconf import OmegaConf

from bertlab.utils.precision import fast_precision


def register() -> None:
    """`${bertlab.fast_precision:<accelerator>}` and `${bertlab.cwd:}` (the launch directory,
    known also where `${hydra:runtime.cwd}` is not yet, e.g. while a sweeper starts)."""
    resolvers = {"bertlab.fast_precision": fast_precision, "bertlab.cwd": os.getcwd}
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
