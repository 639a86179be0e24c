"""bertlab's side: the configs composed by Hydra, then TextClassificationDataModule (its bucket
sampler and collator), TextClassifier and a `lightning.Trainer` instantiated as pipeline.py does.
Only what HF's side also lacks is switched off: checkpoints, loggers, progress bars."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import hydra
import lightning as L
from hydra import compose, initialize_config_dir
from lightning.pytorch.callbacks import ProgressBar
from omegaconf import DictConfig
from torch._dynamo.utils import counters

from bertlab.data.datamodule import TextClassificationDataModule
from bertlab.data.tokenize import TokenizedCorpus
from common import DEVICE, PeakMemory, StepClock, sync

ROOT = Path(__file__).resolve().parents[1]
QUIET = {
    "logger": False,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def compose_config(
    model_dir: Path | str, batch_size: int, max_length: int, cache_dir: Path, extra: list[str]
) -> DictConfig:
    """configs/train.yaml with the bench's settings; `extra` are user overrides (ablations)."""
    out = tempfile.mkdtemp(prefix="bertlab_bench_")
    overrides = [
        f"trainer={'gpu' if DEVICE == 'cuda' else 'cpu'}",
        f"model.pretrained={model_dir}",
        f"data.batch_size={batch_size}",
        f"data.max_length={max_length}",
        f"paths.root_dir={ROOT}",
        f"paths.output_dir={out}",
        f"paths.cache_dir={cache_dir}",
        *extra,
    ]
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=overrides)


def datamodule(
    cfg: DictConfig, corpus: TokenizedCorpus | None = None
) -> tuple[TextClassificationDataModule, dict]:
    """The DataModule, ready; with `corpus=None` it tokenizes the configured corpus twice,
    into an empty cache (cold) and from it (cached), and reports both times."""
    if corpus is not None:  # synthetic token ids: skip the text stages, keep sampler + collator
        dm = hydra.utils.instantiate(cfg.data)
        dm.corpus = corpus  # setup() splits it instead of loading the configured corpus
        dm.setup()
        return dm, {}
    times = {}
    for name in ("cold", "cached"):
        dm = hydra.utils.instantiate(cfg.data)
        start = time.perf_counter()
        dm.prepare_data()
        dm.setup()
        times[f"tokenize_{name}_s"] = time.perf_counter() - start
    return dm, times


class _Clock(L.Callback):
    """Times the steps and records each training batch's shape (metadata: no sync)."""

    def __init__(self, clock: StepClock) -> None:
        self.clock = clock
        self.shapes: list[list[int]] = []

    def on_train_start(self, trainer, pl_module) -> None:
        self.clock.begin()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.shapes.append(list(batch["input_ids"].shape))
        self.clock.step_done(trainer.global_step)


def graphs_compiled() -> int:
    """torch.compile graphs built so far in this process (new ones = recompiles)."""
    return counters["stats"]["unique_graphs"]


def new_model(cfg: DictConfig, dm: TextClassificationDataModule):
    """The configured TextClassifier, seeded so that every side starts from the same head."""
    L.seed_everything(0, verbose=False)
    return hydra.utils.instantiate(
        cfg.model,
        _convert_="partial",
        num_labels=dm.num_labels,
        task=dm.task,
        label_names=dm.label_names or None,
    )


def train(
    cfg: DictConfig,
    dm: TextClassificationDataModule,
    steps: int,
    warmup: int,
    callbacks: list[L.Callback] | None = None,
):
    """Training samples/s over steps warmup+1..steps, peak memory, the batch shapes trained on
    (in order); returns (result, model). `callbacks`: more of a run's callbacks (a progress
    bar among them turns Lightning's progress bar setting on)."""
    clock = StepClock(warmup, steps)
    timer = _Clock(clock)
    model = new_model(cfg, dm)
    callbacks = callbacks or []
    bar = any(isinstance(c, ProgressBar) for c in callbacks)
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=[timer, *callbacks],
        max_steps=steps,
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        **{**QUIET, "enable_progress_bar": bar},
    )
    graphs = graphs_compiled()
    with PeakMemory() as mem:
        trainer.fit(model, datamodule=dm)
    return {
        **clock.rates(cfg.data.batch_size),
        "peak_mib": mem.peak_mib,
        "graphs_compiled": graphs_compiled() - graphs,  # 0 when not compiled
        "shapes": timer.shapes,
    }, model


def evaluate(cfg: DictConfig, dm: TextClassificationDataModule, model) -> dict:
    """Validation-split samples/s (second of two passes; the first warms up / compiles)."""
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, **QUIET)
    graphs = graphs_compiled()
    trainer.validate(model, datamodule=dm, verbose=False)
    with PeakMemory() as mem:
        sync()
        start = time.perf_counter()
        metrics = trainer.validate(model, datamodule=dm, verbose=False)[0]
        sync()
        seconds = time.perf_counter() - start
    return {
        "samples_per_s": len(dm.dataset("validation")) / seconds,
        "peak_mib": mem.peak_mib,
        "accuracy": metrics.get("val/acc"),
        "batch_size": cfg.data.eval_batch_size,
        "graphs_compiled": graphs_compiled() - graphs,
    }
