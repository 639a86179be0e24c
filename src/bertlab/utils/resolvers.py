"""OmegaConf resolvers that bertlab's configs use; registered when `bertlab` is imported."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from omegaconf import OmegaConf

from bertlab.utils.precision import fast_precision

# Four random hex digits per process: run dirs started in the same second stay apart.
RUN_SUFFIX = secrets.token_hex(2)
HYDRA_SUBDIR = ".hydra"  # where Hydra keeps its copies of a run's config (`RunDir.HYDRA`)


def run_dir(resume: str | None, default: str) -> str:
    """The run dir to resume (`resume=<run dir>`), else the default."""
    return str(Path(resume).resolve()) if resume else default


def output_subdir(resume: str | None, output_dir: str | None = None) -> str | None:
    """Hydra's `.hydra` copies of the config: not rewritten over a resumed run's own, nor
    over those of a run already in `output_dir` (the pipeline then refuses the new run, and
    `bertlab.sweep.final` reads these copies back)."""
    if resume or (output_dir and (Path(output_dir) / HYDRA_SUBDIR).exists()):
        return None
    return HYDRA_SUBDIR


def run_name(path: str) -> str:
    """A run's name for loggers: its dir's name; a sweep job's `<study>/<trial>`."""
    path = Path(str(path))
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.get().mode == RunMode.MULTIRUN:
            return f"{path.parent.name}/{path.name}"
    except (ImportError, ValueError):
        pass
    return path.name


def register() -> None:
    """`${bertlab.fast_precision:<accelerator>}`, `${bertlab.cwd:}` (the launch directory,
    known also where `${hydra:runtime.cwd}` is not yet, e.g. while a sweeper starts),
    `${bertlab.train.run_dir:${resume},<default>}`,
    `${bertlab.output_subdir:${resume},${hydra.runtime.output_dir}}`, `${bertlab.run_suffix:}`,
    `${bertlab.basename:<path>}` and `${bertlab.run_name:<path>}` (a run's name for loggers:
    `<study>/<trial>` in a sweep)."""
    resolvers = {
        "bertlab.fast_precision": fast_precision,
        "bertlab.cwd": os.getcwd,
        "bertlab.train.run_dir": run_dir,
        "bertlab.output_subdir": output_subdir,
        "bertlab.run_suffix": lambda: RUN_SUFFIX,
        "bertlab.basename": lambda path: Path(str(path)).name,
        "bertlab.run_name": run_name,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
