"""Framework overhead: ms per training step of bertlab's Lightning loop minus a raw PyTorch
loop's, on the same batches, with a tiny model (compute negligible, so what is left is the
loop's own Python: hooks, logging, metrics, progress bar).

    python bench/overhead.py                     # bertlab's loop as bench.py runs it
    python bench/overhead.py --as-run            # + a run's callbacks (progress bar, lr, NaN guard)
    python bench/overhead.py --repeats 5 --steps 400

One torch thread by default (a tiny model gains nothing from more, and on a shared machine
spinning threads cost more than the model), fp32 (autocast's casts are compute, not loop).
Both sides: the same composed config (configs/train.yaml, trainer=cpu or gpu), the same
DataModule batches (bench/raw_loop.py attaches a trainer from the same config; the shapes
are compared), optimizer, schedule, precision and clipping. The sides alternate, in reversed
order every other repeat; the figure is the median over repeats of (bertlab - raw) ms/step,
each side timed over steps warmup+1..steps. On CPU the clock is this process's CPU time
(`--wall` for wall time): on a shared machine other processes inflate wall time by more
than the figure measured here.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import hydra  # noqa: E402
import torch  # noqa: E402

import bertlab_side  # noqa: E402
import common  # noqa: E402
import raw_loop  # noqa: E402
from bertlab.callbacks.training import NonFiniteLossGuard  # noqa: E402
from common import DEVICE, synthetic_corpus  # noqa: E402

# A run's callbacks that cost per step; checkpoints, early stopping (needs validation) and the
# figures (validation only) are left out: bench's bertlab side runs no validation.
PER_STEP = ("lr_monitor", "rich_progress_bar", "epoch_log")
VOCAB = 1024  # synthetic token ids are drawn from 1000..VOCAB-1


def tiny_model(path: Path, max_length: int) -> Path:
    """A 2-layer, hidden-32 random BERT with a 1,024-token vocabulary: its step is mostly the
    loop around it (a 30k vocabulary's embedding gradient and AdamW update alone are ~10 ms)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_length,
    )
    BertModel(config).save_pretrained(path)
    return path


def run_callbacks(cfg) -> list:
    """The per-step callbacks a training run has (configs/callbacks/default.yaml + the guard)."""
    nodes = cfg.get("callbacks") or {}
    return [hydra.utils.instantiate(nodes[k]) for k in PER_STEP if nodes.get(k)] + [
        NonFiniteLossGuard(int(cfg.get("max_nonfinite_steps") or 3))
    ]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--as-run", action="store_true", help="add a run's per-step callbacks")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: no spin-waits)")
    p.add_argument(
        "--wall",
        action="store_true",
        help="time with the wall clock (default on CPU: this process's CPU time, which a "
        "shared machine's other processes do not inflate)",
    )
    p.add_argument(
        "--override",
        action="append",
        default=["trainer.precision=32-true"],  # autocast's casts are compute, not the loop
        help="bertlab config override (repeatable; later ones win)",
    )
    args = p.parse_args(argv)
    if args.steps <= args.warmup:
        p.error("--steps must exceed --warmup")
    torch.set_num_threads(args.threads)
    if DEVICE == "cpu" and not args.wall:
        common.CLOCK["now"] = time.process_time
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "transformers", "bertlab"):
        logging.getLogger(name).setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="overhead_"))
    model_dir = tiny_model(work / "tiny", args.max_length)
    cfg = bertlab_side.compose_config(
        model_dir, args.batch_size, args.max_length, work / "cache", args.override
    )
    # enough rows that `steps` stay within one epoch (no epoch-end work in the timed steps)
    corpus = synthetic_corpus("short", args.batch_size * args.steps * 3 // 2, VOCAB, 128)
    dm, _ = bertlab_side.datamodule(cfg, corpus)
    ms: dict[str, list[float]] = {"bertlab": [], "raw": []}
    for r in range(args.repeats):
        shapes = {}
        for side in ("bertlab", "raw") if r % 2 == 0 else ("raw", "bertlab"):
            if side == "bertlab":
                extra = run_callbacks(cfg) if args.as_run else None
                result, _ = bertlab_side.train(cfg, dm, args.steps, args.warmup, extra)
            else:
                new = bertlab_side.new_model(cfg, dm)
                result = raw_loop.train(cfg, dm, new, args.steps, args.warmup)
            shapes[side] = result.pop("shapes")
            ms[side].append(1000 * args.batch_size / result["samples_per_s"])
        if shapes["bertlab"] != shapes["raw"]:
            raise AssertionError("the raw loop did not get bertlab's batches")
        print(
            f"repeat {r + 1}/{args.repeats}: bertlab {ms['bertlab'][-1]:.2f} ms/step, "
            f"raw {ms['raw'][-1]:.2f}, difference {ms['bertlab'][-1] - ms['raw'][-1]:.2f} ms",
            flush=True,
        )
    diffs = [b - r for b, r in zip(ms["bertlab"], ms["raw"], strict=True)]
    out = {
        "device": DEVICE,
        "clock": "wall" if common.CLOCK["now"] is time.perf_counter else "process CPU time",
        "threads": torch.get_num_threads(),
        "as_run": args.as_run,
        "bertlab_ms": statistics.median(ms["bertlab"]),
        "raw_ms": statistics.median(ms["raw"]),
        "overhead_ms": statistics.median(diffs),
        "overhead_ms_min_max": (min(diffs), max(diffs)),
    }
    print(
        f"bertlab {out['bertlab_ms']:.2f} ms/step, raw loop {out['raw_ms']:.2f} ms/step "
        f"(medians, {args.repeats} repeats of {args.steps - args.warmup} timed steps, "
        f"{out['clock']}); "
        f"overhead {out['overhead_ms']:.2f} ms/step (min {min(diffs):.2f}, max {max(diffs):.2f})"
    )
    return out


if __name__ == "__main__":
    main()
