"""A comparison's records in its dir: compare.json (every number), compare.md (tables and
the sentences), compare.png (per-seed points and intervals), and TensorBoard (the figure,
and one HParams row per run with a `group` column: its arm)."""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bertlab.compare.runs import Run
from bertlab.compare.stats import PROCEDURE, PROCEDURE_CV, in_points
from bertlab.utils.io import atomic_write_json, atomic_write_text

JSON, MARKDOWN, FIGURE, TENSORBOARD = "compare.json", "compare.md", "compare.png", "tensorboard"


def write_report(out: Path, result: dict[str, Any], runs: Sequence[Run]) -> None:
    """Write compare.json, compare.md, compare.png and the TensorBoard records into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / JSON, result)
    atomic_write_text(out / MARKDOWN, markdown(result))
    figure = draw(result)
    if figure is not None:
        figure.savefig(out / FIGURE, dpi=110, bbox_inches="tight")
    write_tensorboard(out / TENSORBOARD, result, runs, figure)
    if figure is not None:
        import matplotlib.pyplot as plt

        plt.close(figure)


def _num(value: float, metric: str) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.4f}"


def markdown(result: dict[str, Any]) -> str:
    """compare.md: the sentences first, then per metric the arms and the differences."""
    seeds = ", ".join(map(str, result["seeds"]))
    lines = [
        "# Comparison",
        "",
        f"Command: `{result['command']}`  ",
        f"Seeds: {seeds} (data.split_seed={result.get('split_seed', 'as the runs')}); "
        f"wall time {result['wall_time_s']:.0f} s; runs trained {result['trained']}, "
        f"reused {result['reused']}.",
        *scored_on(result),
        "",
        "## Verdicts",
        "",
        *[f"- {s}" for s in result["sentences"]],
        "",
        "## Arms",
        "",
        "| arm | what | runs |",
        "|---|---|---|",
    ]
    for arm in result["arms"]:
        dirs = ", ".join(f"`{d}`" for d in arm["runs"].values())
        lines.append(f"| {arm['label']} | {arm['what']} | {dirs} |")
    for metric, block in result["metrics"].items():
        lines += ["", f"## {metric}", "", "| arm | mean ± std | per seed |", "|---|---|---|"]
        for label, arm in block["arms"].items():
            per = ", ".join(_num(v, metric) for v in arm["values"])
            lines.append(
                f"| {label} | {_num(arm['mean'], metric)} ± {_num(arm['std'], metric)} | {per} |"
            )
        if block["differences"]:
            level = f"{result['bootstrap']['level'] * 100:g}%"
            only = "folds only" if result.get("cv_folds") else "test examples only"
            lines += [
                "",
                f"| difference | mean | per seed | {level} CI | {level} CI, {only} |",
                "|---|---|---|---|---|",
            ]
            for d in block["differences"]:
                per = ", ".join(f"{v:+.4f}" for v in d["per_seed"])
                lines.append(
                    f"| {d['arm']} − {d['baseline']} | {d['mean']:+.4f} | {per} | "
                    f"{_interval(d['ci'])} | {_interval(d['ci_examples'])} |"
                )
    b = result["bootstrap"]
    lines += [
        "",
        "## How the intervals are computed",
        "",
        f"{b['resamples']} paired bootstrap resamples (numpy seed {b['seed']}). "
        + (PROCEDURE_CV if result.get("cv_folds") else PROCEDURE),
        "",
    ]
    return "\n".join(lines)


def scored_on(result: dict[str, Any]) -> list[str]:
    """The line saying what the runs were scored on, for cross-validated runs."""
    k = result.get("cv_folds")
    if not k:
        return []
    return [
        f"Scores: {k}-fold cross-validation (cv=kfold, cv.k={k}), the mean over folds of each "
        "fold's best-epoch validation metrics; the test set was not opened."
    ]


def _interval(ci) -> str:
    return "–" if not ci else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"


def draw(result: dict[str, Any]):
    """Per metric with intervals: each arm's per-seed values (points) and mean ± std; each
    arm's per-seed differences to the baseline and the interval of the mean difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [m for m, b in result["metrics"].items() if any(d["ci"] for d in b["differences"])]
    shown = shown or list(result["metrics"])[:1]
    if not shown:
        return None
    fig, axes = plt.subplots(len(shown), 2, figsize=(10, 2.8 * len(shown)), squeeze=False)
    for row, metric in zip(axes, shown, strict=True):
        block = result["metrics"][metric]
        scale = 100 if in_points(metric) else 1
        unit = " (pts)" if scale == 100 else ""
        left, right = row
        colour = {label: f"C{i % 10}" for i, label in enumerate(block["arms"])}  # both panels
        for x, (label, arm) in enumerate(block["arms"].items()):
            values = [v * scale for v in arm["values"]]
            left.scatter([x] * len(values), values, s=18, alpha=0.7, color=colour[label])
            left.errorbar(
                x + 0.15,
                arm["mean"] * scale,
                yerr=arm["std"] * scale,
                fmt="o",
                color="black",
                capsize=4,
            )
        left.set_xticks(range(len(block["arms"])), [_short(a) for a in block["arms"]], **TICKS)
        left.set_xlim(-0.5, len(block["arms"]) - 0.5)
        left.set_title(f"{metric}{unit}: per seed, mean ± std", fontsize=9)
        for x, d in enumerate(block["differences"]):
            values = [v * scale for v in d["per_seed"]]
            right.scatter([x] * len(values), values, s=18, alpha=0.7, color=colour.get(d["arm"]))
            if d["ci"]:
                low, high = (v * scale for v in d["ci"])
                mean = d["mean"] * scale
                right.errorbar(
                    x + 0.15,
                    mean,
                    yerr=[[mean - low], [high - mean]],
                    fmt="o",
                    color="black",
                    capsize=4,
                )
        right.axhline(0, color="grey", lw=0.8, ls="--")
        labels = [_short(d["arm"]) for d in block["differences"]]
        right.set_xticks(range(len(labels)), labels, **TICKS)
        right.set_xlim(-0.5, max(len(labels), 1) - 0.5)
        level = f"{result['bootstrap']['level'] * 100:g}%"
        base = _short(block["differences"][0]["baseline"]) if block["differences"] else ""
        right.set_title(f"arm − {base}{unit}: per seed, mean and {level} CI", fontsize=9)
    fig.tight_layout()
    return fig


TICKS = {"rotation": 25, "ha": "right", "fontsize": 8}  # long arm labels stay readable


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def slug(label: str) -> str:
    """A label as a folder name."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", label).strip("_")[:80] or "default"


def write_tensorboard(path: Path, result: dict[str, Any], runs: Sequence[Run], figure) -> None:
    """`path` afresh: the figure (IMAGES: compare/figure) and one HParams row per run, with
    the columns group (its arm), seed and run_dir, and its scores as hp/<metric> (test/<m>,
    or the k-fold means val/<m>)."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    shutil.rmtree(path, ignore_errors=True)
    with SummaryWriter(str(path)) as writer:
        if figure is not None:
            writer.add_figure("compare/figure", figure, 0, close=False)
        writer.add_text("compare/verdicts", "\n\n".join(result["sentences"]) or "-", 0)
    for run in runs:
        metrics = {f"hp/{k}": v for k, v in run.test.items() if math.isfinite(v)}
        params = {"group": run.arm, "seed": run.seed, "run_dir": str(run.dir)}
        with SummaryWriter(str(path / slug(run.arm) / f"seed_{run.seed}")) as writer:
            for summary in hparams(params, metrics):
                writer.file_writer.add_summary(summary)
            for key, value in metrics.items():
                writer.add_scalar(key, value, 0)
