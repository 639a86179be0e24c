"""bench/shapes.py: the padding / packing table runs, and its FLOP model counts what it says."""

from __future__ import annotations

import importlib.util

from helpers.inprocess import run_here
from helpers.runs import ROOT

SCRIPT = ROOT / "bench" / "shapes.py"


def load_shapes():
    spec = importlib.util.spec_from_file_location("bench_shapes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flop_model_charges_a_packed_row_its_whole_width():
    shapes = load_shapes()
    h = 64
    apart = shapes.flops([(2, 256)], h)  # two 256-token examples, each in its own row
    packed = shapes.flops([(1, 512)], h)  # the same two in one 512-wide row
    assert packed - apart == 4 * h * 512 * 512 - 2 * (4 * h * 256 * 256)  # attention only
    assert shapes.flops([(1, 10)], h) == 10 * (24 * h * h + 4 * h * 10)


def test_table_compares_buckets_with_packing():
    proc = run_here(SCRIPT, "--n", "2048")
    assert proc.returncode == 0, proc.stdout
    rows, first_fit = {}, {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 6:
            rows[(cells[0], cells[1])] = cells
        elif len(cells) == 5 and cells[2].startswith("packed, whole corpus"):
            first_fit[cells[0]] = cells[4]
    for kind, bucket in (("short", "buckets:128"), ("long", "buckets:512")):
        assert rows[(kind, bucket)][4:] == ["1.000", "1.000"]  # the reference is itself
        corpus = rows[(kind, "packed, whole corpus")]
        assert corpus[3] == first_fit[kind]  # the same packing as the padding table's
        for layout in (bucket, "packed per batch", "packed, whole corpus"):
            assert float(rows[(kind, layout)][3]) >= 1.0  # slots hold every real token
