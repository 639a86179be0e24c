"""train.py in a subprocess, and the overrides that make a run of the tiny model fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__).resolve().parent
# The one limit on a test's subprocess or wait: a hang guard, not a speed check. A run that
# takes longer is stuck, however loaded the machine (pytest-timeout's limit is above it).
HANG_GUARD_S = 1200


def run_train(
    *overrides: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = HANG_GUARD_S
) -> subprocess.CompletedProcess:
    """Run `python train.py <overrides>` in a subprocess; return the finished process."""
    return run_python(str(ROOT / "train.py"), *overrides, cwd=cwd, env=env, timeout=timeout)


def run_python(
    *args: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = HANG_GUARD_S
) -> subprocess.CompletedProcess:
    """Run `python <args>` offline in a subprocess; return the finished process."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**full_env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def with_helpers_on_path(env: dict | None = None) -> dict:
    """`env` plus PYTHONPATH holding tests/, so a subprocess's config can name
    `helpers.faults.KillAt` as a `_target_`."""
    paths = [str(HELPERS.parent), os.environ.get("PYTHONPATH", "")]
    return {**(env or {}), "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def tiny_overrides(model_dir: Path, data_file: Path, out_dir: Path, cache: Path) -> list[str]:
    """Overrides for a fast run on the tiny model and toy data."""
    return [
        f"model.pretrained={model_dir}",
        "data=csv",
        f"data.source.path={data_file}",
        f"hydra.run.dir={out_dir}",
        f"paths.cache_dir={cache}",
        "trainer.max_epochs=3",
        "model.optimizer.lr=1e-2",
        "print_config=false",
        "~callbacks.rich_progress_bar",
        "trainer.enable_model_summary=false",
        "trainer.log_every_n_steps=5",
        "trainer.precision=32-true",
    ]  # exact comparisons; bf16 is covered by the real run


def with_epochs(
    model_dir: Path, data_file: Path, out_dir: Path, cache: Path, *drop: str, epochs: int = 4
) -> list[str]:
    """tiny_overrides with `epochs` epochs, minus the keys in `drop` (e.g. model.pretrained)."""
    keep = [
        o
        for o in tiny_overrides(model_dir, data_file, out_dir, cache)
        if o.split("=")[0] not in (*drop, "trainer.max_epochs")
    ]
    return [*keep, f"trainer.max_epochs={epochs}"]


def sweep_overrides(model_dir: Path, data_file: Path, cache: Path, sweep_dir: Path) -> list[str]:
    """A fast multirun on the tiny model: short epochs of 4 batches, no sanity check, fp32."""
    return [
        f"model.pretrained={model_dir}",
        "data=csv",
        f"data.source.path={data_file}",
        f"paths.cache_dir={cache}",
        f"hydra.sweep.dir={sweep_dir}",
        "~callbacks.rich_progress_bar",
        "trainer.enable_model_summary=false",
        "trainer.num_sanity_val_steps=0",
        "+trainer.limit_train_batches=4",
        "trainer.precision=32-true",  # deterministic trial values
    ]
