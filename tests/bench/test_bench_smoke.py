"""Smoke test of bench/bench.py with a tiny model and synthetic data, so the script cannot rot.
No timing assertions: only that both sides ran and produced sane numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from helpers.runs import HANG_GUARD_S, ROOT


def run_bench(*args: str, timeout: int = HANG_GUARD_S) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_bench_runs_both_sides_and_reports_ratios(tiny_model_dir, tmp_path):
    out = tmp_path / "bench.json"
    proc = run_bench(
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


def test_bench_isolates_sides_in_their_own_processes(tiny_model_dir, tmp_path):
    out = tmp_path / "bench.json"
    proc = run_bench(
        *("--model", str(tiny_model_dir), "--data", "short", "--steps", "3", "--warmup", "1"),
        *("--synthetic-size", "200", "--max-length", "64", "--no-eval", "--no-raw"),
        *("--isolate", "--out", str(out)),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(out.read_text())["rows"][0]
    assert row["isolated"] is True
    for key in ("hf_train", "bl_train"):
        assert len(row[key]) == 1
        assert row[f"{key}_samples_per_s"]["median"] > 0
        assert row[f"{key}_cold_samples_per_s"]["median"] > 0
    assert "their own processes" in proc.stdout


def test_bench_refuses_steps_not_above_warmup():
    proc = run_bench("--steps", "3", "--warmup", "3")
    assert proc.returncode == 2
    assert "--steps must exceed --warmup" in proc.stderr
