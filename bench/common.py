"""Shared pieces of the benchmark: device, clocks, memory, FLOPs and the synthetic corpora."""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import torch

from bertlab.data.tokenize import TokenizedCorpus

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# What StepClock reads: wall time; bench/overhead.py may switch to this process's CPU time,
# which other processes on a shared machine do not inflate (CPU-only, one torch thread).
CLOCK = {"now": time.perf_counter}

# Lognormal length models of the anchors (shared/anchors/gpu_anchor.py): (median, sigma, lo, hi).
SYNTHETIC = {"short": (22, 0.5, 4, 66), "long": (260, 0.6, 32, 512)}


def sync() -> None:
    """Wait for queued GPU work so that a wall clock reads real time."""
    if DEVICE == "cuda":
        torch.cuda.synchronize()


class PeakMemory:
    """Peak memory of a block (MiB): CUDA allocator peak on GPU; on CPU, the sampled peak RSS
    above the level at the block's start (memory the block itself needed)."""

    def __enter__(self) -> PeakMemory:
        self.peak_mib = math.nan
        if DEVICE == "cuda":
            torch.cuda.reset_peak_memory_stats()
            return self
        self._base = self._peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self._peak = max(self._peak, _rss())

    def __exit__(self, *exc) -> None:
        if DEVICE == "cuda":
            self.peak_mib = torch.cuda.max_memory_allocated() / 2**20
            return
        self._stop.set()
        self._thread.join()
        self.peak_mib = (max(self._peak, _rss()) - self._base) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class StepClock:
    """Wall time between the end of step `warmup` and the end of step `steps` (steady state,
    warm-up dropped), and from `begin()` (training starts, nothing compiled or planned) to the
    end of step `steps` (cold: what a user waits for, compile and first-shape costs included)."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps = warmup, steps
        self.t_begin = self.t0 = self.t1 = math.nan

    def begin(self) -> None:
        sync()
        self.t_begin = CLOCK["now"]()

    def step_done(self, step: int) -> None:
        if step == self.warmup:
            sync()
            self.t0 = CLOCK["now"]()
        elif step == self.steps:
            sync()
            self.t1 = CLOCK["now"]()

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0

    def rates(self, batch_size: int) -> dict[str, float]:
        """samples/s in steady state and cold (over all steps, warm-up included)."""
        return {
            "samples_per_s": (self.steps - self.warmup) * batch_size / self.seconds,
            "cold_samples_per_s": self.steps * batch_size / (self.t1 - self.t_begin),
            "cold_s": self.t1 - self.t_begin,
        }


def useful_flops_per_sample(hidden: int, layers: int, ffn: int, lengths: np.ndarray) -> float:
    """Mean training FLOPs (forward + backward = 3x forward) of one example's real tokens."""
    per_token = layers * (4 * hidden * hidden + 2 * hidden * ffn)
    s = lengths.astype(np.float64)
    return float(np.mean(6 * per_token * s + 3 * layers * 4 * hidden * s * s))


def matmul_peak_tflops() -> float:
    """Measured bf16 matmul peak (8192^3 products), the MFU denominator; NaN on CPU."""
    if DEVICE != "cuda":
        return math.nan
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync()
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    sync()
    return 2 * n**3 * 10 / (time.perf_counter() - start) / 1e12


def synthetic_corpus(
    kind: str, n: int, vocab: int, max_length: int, seed: int = 0
) -> TokenizedCorpus:
    """Random token ids with SST-2-like ("short") or IMDB-like ("long") lengths, labels 0/1."""
    median, sigma, lo, hi = SYNTHETIC[kind]
    rng = np.random.default_rng(seed)
    lengths = np.exp(math.log(median) + sigma * rng.standard_normal(n))
    lengths = np.clip(lengths, lo, min(hi, max_length)).astype(np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = rng.integers(1000, vocab, offsets[-1]).astype(np.int32)
    ids[offsets[:-1]] = 101  # [CLS]
    ids[offsets[1:] - 1] = 102  # [SEP]
    meta = {
        "label_names": ["0", "1"],
        "problem_type": "single_label",
        "pad_token_id": 0,
        "clean": {},
        "key_parts": {"synthetic": kind, "n": n, "seed": seed},
    }
    return TokenizedCorpus(
        input_ids=ids,
        offsets=offsets,
        token_type_ids=np.zeros(offsets[-1], np.int8),
        labels=np.arange(n) % 2,
        split=np.full(n, "", dtype="U10"),
        example_ids=np.array([f"{i:016x}" for i in range(n)], dtype="S16"),
        meta=meta,
    )


def random_bert_base(path: Path, max_positions: int = 512) -> Path:
    """Save a bert-base-uncased-shaped BERT (110M params) with random weights to `path`."""
    return random_bert(path, max_positions)


def random_bert(path: Path, max_positions: int = 512, tiny: bool = False) -> Path:
    """Save a BERT with random weights to `path`: bert-base-uncased's shape, or with `tiny` a
    2-layer, hidden-32 one (the CPU rehearsal). No tokenizer files and no package needed: the
    synthetic data are token ids."""
    from transformers import BertConfig, BertModel

    if (path / "config.json").is_file():
        return path
    torch.manual_seed(0)
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    shape = small if tiny else {}
    config = BertConfig(vocab_size=30522, max_position_embeddings=max_positions, **shape)
    BertModel(config).save_pretrained(path)
    return path


def spread(values: list[float]) -> dict[str, float]:
    """min / median / max of repeated measurements."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}
