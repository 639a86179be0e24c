"""bertlab vs Hugging Face Trainer: same model, data, batch size, max_length and steps.

    python bench/bench.py                      # CPU: default MiniLM-L6, Rotten Tomatoes
    python bench/bench.py --data short,long    # GPU: random bert-base, SST-2/IMDB-like lengths

Prints training and evaluation samples/s of each side and their ratio (warm-up steps
dropped), tokenization time cold and cached, peak memory, and MFU on a GPU; `--out` writes
JSON. Repeats interleave the sides in one process, in reversed order every other repeat, so
that load drifts and position effects hit all of them.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# packages carried to a bare GPU machine (bench/gpu_site.py): last, so the machine's own win
sys.path.append(str(Path(__file__).resolve().parents[1] / ".gpu_site"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import AutoConfig  # noqa: E402

import bertlab_side  # noqa: E402
import hf_side  # noqa: E402
import raw_loop  # noqa: E402
from bertlab.pretrained import resolve_pretrained  # noqa: E402
from common import (  # noqa: E402
    DEVICE,
    SYNTHETIC,
    matmul_peak_tflops,
    random_bert,
    random_bert_base,
    spread,
    synthetic_corpus,
    useful_flops_per_sample,
)

SIDES = ("hf", "bl", "raw")
KEYS = ("hf_train", "bl_train", "raw_train", "hf_eval", "bl_eval")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    gpu = DEVICE == "cuda"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data",
        default="short,long" if gpu else "rt",
        help="comma list of rt (Rotten Tomatoes), short, long (synthetic)",
    )
    p.add_argument(
        "--model",
        default="bert-base" if gpu else "default",
        help="default (MiniLM-L6), bert-base or tiny (random weights) or a checkpoint dir",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=None, help="default 128; 512 for long")
    p.add_argument("--steps", type=int, default=260 if gpu else 40)
    p.add_argument("--warmup", type=int, default=60 if gpu else 8)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--synthetic-size", type=int, default=16384)
    p.add_argument("--no-eval", action="store_true")
    p.add_argument("--skip-hf", action="store_true", help="bertlab only (for ablations)")
    p.add_argument(
        "--no-raw", action="store_true", help="skip the plain PyTorch loop (Lightning overhead)"
    )
    p.add_argument(
        "--override",
        action="append",
        default=[],
        help="bertlab config override, e.g. model.compile=false (repeatable)",
    )
    p.add_argument("--cache-dir", default=None, help="bertlab tokenization cache (default: temp)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument(
        "--isolate",
        action="store_true",
        help="each side in its own process with the same warm-up (no side reuses another's "
        "compiled graphs, cuDNN plans or autotuning: steady state measured fairly)",
    )
    p.add_argument("--side", choices=SIDES, default=None, help=argparse.SUPPRESS)  # a child
    p.add_argument("--side-out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps <= args.warmup:
        p.error("--steps must exceed --warmup")
    return args


def model_dir(name: str, work: Path) -> Path:
    if name == "bert-base":
        return random_bert_base(work / "bert_base_random")
    if name == "tiny":  # the CPU rehearsal of gpu_check.sh: no package needed
        return random_bert(work / "tiny_random", tiny=True)
    return resolve_pretrained(name)


def examples(dm, split: str) -> list[dict]:
    data = dm.dataset(split)
    return [
        {"input_ids": ids.tolist(), "token_type_ids": types.tolist(), "labels": int(label)}
        for ids, types, label in (data[i] for i in range(len(data)))
    ]


def bench_one(kind: str, args: argparse.Namespace, work: Path, peak: float) -> dict:
    mdir = model_dir(args.model, work)
    max_length = args.max_length or (512 if kind == "long" else 128)
    cfg = bertlab_side.compose_config(
        mdir, args.batch_size, max_length, Path(args.cache_dir or work / "cache"), args.override
    )
    corpus = None
    if kind in SYNTHETIC:
        vocab = AutoConfig.from_pretrained(str(mdir)).vocab_size
        corpus = synthetic_corpus(kind, args.synthetic_size, vocab, max_length)
    dm, row = bertlab_side.datamodule(cfg, corpus)
    row.update(
        data=kind,
        model=str(args.model),
        batch_size=args.batch_size,
        max_length=max_length,
        steps=args.steps,
        warmup=args.warmup,
        overrides=args.override,
    )
    mc = AutoConfig.from_pretrained(str(mdir))
    flops = useful_flops_per_sample(
        mc.hidden_size, mc.num_hidden_layers, mc.intermediate_size, dm.dataset("train").lengths
    )
    runs: dict[str, list[dict]] = {k: [] for k in KEYS}
    sides = [s for s in SIDES if not (s == "hf" and args.skip_hf or s == "raw" and args.no_raw)]
    if args.side:  # a child of --isolate: one side, one repeat, runs written for the parent
        run_sides(args, [args.side], runs, mdir, cfg, dm, kind)
        Path(args.side_out).write_text(json.dumps(runs))
        return row
    for r in range(args.repeats):
        order = sides if r % 2 == 0 else sides[::-1]  # no side always goes first
        if args.isolate:
            for side in order:
                for key, values in isolated(side, kind, args, work).items():
                    runs[key] += values
        else:
            run_sides(args, order, runs, mdir, cfg, dm, kind)
        print(
            f"[{kind}] repeat {r + 1}/{args.repeats}: "
            + ", ".join(
                f"{k} {v[-1]['samples_per_s']:.1f}/s"
                + (f" (cold {v[-1]['cold_samples_per_s']:.1f})" if "cold_s" in v[-1] else "")
                for k, v in runs.items()
                if v
            ),
            flush=True,
        )
    row["batch_shapes"] = same_batches(kind, runs["bl_train"], runs["raw_train"])
    for key, values in runs.items():
        if values:
            row[key] = values
            row[f"{key}_samples_per_s"] = spread([v["samples_per_s"] for v in values])
            if key.endswith("train"):
                row[f"{key}_cold_samples_per_s"] = spread([v["cold_samples_per_s"] for v in values])
            if key.endswith("train") and peak == peak:
                row[f"{key}_mfu_pct"] = spread(
                    [100 * v["samples_per_s"] * flops / 1e12 / peak for v in values]
                )
    for stage in ("train", "eval"):
        hf, bl = runs[f"hf_{stage}"], runs[f"bl_{stage}"]
        if hf and bl:
            row[f"{stage}_ratio"] = spread(
                [b["samples_per_s"] / h["samples_per_s"] for h, b in zip(hf, bl, strict=True)]
            )
    if runs["hf_train"] and runs["bl_train"]:
        row["train_cold_ratio"] = spread(
            [
                b["cold_samples_per_s"] / h["cold_samples_per_s"]
                for h, b in zip(runs["hf_train"], runs["bl_train"], strict=True)
            ]
        )
    row["isolated"] = bool(args.isolate)
    if runs["raw_train"]:  # share of the raw loop's speed that bertlab's loop gives up
        row["overhead_pct"] = spread(
            [
                100 * (1 - b["samples_per_s"] / r["samples_per_s"])
                for r, b in zip(runs["raw_train"], runs["bl_train"], strict=True)
            ]
        )
    return row


def same_batches(kind: str, bl: list[dict], raw: list[dict]) -> dict[str, int]:
    """Distinct batch shapes each training side trained on (printed); raises AssertionError
    unless the raw loop got bertlab's batch shapes in bertlab's order in every repeat (else
    the floor is not a floor). The shape lists are dropped from the runs (JSON stays small)."""
    counts = {}
    for name, runs in (("bertlab", bl), ("raw", raw)):
        if runs:
            counts[name] = len({tuple(s) for s in runs[0]["shapes"]})
    for b, r in zip(bl, raw, strict=False):
        if b["shapes"] != r["shapes"]:
            raise AssertionError(
                f"[{kind}] the raw loop did not train on bertlab's batches: "
                f"{counts['raw']} distinct shapes vs bertlab's {counts['bertlab']}, "
                f"first batches {r['shapes'][:3]} vs {b['shapes'][:3]}"
            )
    for run in (*bl, *raw):
        run.pop("shapes", None)
    if counts:
        same = " (the same batch shapes, in the same order)" if bl and raw else ""
        figures = ", ".join(f"{n} {c}" for n, c in counts.items())
        print(f"[{kind}] distinct batch shapes: {figures}{same}", flush=True)
    return counts


def run_sides(args, sides, runs, mdir, cfg, dm, kind) -> None:
    """Train (and evaluate) `sides` in this process, in order; results appended to `runs`."""
    train_ex = examples(dm, "train") if "hf" in sides else []
    eval_ex = examples(dm, "validation") if "hf" in sides and not args.no_eval else []
    model = None
    for side in sides:
        if side == "hf":
            runs["hf_train"].append(
                hf_side.train(mdir, train_ex, args.batch_size, args.steps, args.warmup)
            )
        elif side == "bl":
            result, model = bertlab_side.train(cfg, dm, args.steps, args.warmup)
            runs["bl_train"].append(result)
        else:
            new = bertlab_side.new_model(cfg, dm)
            runs["raw_train"].append(raw_loop.train(cfg, dm, new, args.steps, args.warmup))
    if args.no_eval:
        return
    if "hf" in sides:
        runs["hf_eval"].append(hf_side.evaluate(mdir, eval_ex, args.batch_size))
    if model is not None:
        runs["bl_eval"].append(bertlab_side.evaluate(cfg, dm, model))


def isolated(side: str, kind: str, args: argparse.Namespace, work: Path) -> dict[str, list]:
    """One side in a fresh process (same arguments, same warm-up); its runs by key."""
    out = work / f"side_{kind}_{side}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--data", kind, "--side", side]
    cmd += ["--side-out", str(out), "--model", str(args.model)]
    cmd += ["--batch-size", str(args.batch_size), "--steps", str(args.steps)]
    cmd += ["--warmup", str(args.warmup), "--synthetic-size", str(args.synthetic_size)]
    cmd += ["--cache-dir", str(args.cache_dir or work / "cache")]
    cmd += ["--max-length", str(args.max_length)] * bool(args.max_length)
    cmd += ["--no-eval"] * args.no_eval
    for override in args.override:
        cmd += ["--override", override]
    subprocess.run(cmd, check=True, env={**os.environ, "BENCH_WORK": str(work)})
    return json.loads(out.read_text())


def report(rows: list[dict]) -> None:
    isolated = any(row.get("isolated") for row in rows)
    print("\nsides in " + ("their own processes (--isolate)" if isolated else "one process"))
    print(
        "data | stage | HF samples/s | bertlab samples/s | ratio (min/median/max) | "
        "peak MiB HF/bertlab | MFU% HF/bertlab"
    )
    for row in rows:
        for stage in ("train", "eval"):
            bl = row.get(f"bl_{stage}_samples_per_s")
            if not bl:
                continue
            hf = row.get(f"hf_{stage}_samples_per_s") or {"median": float("nan")}
            ratio = row.get(f"{stage}_ratio")
            ratio_s = (
                "/".join(f"{ratio[k]:.2f}" for k in ("min", "median", "max")) if ratio else "-"
            )
            mem = "/".join(
                f"{row[f'{side}_{stage}'][-1]['peak_mib']:.0f}"
                if row.get(f"{side}_{stage}")
                else "-"
                for side in ("hf", "bl")
            )
            mfu = "/".join(
                f"{row[f'{side}_train_mfu_pct']['median']:.1f}"
                if row.get(f"{side}_train_mfu_pct") and stage == "train"
                else "-"
                for side in ("hf", "bl")
            )
            print(
                f"{row['data']} | {stage} | {hf['median']:.1f} | {bl['median']:.1f} | "
                f"{ratio_s} | {mem} | {mfu}"
            )
        cold = [row.get(f"{side}_train_cold_samples_per_s") for side in ("hf", "bl", "raw")]
        if any(cold):
            figures = " | ".join(
                f"{name} {c['median']:.1f}" if c else f"{name} -"
                for name, c in zip(("HF", "bertlab", "raw"), cold, strict=True)
            )
            ratio = row.get("train_cold_ratio")
            ratio_s = f" | ratio {ratio['median']:.2f}" if ratio else ""
            print(
                f"{row['data']} | train cold (all {row['steps']} steps, warm-up included) | "
                f"{figures}{ratio_s}"
            )
        if row.get("batch_shapes"):
            shapes = ", ".join(f"{n} {c}" for n, c in row["batch_shapes"].items())
            print(f"{row['data']} | distinct batch shapes | {shapes}")
        if "overhead_pct" in row:
            raw = row["raw_train_samples_per_s"]["median"]
            over = "/".join(f"{row['overhead_pct'][k]:.1f}" for k in ("min", "median", "max"))
            print(f"{row['data']} | raw loop | {raw:.1f} samples/s | bertlab overhead {over} %")
        graphs = [
            row[f"bl_{stage}"][0]["graphs_compiled"]
            for stage in ("train", "eval")
            if row.get(f"bl_{stage}")
        ]
        if any(graphs):  # compiled: how many graphs the varying batch shapes needed
            print(
                f"{row['data']} | torch.compile graphs train/eval | " + "/".join(map(str, graphs))
            )
        for name in ("cold", "cached"):
            if f"tokenize_{name}_s" in row:
                print(f"{row['data']} | tokenize {name} | {row[f'tokenize_{name}_s']:.2f} s")


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "transformers", "bertlab"):
        logging.getLogger(name).setLevel(logging.ERROR)
    device = torch.cuda.get_device_name() if DEVICE == "cuda" else platform.processor() or "cpu"
    print(
        f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        flush=True,
    )
    peak = math.nan if args.side else matmul_peak_tflops()  # a child: the parent measures it
    if peak == peak:
        print(f"bf16 matmul peak {peak:.0f} TFLOP/s", flush=True)
    work = Path(os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="bench_"))
    meta = {
        "device": device,
        "torch": torch.__version__,
        "argv": sys.argv,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "bf16_peak_tflops": peak,
    }
    if args.side:  # a child of --isolate: its runs go to --side-out
        bench_one(args.data, args, work, peak)
        return []
    rows = []
    for kind in args.data.split(","):
        rows.append(bench_one(kind, args, work, peak))
        if args.out:  # after each data kind: a run cut short by a time limit keeps its rows
            Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    report(rows)
    return rows


if __name__ == "__main__":
    main()
