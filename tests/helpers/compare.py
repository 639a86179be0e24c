"""The tiny, fast configuration of `python -m bertlab.compare` tests, and compare's command
line run in this process."""

from __future__ import annotations

from pathlib import Path

from bertlab.compare.cli import main
from helpers.inprocess import _restored_process_state

BROKEN = "model.optimizer.lr=1e-9"  # > 0 (the config check refuses 0), far too small to learn


def common(model: Path, data: Path, cache: Path) -> str:
    """One fast epoch of the tiny model: mean pooling learns the toy cues within it."""
    return " ".join(
        [
            f"model.pretrained={model}",
            "data=csv",
            f"data.source.path={data}",
            f"paths.cache_dir={cache}",
            "model.head=mean",
            "model.optimizer.lr=1e-2",
            "data.batch_size=8",
            "trainer.max_epochs=1",
            "trainer.precision=32-true",
            "trainer.num_sanity_val_steps=0",
            "trainer.enable_model_summary=false",
            "print_config=false",
            "~logger",
            *(
                f"~callbacks.{name}"
                for name in (
                    "rich_progress_bar",
                    "tensorboard_figures",
                    "early_stopping",
                    "lr_monitor",
                    "step_checkpoint",
                )
            ),
        ]
    )


def compare(*argv: str) -> int:
    with _restored_process_state(Path.cwd(), None):
        return main(list(argv))
