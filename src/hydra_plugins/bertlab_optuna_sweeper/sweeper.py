"""The Hydra Sweeper plugin class; the work is done in :mod:`bertlab.sweep.sweeper`.

This module is imported by Hydra's plugin scan on every run, so it imports nothing heavy.
"""

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class BertlabOptunaSweeper(Sweeper):
    """Optuna 5 sweeper with pruning, resume, parallel workers and a test-set lockbox."""

    def __init__(self, **conf: Any) -> None:
        from bertlab.sweep.sweeper import OptunaSweeperImpl

        self.impl = OptunaSweeperImpl(**conf)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        """Hand Hydra's context and config to the implementation."""
        self.hydra_context, self.config = hydra_context, config
        self.impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.launcher = self.impl.launcher

    def sweep(self, arguments: list[str]) -> Any:
        """Run the sweep; see :meth:`bertlab.sweep.sweeper.OptunaSweeperImpl.sweep`.

        Raises:
            SystemExit: code 2 for any SweepError (a bad study name, a damaged journal, a bad
                space), after printing its message alone; Hydra would exit 1.
                ``HYDRA_FULL_ERROR=1`` raises it instead, with its traceback.
        """
        from bertlab.sweep.errors import SweepError, exit_with

        try:
            return self.impl.sweep(arguments)
        except SweepError as e:
            exit_with(e)
