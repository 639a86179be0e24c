"""Smoke test of bench/bench.py with a tiny model and synthetic data, so the script cannot rot.
No timing assertions: only that both sides ran and produced sane numbers. Its command line runs
in this process, except where --isolate's own processes are the point."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from helpers.inprocess import run_here
from helpers.runs import HANG_GUARD_S, ROOT


def bench_here(*args: str, work: Path) -> subprocess.CompletedProcess:
    """`python bench/bench.py <args>` run in this process, its scratch files under `work`."""
    return run_here(ROOT / "bench" / "bench.py", *args, env={"BENCH_WORK": str(work)})


def run_bench(*args: str, work: Path) -> subprocess.CompletedProcess:
    """`python bench/bench.py <args>` in a subprocess, its scratch files under `work`."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), *args],
        cwd=ROOT,
        env={**os.environ, "BENCH_WORK": str(work)},
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )


def test_bench_runs_both_sides_and_reports_ratios(tiny_model_dir, tmp_path):
    out = tmp_path / "bench.json"
    proc = bench_here(
        "--model",
        str(tiny_model_dir),
        "--data",
        "short",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--synthetic-size",
        "200",
        "--max-length",
        "64",
        "--out",
        str(out),
        work=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(out.read_text())["rows"][0]
    for key in ("hf_train", "bl_train", "raw_train", "hf_eval", "bl_eval"):
        rate = row[f"{key}_samples_per_s"]["median"]
        assert math.isfinite(rate) and rate > 0, key
    assert row["train_ratio"]["median"] > 0 and row["eval_ratio"]["median"] > 0
    assert 0 <= row["bl_eval"][0]["accuracy"] <= 1
    assert -100 < row["overhead_pct"]["median"] < 100  # bertlab's loop against the raw loop
    for side in ("hf", "bl", "raw"):  # cold: all steps from a cold start, warm-up included
        cold = row[f"{side}_train_cold_samples_per_s"]["median"]
        assert math.isfinite(cold) and cold > 0, side
    assert row["train_cold_ratio"]["median"] > 0 and row["isolated"] is False
    assert "short | train |" in proc.stdout and "short | raw loop |" in proc.stdout
    assert "short | train cold" in proc.stdout
    # the raw loop trained on bertlab's batches (bench.py raises otherwise)
    shapes = row["batch_shapes"]
    assert shapes["bertlab"] == shapes["raw"] >= 1
    assert "distinct batch shapes: bertlab" in proc.stdout and "same order" in proc.stdout


def test_bench_isolates_sides_in_their_own_processes(tiny_model_dir, tmp_path):
    out = tmp_path / "bench.json"
    proc = run_bench(
        *("--model", str(tiny_model_dir), "--data", "short", "--steps", "3", "--warmup", "1"),
        *("--synthetic-size", "200", "--max-length", "64", "--no-eval", "--no-raw"),
        *("--isolate", "--out", str(out)),
        work=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(out.read_text())["rows"][0]
    assert row["isolated"] is True
    for key in ("hf_train", "bl_train"):
        assert len(row[key]) == 1
        assert row[f"{key}_samples_per_s"]["median"] > 0
        assert row[f"{key}_cold_samples_per_s"]["median"] > 0
    assert "their own processes" in proc.stdout


def test_bench_refuses_steps_not_above_warmup(tmp_path):
    proc = bench_here("--steps", "3", "--warmup", "3", work=tmp_path)
    assert proc.returncode == 2
    assert "--steps must exceed --warmup" in proc.stderr
