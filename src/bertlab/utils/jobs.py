"""What kind of Hydra job this process runs (a multirun job, or one of its DDP ranks)."""

from __future__ import annotations

import os

MODE_ENV = "BERTLAB_HYDRA_MODE"  # the launching job's Hydra mode, for the extra ranks


def job_is_multirun() -> bool:
    """Whether this job belongs to a Hydra multirun, also in the extra DDP ranks (which run
    the job as a single run, told the launching job's mode through the environment)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if MODE_ENV in os.environ:
        return os.environ[MODE_ENV] == RunMode.MULTIRUN.name
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
