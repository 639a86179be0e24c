"""Entry point: compose the Hydra config and run the pipeline.

python train.py                         # defaults: MiniLM-L6 on Rotten Tomatoes
python train.py data=imdb trainer=gpu   # override any group or key
python train.py -m model.optimizer.lr=1e-5,3e-5,5e-5
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from bertlab.errors import BertlabError

log = logging.getLogger("bertlab")


@hydra.main(config_path="configs", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Train and return the best validation score (the objective of sweeps)."""
    from bertlab.utils.quiet import silence_noise

    silence_noise()  # after Hydra configured logging; again in each DDP rank's process
    if search := _search_without_multirun():
        log.error(
            "hparams_search=%s is a search space, which only a multirun sweeps: add -m "
            "(python train.py -m hparams_search=%s). Nothing was run.",
            search,
            search,
        )
        sys.exit(2)
    from bertlab.train.pipeline import run

    try:
        return run(cfg)
    except BertlabError as err:
        log.error("%s", err)
        if _sweeper_records_failures():
            raise  # bertlab's sweeper records the failed trial and goes on
        sys.exit(2)  # a single run, or Hydra's basic sweeper (it stops at a failed job anyway)


def _search_without_multirun() -> str | None:
    """The `hparams_search` choice given without `-m` (a single default run would silently
    stand in for the search), else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    choice = HydraConfig.get().runtime.choices.get("hparams_search")
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    return None if choice is None or multirun else str(choice)


def _sweeper_records_failures() -> bool:
    """Whether the error should go back to a sweeper (bertlab's Optuna sweeper records the
    failed trial and goes on) or a launcher running jobs elsewhere (SLURM); in a single run
    or under Hydra's basic sweeper and launcher (which would print the traceback and exit 1)
    the process exits 2 itself."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return False
    basic = ("sweeper", ".BasicSweeper"), ("launcher", ".BasicLauncher")
    return not all(str(hydra_cfg[k].get("_target_", "")).endswith(v) for k, v in basic)


if __name__ == "__main__":
    main()
