"""Batch shapes and padding of one training epoch, per padding setting (no model, no timing).

    python bench/shapes.py        # SST-2-like at max_length 128, IMDB-like at 512, batch 32

For each `data.pad_to_multiple_of` setting: the distinct padded widths an epoch of bucketed
batches produces (what torch.compile, cuDNN attention plans and CUDA graphs are built for) and
the padded tokens per real token. Lengths from bench/common.py's synthetic length models.

Then packing (`bertlab.data.packing`), per batch (`PackCollator` on the same batches, what
wiring it into training would do) and over the whole corpus (the best any packer can do), with
the encoder's FLOPs per real token relative to the GPU default (`buckets:<max_length>`). The
FLOP model counts a layer's matmuls: 24·h² per token slot (QKV, output, FFN) plus 4·h·width
per slot for attention over its row; a packed row attends over its whole width (the
block-diagonal mask is applied, not skipped), padding slots cost as much as real ones. It is an
upper bound on what packing can gain: it leaves out the mask's cost (SDPA with a 4-D mask cannot
take the flash kernel).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from bertlab.data.batching import BucketBatchSampler, PadCollator
from bertlab.data.packing import pack_rows, packing_efficiency

MODELS = {"short": ((22, 0.5, 4, 66), 128), "long": ((260, 0.6, 32, 512), 512)}
HIDDEN = {"MiniLM-L6 (h 384)": 384, "bert-base (h 768)": 768}


def lengths(median: float, sigma: float, lo: int, hi: int, n: int, seed: int = 0) -> np.ndarray:
    raw = np.exp(math.log(median) + sigma * np.random.default_rng(seed).standard_normal(n))
    return np.clip(raw, lo, hi).astype(np.int64)


def flops(rows: list[tuple[int, int]], hidden: int) -> float:
    """One layer's forward matmul FLOPs over rows given as (count, width)."""
    return sum(n * w * (24 * hidden**2 + 4 * hidden * w) for n, w in rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=16384)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()
    print("data | max_length | pad_to_multiple_of | shapes | padded / real tokens")
    packing: list[str] = []
    for kind, (model, max_length) in MODELS.items():
        lens = lengths(*model, args.n)
        batches = list(BucketBatchSampler(lens, args.batch_size, seed=0))
        for spec in (None, 8, 32, f"buckets:{max_length}"):
            collate, widths, padded = PadCollator(0, spec), set(), 0
            for batch in batches:
                width = collate.width(int(lens[batch].max()))
                widths.add(width)
                padded += width * len(batch)
            print(f"{kind} | {max_length} | {spec} | {len(widths)} | {padded / lens.sum():.3f}")
        rows = packing_efficiency(lens, max_length)
        print(f"{kind} | {max_length} | packed, whole corpus (first-fit) | - | {1 / rows:.3f}")
        packing += packing_rows(kind, lens, batches, max_length)
    print()
    print(
        "data | layout | shapes | padded / real tokens | "
        + " | ".join(f"FLOPs / real token vs buckets, {name}" for name in HIDDEN)
    )
    print("\n".join(packing))


def packing_rows(kind: str, lens: np.ndarray, batches: list, max_length: int) -> list[str]:
    """Buckets vs packed per batch vs packed corpus: shapes, pad tokens, relative FLOPs."""
    collate = PadCollator(0, f"buckets:{max_length}")
    bucketed, per_batch, shapes_b, shapes_p = [], [], set(), set()
    for batch in batches:
        width = collate.width(int(lens[batch].max()))
        bucketed.append((len(batch), width))
        shapes_b.add((len(batch), width))
        rows = pack_rows(lens[batch], max_length)
        width = collate.width(max(int(lens[batch][row].sum()) for row in rows))
        per_batch.append((len(rows), width))
        shapes_p.add((len(rows), width))
    corpus = [(len(pack_rows(lens, max_length)), max_length)]
    real = float(lens.sum())
    out = []
    for layout, rows, shapes in (
        (f"buckets:{max_length}", bucketed, len(shapes_b)),
        ("packed per batch", per_batch, len(shapes_p)),
        ("packed, whole corpus", corpus, 1),
    ):
        slots = sum(n * w for n, w in rows)
        ratios = [flops(rows, h) / flops(bucketed, h) for h in HIDDEN.values()]
        out.append(
            f"{kind} | {layout} | {shapes} | {slots / real:.3f} | "
            + " | ".join(f"{r:.3f}" for r in ratios)
        )
    return out


if __name__ == "__main__":
    main()
