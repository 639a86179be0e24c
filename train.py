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
        if cfg.get("hparams_search") or _in_multirun():
            raise  # a sweeper records the failed trial and goes on
        sys.exit(2)


def _search_without_multirun() -> str | None:
    """The `hparams_search` choice given without `-m` (a single default run would silently
    stand in for the search), else None."""
    from hydra.core.hydra_config import HydraConfig

    choice = HydraConfig.get().runtime.choices.get("hparams_search")
    return None if choice is None or _in_multirun() else str(choice)


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.get().mode == RunMode.MULTIRUN


if __name__ == "__main__":
    main()
