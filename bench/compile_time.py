"""Seconds to the first finished training step (forward + backward + optimizer step) with
eager, whole-model compile and regional compile, cold cache vs warm cache.

Random BERT models of MiniLM-L6 and bert-base shape (a `BertConfig`, nothing downloaded),
compiled by bertlab's own code (`bertlab.model.compile`, `bertlab.model.compile_cache`).
Every measurement runs in its own process: "cold" uses a fresh, empty cache directory; "warm"
is a second process with the directory the cold one left. The clock starts when the model is
built (imports and model construction excluded; they are the same for every mode) and stops
when the first optimizer step has finished; `next step s` is the mean of the steps after it.

    python bench/compile_time.py                           # both shapes, batch 8 x 64 tokens
    python bench/compile_time.py --models minilm --out compile_time.json

Targets (issue 19): warm-cache first step <= 25% of the whole-model cold compile;
regional cold <= 35% of whole-model cold.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPES = {
    "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                   intermediate_size=1536),
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072),
}  # fmt: skip
# (mode, cache) in the order they run: each cold run leaves the directory its warm run reads
RUNS = [("eager", "-"), ("full", "cold"), ("full", "warm"), ("regional", "cold"),
        ("regional", "warm")]  # fmt: skip
TARGETS = {"warm / full cold": 0.25, "regional cold / full cold": 0.35}


def one(args: argparse.Namespace) -> dict:
    """One measurement in this process: seconds from the built model to the first step."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from bertlab.model.compile import apply_plan, plan_compile
    from bertlab.model.compile_cache import cache_key, open_cache

    torch.manual_seed(0)
    config = BertConfig(
        **SHAPES[args.model], num_labels=2, attn_implementation="sdpa",
        problem_type="single_label_classification",  # as bertlab sets it: no recompile later
    )  # fmt: skip
    network = BertForSequenceClassification(config).train()
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-5, fused=True)
    ids = torch.randint(1000, config.vocab_size, (args.batch, args.seq))
    mask = torch.ones_like(ids)
    mask[: args.batch // 2, args.seq // 2 :] = 0  # half the rows padded: the mask is real
    labels = torch.randint(0, 2, (args.batch,))
    warm = None
    start = time.perf_counter()
    if args.mode != "eager":
        cache = open_cache(args.cache, cache_key(network, "cpu", "32-true"))
        warm = cache.warm
    plan = plan_compile(args.mode, None, "cpu")
    model = apply_plan(network, plan)
    times = []
    for _ in range(1 + args.more_steps):
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    if args.mode != "eager":
        cache.record()
    steps = [b - a for a, b in zip(times, times[1:], strict=False)]
    return {
        "model": args.model,
        "mode": args.mode,
        "cache": args.cache_kind,
        "found_warm": warm,
        "first_step_s": round(times[0], 2),
        "next_step_s": round(sum(steps) / len(steps), 3) if steps else None,
        "batch": args.batch,
        "seq": args.seq,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def measure(model: str, mode: str, kind: str, cache: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--one", "--model", model, "--mode", mode,
           "--cache", cache, "--cache-kind", kind, "--batch", str(args.batch),
           "--seq", str(args.seq), "--more-steps", str(args.more_steps)]  # fmt: skip
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    begin = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"{model} {mode} {kind} failed:\n{done.stderr[-3000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["process_s"] = round(time.perf_counter() - begin, 1)
    print(json.dumps(row), flush=True)
    return row


def report(rows: list[dict]) -> None:
    print("\n| model | mode | cache | first step s | process s | next step s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['mode']} | {r['cache']} | {r['first_step_s']} "
              f"| {r['process_s']} | {r['next_step_s']} |")  # fmt: skip
    for model in dict.fromkeys(r["model"] for r in rows):
        got = {(r["mode"], r["cache"]): r["first_step_s"] for r in rows if r["model"] == model}
        base = got.get(("full", "cold"))
        if not base:
            continue
        ratios = {
            "full warm / full cold": (got.get(("full", "warm")), TARGETS["warm / full cold"]),
            "regional warm / full cold": (
                got.get(("regional", "warm")),
                TARGETS["warm / full cold"],
            ),
            "regional cold / full cold": (
                got.get(("regional", "cold")),
                TARGETS["regional cold / full cold"],
            ),
        }
        for name, (value, target) in ratios.items():
            if value is None:
                continue
            ratio = value / base
            verdict = "met" if ratio <= target else "MISSED"
            print(f"{model}: {name} = {ratio:.0%} (target <= {target:.0%}): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="minilm,bert-base")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--more-steps", type=int, default=3, help="steps timed after the first")
    parser.add_argument(
        "--runs",
        default=",".join(f"{m}-{k}" for m, k in RUNS),
        help="which runs, in this order: eager--, full-cold, full-warm, regional-cold, "
        "regional-warm (a warm run reads what its cold run left)",
    )
    parser.add_argument("--out", help="write the rows as JSON here")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--cache-kind", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args)))
        return
    models = args.models.split(",")
    if unknown := [m for m in models if m not in SHAPES]:
        parser.error(f"unknown model(s) {unknown}; choose from {list(SHAPES)}")
    names = {f"{m}-{k}": (m, k) for m, k in RUNS}
    if unknown := [r for r in args.runs.split(",") if r not in names]:
        parser.error(f"unknown run(s) {unknown}; choose from {list(names)}")
    runs = [names[r] for r in args.runs.split(",")]  # in the order given
    rows = []
    for model in models:
        with tempfile.TemporaryDirectory(prefix="bertlab-compile-") as tmp:
            for mode, kind in runs:
                cache = str(Path(tmp) / mode)  # cold: empty; warm: what the cold run left
                rows.append(measure(model, mode, kind, cache, args))
                if args.out:
                    Path(args.out).write_text(json.dumps(rows, indent=1))
    report(rows)


if __name__ == "__main__":
    main()
