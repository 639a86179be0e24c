"""MLflow logger for bertlab runs: one name per parameter, sweep trials nested per study.

Lightning's `MLFlowLogger` logs the LightningModule's own hyperparameters at fit start
(`dropout`, `optimizer`, ...), beside which bertlab logs the flat config keys at the end
(`model.dropout`): two names for one setting. This logger keeps only bertlab's. In a sweep
(a Hydra multirun) each trial's run is nested under one parent run per study (tag
`mlflow.parentRunId`), named `<study>`, which carries the tags `bertlab.study`,
`search_space` and, as trials finish, `best_trial` / `best_value`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only

PARENT_ROLE = "sweep"  # tag bertlab.role of a study's parent run


class BertlabMLFlowLogger(MLFlowLogger):
    """`MLFlowLogger` with flat params only and sweep trials nested under their study.

    Args:
        log_checkpoint: Also upload the best checkpoint as an artifact (off: it is large).
        *args, **kwargs: `MLFlowLogger`'s.
    """

    def __init__(self, *args: Any, log_checkpoint: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log_checkpoint = log_checkpoint
        self.parent_run_id: str | None = None

    def log_hyperparams(self, params: Any) -> None:
        """Ignored: Lightning's call with the module's own names (bertlab logs flat keys)."""

    @rank_zero_only
    def log_flat_params(self, params: dict[str, Any]) -> None:
        """Log bertlab's flat config keys (`model.dropout`, ...) as the run's params."""
        super().log_hyperparams(params)

    @property
    def experiment(self) -> Any:
        """The client; on first use in a sweep trial, the run is nested under its study."""
        created = self._run_id is None
        client = super().experiment
        if created and self._run_id is not None:
            sweep = sweep_context()
            if sweep is not None:
                study, space = sweep
                self.parent_run_id = parent_run(client, self._experiment_id, study, space)
                client.set_tag(self._run_id, "mlflow.parentRunId", self.parent_run_id)
                client.set_tag(self._run_id, "bertlab.study", study)
        return client


def sweep_context() -> tuple[str, dict[str, Any]] | None:
    """(study name, search space) of the running Hydra multirun job; None outside one."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
        from omegaconf import OmegaConf

        hydra = HydraConfig.get()
    except (ImportError, ValueError):
        return None
    if hydra.mode != RunMode.MULTIRUN:
        return None
    params = OmegaConf.select(hydra, "sweeper.params", default=None)
    space = OmegaConf.to_container(params, resolve=True) if params is not None else {}
    study = OmegaConf.select(hydra, "sweeper.study_name", default=None)
    return str(study or Path(str(hydra.sweep.dir)).name), dict(space or {})


def parent_run(client: Any, experiment_id: str, study: str, space: dict[str, Any]) -> str:
    """The id of the study's parent run in the experiment, created (and ended) if missing."""
    query = f"tags.`bertlab.role` = '{PARENT_ROLE}' and tags.`bertlab.study` = '{study}'"
    found = client.search_runs([experiment_id], filter_string=query, max_results=1)
    if found:
        return found[0].info.run_id
    tags = {
        "mlflow.runName": study,
        "bertlab.role": PARENT_ROLE,
        "bertlab.study": study,
        "search_space": json.dumps(space, sort_keys=True),
    }
    run = client.create_run(experiment_id=experiment_id, tags=tags)
    client.set_terminated(run.info.run_id, "FINISHED")  # a container: never left RUNNING
    return run.info.run_id


def record_best(client: Any, parent_id: str, trial: str, value: float, mode: str) -> None:
    """Set the parent's best_trial / best_value tags when `value` beats the recorded one."""
    import math

    if value is None or not math.isfinite(value):
        return
    tags = client.get_run(parent_id).data.tags
    best = float(tags.get("best_value", "nan"))
    better = math.isnan(best) or (value > best if mode == "max" else value < best)
    if better:
        client.set_tag(parent_id, "best_trial", trial)
        client.set_tag(parent_id, "best_value", repr(float(value)))
