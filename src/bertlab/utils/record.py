"""What a run leaves behind besides checkpoints: the loggers' final record (HParams)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from omegaconf import DictConfig, ListConfig, OmegaConf

from bertlab.utils.tb_hparams import write_hparams

HPARAM_KEYS = (
    "seed",
    "data.batch_size",
    "data.max_length",
    "data.source",
    "model.pretrained",
    "model.dropout",
    "model.optimizer.lr",
    "model.optimizer.weight_decay",
    "model.scheduler.warmup_fraction",
    "trainer.max_epochs",
    "trainer.precision",
)  # the base every run logs; Hydra adds its overrides, sweep space and group choices
REMOVED = "(removed)"
Scalar = int | float | bool | str


def flat_hparams(cfg: DictConfig) -> dict[str, Scalar]:
    """The hyperparameters worth comparing across runs, as flat scalars.

    The base keys (`HPARAM_KEYS`), then, under Hydra, the config group choices (`model`,
    `data`, ...), every key of the sweeper's search space and every key the command line
    overrode (`~key` shows as "(removed)"). A config node becomes its leaves (`data.source`:
    its `_target_`'s class name, `data.source.path`, ...).
    """
    choices, keys, removed = _hydra_keys()
    out: dict[str, Scalar] = dict(choices)
    for key in (*HPARAM_KEYS, *keys):
        if key in removed:
            out[key] = REMOVED
        elif key not in choices:
            out.update(
                _scalars(
                    key, OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
                )
            )
    return out


def _scalars(key: str, value: object) -> dict[str, Scalar]:
    """`value` as flat scalars under `key`: a node's `_target_` as its class name at `key`,
    its other set leaves as `key.<leaf>`; a list joined by commas; None as "None"."""
    if isinstance(value, DictConfig):
        out: dict[str, Scalar] = {}
        for sub in value:
            if sub == "_target_":
                out[key] = str(value[sub]).rsplit(".", 1)[-1]
            elif OmegaConf.select(value, str(sub), default=None) is not None:
                out.update(_scalars(f"{key}.{sub}", OmegaConf.select(value, str(sub))))
        return out
    if isinstance(value, ListConfig):
        return {key: ",".join(str(v) for v in OmegaConf.to_container(value, resolve=True))}
    return {key: value if isinstance(value, (int, float, bool, str)) else str(value)}


def _hydra_keys(with_space: bool = True) -> tuple[dict[str, str], list[str], set[str]]:
    """From the running Hydra job: its group choices, the keys its overrides and the sweeper's
    search space name, and the keys it removed. Outside Hydra: nothing."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}, [], set()
    hydra = HydraConfig.get()
    choices = {
        group: ",".join(map(str, choice)) if isinstance(choice, ListConfig) else str(choice)
        for group, choice in hydra.runtime.choices.items()
        if choice is not None and group != "hydra" and not group.startswith("hydra/")
    }
    keys, removed = [], set()
    for override in hydra.overrides.task:
        key = override.split("=", 1)[0].split("@", 1)[0]
        keys.append(key.lstrip("+~"))
        if key.startswith("~"):
            removed.add(key.lstrip("~"))
    if with_space and hydra.runtime.choices.get("hydra/sweeper") == "bertlab_optuna":
        keys += [str(k) for k in OmegaConf.select(hydra, "sweeper.params", default=None) or {}]
    return choices, list(dict.fromkeys(keys)), removed


def varied_keys(swept: Sequence[str] | None = None) -> list[str]:
    """The keys this run varies, which HParams shows first: a sweep trial's searched keys
    (`swept`), else the command line's overrides (not `hydra.`/`paths.`/`hparams_search`)."""
    if swept:
        return list(swept)
    _, keys, _ = _hydra_keys(with_space=False)
    return [k for k in keys if k != "hparams_search" and not k.startswith(("hydra.", "paths."))]


def log_hparams(
    loggers: list[Logger], cfg: DictConfig, record: dict, swept: Sequence[str] | None = None
) -> None:
    """Give each logger the run's final record, next to `flat_hparams(cfg)`.

    TensorBoard: the HParams entry; its metrics are `hp_metrics(record)`.
    MLflow: params, metric best/<objective>, tags best_checkpoint and run_dir.
    W&B: config, summary best/<objective> and best_checkpoint.
    MLflow and W&B runs are named after the run dir by their configs.

    Args:
        loggers: The trainer's loggers; other kinds are left alone.
        cfg: The run's config.
        record: What metrics.json records (best_value, objective, best_checkpoint, test,
            status: COMPLETE, PRUNED or FAILED).
        swept: A sweep trial's searched keys (HParams shows them first and ticked).
    """
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            _tensorboard(logger, cfg, record, swept)
        elif isinstance(logger, MLFlowLogger):
            _mlflow(logger, cfg, record)
        elif isinstance(logger, WandbLogger):
            _wandb(logger, cfg, record)


def _best(record: dict) -> dict[str, float]:
    """The best validation value, keyed best/<objective> (e.g. best/val/acc)."""
    return {f"best/{record['objective']}": record["best_value"]}


def _checkpoint_path(cfg: DictConfig, record: dict) -> str:
    """The best checkpoint's full path (metrics.json keeps it relative to the run dir)."""
    return str(Path(cfg.paths.output_dir) / record["best_checkpoint"])


def _tensorboard(
    logger: TensorBoardLogger, cfg: DictConfig, record: dict, swept: Sequence[str] | None
) -> None:
    """The HParams entry (`tb_hparams`) with its metrics (`hp_metrics`); then close the writer."""
    metrics = hp_metrics(record) if "best_value" in record else {}
    status = record.get("status", "COMPLETE")
    write_hparams(logger, flat_hparams(cfg), metrics, varied_keys(swept), status)
    logger.finalize("success" if status != "FAILED" else "failed")


def hp_metrics(record: dict) -> dict[str, float]:
    """The HParams metrics, the same names for every run of a model, tested or not.

    hp/best_<objective> (e.g. hp/best_val/acc): the best validation value, the one scalar
    written for HParams; test/<m> for each metric validation logs: the run's own test scalars
    (NaN here where the run was not tested: a blank cell).
    """
    best = record["best_value"]
    metrics = {f"hp/best_{record['objective']}": best}
    test = record.get("test") or {}
    names = [f"test/{k[4:]}" for k in record.get("best_val") or {} if k.startswith("val/")]
    for name in dict.fromkeys([*names, *test]):
        metrics[name] = float(test.get(name, math.nan))
    return metrics


def _mlflow(logger: MLFlowLogger, cfg: DictConfig, record: dict) -> None:
    """Params (flat keys only), the best value, tags (run dir, best checkpoint, state), the
    run's records as artifacts; in a sweep, the study's best trial on the parent run."""
    client, run_id = logger.experiment, logger.run_id
    flat = flat_hparams(cfg)
    getattr(logger, "log_flat_params", logger.log_hyperparams)(flat)
    logger.log_metrics(_best(record), step=record["global_step"])
    out = Path(cfg.paths.output_dir)
    client.set_tag(run_id, "run_dir", str(out))
    client.set_tag(run_id, "state", record.get("status", "COMPLETE"))
    if record.get("best_checkpoint"):
        client.set_tag(run_id, "best_checkpoint", _checkpoint_path(cfg, record))
    for path in sorted(out.glob("*")):
        if path.is_file() and path.suffix in (".yaml", ".json"):  # the run dir's records
            client.log_artifact(run_id, str(path))
    if getattr(logger, "log_checkpoint", False) and record.get("best_checkpoint"):
        client.log_artifact(run_id, _checkpoint_path(cfg, record), "best_checkpoint")
    parent = getattr(logger, "parent_run_id", None)
    if parent:
        from bertlab.utils.mlflow_logger import record_best

        name = client.get_run(run_id).info.run_name
        record_best(client, parent, name, record.get("best_value"), record.get("mode", "max"))
    logger.finalize("success")


def _wandb(logger: WandbLogger, cfg: DictConfig, record: dict) -> None:
    """Config, the best value and best checkpoint in the run's summary; then finish it."""
    run = logger.experiment
    logger.log_hyperparams(flat_hparams(cfg))
    checkpoint = _checkpoint_path(cfg, record) if record.get("best_checkpoint") else None
    run.summary.update({**_best(record), "best_checkpoint": checkpoint})
    run.finish()  # Lightning leaves it open: unfinished, an offline run keeps no summary


def log_failure(loggers: list[Logger], cfg: DictConfig, swept: Sequence[str] | None = None) -> None:
    """A fit that raised: its HParams row shows `status` FAILED (TensorBoard); MLflow's run
    ends FAILED."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            _tensorboard(logger, cfg, {"status": "FAILED"}, swept)
        elif isinstance(logger, MLFlowLogger):
            logger.experiment.set_tag(logger.run_id, "state", "FAILED")
            logger.finalize("failed")
