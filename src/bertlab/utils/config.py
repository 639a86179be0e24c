"""Print and save the composed configuration."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import rich
import rich.syntax
import rich.tree
from omegaconf import DictConfig, OmegaConf

from bertlab.utils.io import atomic_write_text
from bertlab.utils.quiet import plain_text

FIRST = ("data", "model", "trainer", "callbacks", "logger", "paths")
# configs/hydra/default.yaml sends this logger to the job's log file only (not the console);
# where no logging config names it (runs composed in-process, e.g. bertlab.compare's), it
# goes nowhere rather than to the root logger's console: config.yaml holds the same tree.
tree_log = logging.getLogger("bertlab.config_tree")
tree_log.propagate = False


def config_tree(cfg: DictConfig) -> rich.tree.Tree:
    """The resolved config as a rich tree, one branch per top-level key (groups first)."""
    tree = rich.tree.Tree("config", guide_style="dim")
    keys = [k for k in FIRST if k in cfg] + [k for k in cfg if k not in FIRST]
    for key in keys:
        branch = tree.add(f"[bold]{key}")
        node = cfg[key]
        text = OmegaConf.to_yaml(node, resolve=True) if isinstance(node, DictConfig) else str(node)
        branch.add(rich.syntax.Syntax(text, "yaml", background_color="default"))
    return tree


def print_config_tree(
    cfg: DictConfig, save_to: Path | None = None, show: bool | str = "overrides"
) -> None:
    """Log the config tree to the job's log file; print what `show` asks, once per sweep.

    `show`: "overrides" (or true) prints the config group choices and command-line overrides
    in a few lines; "full" the whole tree (a terminal gets the rich tree; a redirected stdout
    plain text, never cut at 80 columns); false nothing. Inside a multirun only the first job
    prints (each job's log file and config.yaml keep its own).
    """
    tree = config_tree(cfg)
    text = plain_text(tree)
    tree_log.info("Config:\n%s", text)
    mode = str(show).lower()
    if mode in ("false", "none", "0") or not first_job():
        pass
    elif mode != "full":
        print(config_summary(cfg), flush=True)
    elif sys.stdout.isatty():
        rich.print(tree)
    else:
        print(text, flush=True)
    if save_to is not None:
        save_config(cfg, save_to)


def config_summary(cfg: DictConfig) -> str:
    """A few lines: the config group choices, the command-line overrides and where the full
    config goes (`print_config=full` prints it)."""
    choices, overrides = {}, []
    try:
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        choices = {
            g: c
            for g, c in hydra_cfg.runtime.choices.items()
            if c is not None and g != "hydra" and not g.startswith("hydra/")
        }
        overrides = list(hydra_cfg.overrides.task)
    except (ImportError, ValueError):
        pass
    out = OmegaConf.select(cfg, "paths.output_dir", default=None)
    where = f"{out}/config.yaml" if out else "the run dir's config.yaml"
    lines = [
        "Config: " + (" ".join(f"{g}={c}" for g, c in sorted(choices.items())) or "(no groups)"),
        "Overrides: " + (" ".join(overrides) or "none"),
        f"Full config: {where} (print_config=full prints it)",
    ]
    return "\n".join(lines)


def first_job() -> bool:
    """False inside a multirun job after the first one (job number > 0); True otherwise."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra_cfg = HydraConfig.get()
    except (ImportError, ValueError):
        return True  # not under Hydra
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return True
    return int(hydra_cfg.job.get("num") or 0) == 0


def save_config(cfg: DictConfig, path: Path) -> None:
    """Save the resolved config as YAML (atomically)."""
    atomic_write_text(path, OmegaConf.to_yaml(cfg, resolve=True))
