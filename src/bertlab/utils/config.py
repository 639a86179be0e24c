"""Print and save the composed configuration."""

from __future__ import annotations

from pathlib import Path

import rich
import rich.syntax
import rich.tree
from omegaconf import DictConfig, OmegaConf

from bertlab.utils.io import atomic_write_text

FIRST = ("data", "model", "trainer", "callbacks", "logger", "paths")


def print_config_tree(cfg: DictConfig, save_to: Path | None = None, show: bool = True) -> None:
    """Show the resolved config as a rich tree (one branch per group); optionally save it."""
    tree = rich.tree.Tree("config", guide_style="dim")
    keys = [k for k in FIRST if k in cfg] + [k for k in cfg if k not in FIRST]
    for key in keys:
        branch = tree.add(f"[bold]{key}")
        node = cfg[key]
        text = OmegaConf.to_yaml(node, resolve=True) if isinstance(node, DictConfig) else str(node)
        branch.add(rich.syntax.Syntax(text, "yaml", background_color="default"))
    if show:
        rich.print(tree)
    if save_to is not None:
        save_config(cfg, save_to)


def save_config(cfg: DictConfig, path: Path) -> None:
    """Save the resolved config as YAML (atomically)."""
    atomic_write_text(path, OmegaConf.to_yaml(cfg, resolve=True))
