"""Lightning's DDP and FSDP strategies, with child processes that re-run *this* Hydra job.

Lightning's subprocess launcher starts ranks 1..N-1 by re-executing the script with the
original ``sys.argv``. Under Hydra multirun that argv still holds ``-m`` and the sweep lists,
so each child starts a sweep of its own (duplicate run dirs, hangs, a skipped test phase), and
it points the children at ``hydra.run.dir`` rather than the job's sweep subdir. Here the
children get the job's own overrides (the swept values already chosen) and its output dir, so
every rank composes the same config and writes into one run dir. Everything else is
Lightning's: torch.distributed process groups, gradient sync, checkpointing on rank 0.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

from bertlab.utils.jobs import MODE_ENV

log = logging.getLogger(__name__)

# Hydra overrides a child still needs (logging, env); run/sweep/launcher ones must not travel.
_HYDRA_KEEP = (
    "hydra/job_logging",
    "hydra/hydra_logging",
    "hydra.job_logging",
    "hydra.hydra_logging",
    "hydra.verbose",
    "hydra.job.env_set",
)


def hydra_job_command(local_rank: int) -> tuple[list[str], str]:
    """The command (and cwd) that re-runs the current Hydra job as a single run for one rank."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd, to_absolute_path

    import __main__

    hc = HydraConfig.get()
    spec = getattr(__main__, "__spec__", None)
    command = (
        [sys.executable, "-m", spec.name]
        if spec is not None
        else [sys.executable, to_absolute_path(sys.argv[0])]
    )
    main = [s for s in hc.runtime.config_sources if s.provider == "main" and s.schema == "file"]
    if main:
        command += [f"--config-path={main[0].path}", f"--config-name={hc.job.config_name}"]
    command += list(hc.overrides.task)
    command += [o for o in hc.overrides.hydra if o.lstrip("+~").startswith(_HYDRA_KEEP)]
    out = hc.runtime.output_dir
    command += [f'hydra.run.dir="{out}"', "hydra.output_subdir=null"]
    log_file = hc.job_logging.get("handlers", {}).get("file") if hc.job_logging else None
    if log_file is not None and log_file.get("filename"):
        path = Path(log_file.filename)
        path = path.with_stem(f"{path.stem}_rank{local_rank}")  # one log file per rank
        command.append(f'hydra.job_logging.handlers.file.filename="{path}"')
    return command, get_original_cwd()


class HydraJobLauncher(_SubprocessScriptLauncher):
    """Lightning's script launcher; under Hydra, children re-run the job, not the whole sweep."""

    def _call_children_scripts(self) -> None:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            super()._call_children_scripts()
            return
        self._check_can_spawn_children()
        env = self.cluster_environment
        os.environ.update(
            MASTER_ADDR=env.main_address,
            MASTER_PORT=str(env.main_port),
            NODE_RANK=str(env.node_rank()),
            LOCAL_RANK=str(env.local_rank()),
            WORLD_SIZE=str(self.num_processes * self.num_nodes),
        )
        mode = HydraConfig.get().mode
        for local_rank in range(1, self.num_processes):
            command, cwd = hydra_job_command(local_rank)
            log.debug("Starting local rank %d: %s", local_rank, " ".join(command))
            child_env = {**os.environ, "LOCAL_RANK": str(local_rank), MODE_ENV: mode.name}
            self.procs.append(subprocess.Popen(command, env=child_env, cwd=cwd))


def _use_hydra_launcher(strategy: DDPStrategy | FSDPStrategy) -> None:
    if type(strategy._launcher) is _SubprocessScriptLauncher:
        strategy._launcher = HydraJobLauncher(
            strategy.cluster_environment, strategy.num_processes, strategy.num_nodes
        )


class HydraDDPStrategy(DDPStrategy):
    """`lightning.pytorch.strategies.DDPStrategy` whose extra ranks re-run this Hydra job."""

    def _configure_launcher(self) -> None:
        super()._configure_launcher()
        _use_hydra_launcher(self)


class HydraFSDPStrategy(FSDPStrategy):
    """`lightning.pytorch.strategies.FSDPStrategy` whose extra ranks re-run this Hydra job."""

    def _configure_launcher(self) -> None:
        super()._configure_launcher()
        _use_hydra_launcher(self)


_LAUNCH_ENV = (MODE_ENV, "MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


@contextmanager
def distributed_job() -> Iterator[None]:
    """Leave no process group or launcher variables behind when a job ends.

    Lightning keeps the process group alive and leaves LOCAL_RANK etc. in the environment, so
    the next job of a Hydra multirun in the same process would reuse a group whose other ranks
    have exited (a hang), and would not start its own ranks. Variables set from outside (SLURM,
    torchrun) are kept as they were.
    """
    before = {key: os.environ.get(key) for key in _LAUNCH_ENV}
    try:
        yield
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
