"""Batch shapes and padding of one training epoch, per padding setting (no model, no timing).

    python bench/shapes.py        # SST-2-like at max_length 128, IMDB-like at 512, batch 32

For each `data.pad_to_multiple_of` setting: the distinct padded widths an epoch of bucketed
batches produces (what torch.compile, cuDNN attention plans and CUDA graphs are built for) and
the padded tokens per real token. Lengths from bench/common.py's synthetic length models.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from bertlab.data.batching import BucketBatchSampler, PadCollator
from bertlab.data.packing import packing_efficiency

MODELS = {"short": ((22, 0.5, 4, 66), 128), "long": ((260, 0.6, 32, 512), 512)}


def lengths(median: float, sigma: float, lo: int, hi: int, n: int, seed: int = 0) -> np.ndarray:
    raw = np.exp(math.log(median) + sigma * np.random.default_rng(seed).standard_normal(n))
    return np.clip(raw, lo, hi).astype(np.int64)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=16384)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()
    print("data | max_length | pad_to_multiple_of | shapes | padded / real tokens")
    for kind, (model, max_length) in MODELS.items():
        lens = lengths(*model, args.n)
        for spec in (None, 8, 32, f"buckets:{max_length}"):
            collate, widths, padded = PadCollator(0, spec), set(), 0
            for batch in BucketBatchSampler(lens, args.batch_size, seed=0):
                width = collate.width(int(lens[batch].max()))
                widths.add(width)
                padded += width * len(batch)
            print(f"{kind} | {max_length} | {spec} | {len(widths)} | {padded / lens.sum():.3f}")
        rows = packing_efficiency(lens, max_length)
        print(f"{kind} | {max_length} | packed, whole corpus (first-fit) | - | {1 / rows:.3f}")


if __name__ == "__main__":
    main()
