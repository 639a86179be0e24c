"""train.py's run, in this process: Hydra composes configs/train.yaml with the overrides and
runs the pipeline as `@hydra.main` would (run dir, `.hydra/` copies, logging to train.log),
without starting an interpreter and importing torch again.

For the tests that read what a finished run left on disk. `run_here` runs any command line
(`python train.py ...`, `python -m bertlab.evaluate ...`) here and returns its exit code and
output, for the tests that check only those. Subprocesses stay where the process itself is
the point: DDP ranks, a kill, signals, Hydra's multirun launching, a console's terminal
(`helpers.runs.run_train`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from helpers.runs import ROOT

CONFIGS = ROOT / "configs"


@dataclass
class Run:
    """A finished in-process run."""

    dir: Path  # its run dir (hydra.runtime.output_dir)
    value: float  # what the pipeline returned: the best objective value
    task_name: str = "train"  # the log file's name (debug=... makes it debug.log)

    @property
    def log(self) -> str:
        """The run's <task_name>.log: every line its loggers wrote (the console shows the
        same lines, less the config tree)."""
        return (self.dir / f"{self.task_name}.log").read_text()


def train_in_process(
    *overrides: str, cwd: Path = ROOT, env: dict | None = None, config_dir: Path = CONFIGS
) -> Run:
    """Compose `train` with `overrides` and run `bertlab.train.pipeline.run` on it, as
    `python train.py <overrides>` does in `cwd` with `env` added to the environment.

    Raises what the pipeline raises (train.py turns a BertlabError into exit code 2).
    Hydra's global state, the logging set-up, the environment, the working directory and
    torch's global switches are as they were afterwards.
    """
    from bertlab.train.pipeline import run
    from bertlab.utils.quiet import silence_noise

    def task(cfg: DictConfig) -> float:
        silence_noise()  # as train.py's main does, after Hydra configured logging
        return run(cfg)

    GlobalHydra.instance().clear()
    with _restored_process_state(cwd, env):
        try:
            with initialize_config_dir(
                config_dir=str(config_dir), version_base="1.3", job_name="train"
            ):
                # Hydra.run: what @hydra.main calls for a single run, with the override it
                # adds (recorded in .hydra/hydra.yaml, which then matches a subprocess's).
                ret = GlobalHydra.instance().hydra.run(
                    config_name="train",
                    task_function=task,
                    overrides=[*overrides, "hydra.mode=RUN"],
                )
        finally:
            GlobalHydra.instance().clear()
    out = Path(ret.hydra_cfg.hydra.runtime.output_dir)
    return Run(dir=out, value=ret.return_value, task_name=str(ret.cfg.task_name))


def run_here(
    target: str | Path, *args: str, cwd: Path = ROOT, env: dict | None = None
) -> subprocess.CompletedProcess:
    """`python <target> <args>` (a script's path) or `python -m <target> <args>` (a module's
    name, a str without ".py"), run in this process as the interpreter would run it: argv,
    `__main__`, stdout and stderr captured, `SystemExit` taken as the exit code and any other
    exception printed with its traceback as exit code 1.

    Returns what `subprocess.run(..., capture_output=True, text=True)` would. The process's
    state is put back afterwards as in `train_in_process`; a PYTHONPATH in `env` (and a
    script's own folder) go on sys.path for the run, and the modules first imported from them
    are forgotten after.
    """
    script = isinstance(target, Path) or str(target).endswith(".py")
    argv = [str(target), *args]
    out, err = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    GlobalHydra.instance().clear()
    with (
        _restored_process_state(cwd, env),
        _python_path(
            (env or {}).get("PYTHONPATH", ""), Path(target).resolve().parent if script else None
        ),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        sys.argv = list(argv)
        try:
            if script:
                runpy.run_path(str(target), run_name="__main__")
            else:
                runpy.run_module(str(target), run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_:
            code = _exit_code(exit_.code)
        except Exception:
            traceback.print_exc()
            code = 1
        finally:
            sys.argv = saved_argv
            GlobalHydra.instance().clear()
    prefix = [] if script else ["-m"]
    return subprocess.CompletedProcess(
        [sys.executable, *prefix, *argv], code, out.getvalue(), err.getvalue()
    )


@contextlib.contextmanager
def _python_path(python_path: str, script_dir: Path | None) -> Iterator[None]:
    """The script's folder and `python_path`'s folders first on sys.path, as a new
    interpreter puts them; afterwards sys.path as it was, and the modules first imported
    during the run from under those folders (from the script's folder itself only: bertlab
    lives below train.py's) dropped."""
    folders = [str(Path(p).resolve()) for p in python_path.split(os.pathsep) if p]
    saved, loaded = list(sys.path), set(sys.modules)
    sys.path[:0] = [*([str(script_dir)] if script_dir else []), *folders]
    try:
        yield
    finally:
        sys.path[:] = saved
        for name, module in list(sys.modules.items()):
            file = "" if name in loaded else getattr(module, "__file__", None) or ""
            if not file:
                continue
            if any(file.startswith(f + os.sep) for f in folders) or (
                script_dir and Path(file).parent == script_dir
            ):
                del sys.modules[name]


def _exit_code(code: object) -> int:
    """The exit status `sys.exit(code)` gives a process (a message goes to stderr, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _restored_process_state(cwd: Path, env: dict | None) -> Iterator[None]:
    """Run in `cwd` with `env`; put back the environment (Lightning's seed variables too),
    cwd, logging handlers and levels, and torch's determinism / matmul precision after."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_logging = _logging_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    matmul = torch.get_float32_matmul_precision()
    threads = torch.get_num_threads()
    os.environ.update({"HF_HUB_OFFLINE": "1", **(env or {})})
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        _restore_logging(saved_logging)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.set_float32_matmul_precision(matmul)
        torch.set_num_threads(threads)


def _loggers() -> dict[str, logging.Logger]:
    named = logging.Logger.manager.loggerDict.items()
    return {"": logging.root, **{k: v for k, v in named if isinstance(v, logging.Logger)}}


def _logging_state() -> dict[str, tuple]:
    return {
        name: (list(lg.handlers), lg.level, lg.propagate, lg.disabled, list(lg.filters))
        for name, lg in _loggers().items()
    }


def _restore_logging(saved: dict[str, tuple]) -> None:
    """Close the handlers the run added (train.log's file handler, Hydra's console one) and
    give every logger back its handlers, level, propagation and filters."""
    kept = {id(h) for handlers, *_ in saved.values() for h in handlers}
    for name, lg in _loggers().items():
        for handler in lg.handlers:
            if id(handler) not in kept:
                handler.close()
        handlers, level, propagate, disabled, filters = saved.get(
            name, ([], logging.NOTSET, True, False, [])
        )
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate, lg.disabled = propagate, disabled
        lg.filters[:] = filters
