"""Matplotlib pictures of evaluation results, for TensorBoard's IMAGES tab (Agg only, no pyplot).

Sized for TensorBoard's image cards (about 330-500 px wide): figures are about 500 px wide with
11-14 pt text, so the text stays legible after a card scales them down."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

DPI = 100
MAX_CELL_TEXT = 10  # classes up to which each confusion cell shows its count and row %
MAX_LEGEND = 10  # classes up to which the multiclass PR figure has a legend


def short(name: str, width: int = 14) -> str:
    """A class name cut to `width` characters (tick labels stay readable)."""
    return name if len(name) <= width else name[: width - 1] + "…"


def per_class_table(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (rows = true)."""
    tp = np.diag(cm).astype(float)
    precision = tp / np.maximum(cm.sum(0), 1)
    recall = tp / np.maximum(cm.sum(1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1, "support": cm.sum(1)}


def row_shares(cm: np.ndarray) -> np.ndarray:
    """Each row of a confusion matrix divided by its sum (0 for a class with no examples)."""
    return cm / np.maximum(cm.sum(1, keepdims=True), 1)


def confusion_figure(cm: np.ndarray, names: list[str], title: str = "") -> Figure:
    """Counts and row percentages; colour = share of the true class, so small classes show.

    Up to MAX_CELL_TEXT classes each cell reads "count / row %"; above that only the colour
    (and the colour bar) tells the share."""
    n = len(names)
    width = 5.0 if n <= 3 else min(5.4 + 0.2 * max(0, n - MAX_CELL_TEXT), 10)
    fig = Figure(figsize=(width, width * 0.9), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    share = row_shares(cm)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    bar = fig.colorbar(image, ax=ax, shrink=0.8, aspect=25, format=PercentFormatter(1, decimals=0))
    bar.set_label("row % (share of the true class)", fontsize=11)
    bar.ax.tick_params(labelsize=11)
    tick_size = 12 if n <= 6 else 11 if n <= MAX_CELL_TEXT else max(7, 11 - (n - 10) // 4)
    ticks = np.arange(n)
    ax.set_xticks(ticks, [short(s, 12) for s in names], fontsize=tick_size)
    ax.set_yticks(ticks, [short(s, 12) for s in names], fontsize=tick_size)
    if n > 3 or max(len(s) for s in names) > 8:
        for label in ax.get_xticklabels():
            label.set(rotation=40, ha="right", rotation_mode="anchor")
    if n > 40:  # unreadable anyway: keep the picture, drop the names
        ax.set_xticks([]), ax.set_yticks([])
    ax.set_xlabel("predicted", fontsize=13)
    ax.set_ylabel("true", fontsize=13)
    total = int(cm.sum())
    accuracy = np.trace(cm) / max(total, 1)
    head = f"{title}\n" if title else ""
    ax.set_title(f"{head}accuracy {accuracy:.1%} of {total}", fontsize=14)
    if n <= MAX_CELL_TEXT:
        size = 16 if n <= 3 else 13 if n <= 6 else 10
        for i, j in np.ndindex(cm.shape):
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{share[i, j]:.1%}" if n <= 3 else f"{cm[i, j]}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.55 else "black",
                fontsize=size,
            )
    return fig


def per_class_figure(table: dict[str, np.ndarray], names: list[str], title: str = "") -> Figure:
    """Grouped bars of precision, recall and F1 per class; the legend sits below the axes."""
    n = len(names)
    fig = Figure(figsize=(min(5.2 + 0.4 * max(0, n - 5), 14), 4), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    x, width = np.arange(n), 0.27
    for k, key in enumerate(("precision", "recall", "f1")):
        ax.bar(x + (k - 1) * width, table[key], width, label="F1" if key == "f1" else key)
    support = table.get("support")
    rotate = n > 5 or (n > 3 and max(len(s) for s in names) > 8)
    sep = " " if rotate else "\n"
    labels = [
        short(s) if support is None else f"{short(s)}{sep}n={int(c)}"
        for s, c in zip(names, support if support is not None else names, strict=True)
    ]
    ax.set_xticks(x, labels, fontsize=12 if n <= 3 else 11 if n <= 8 else 10)
    if rotate:
        for label in ax.get_xticklabels():
            label.set(rotation=40, ha="right", rotation_mode="anchor")
    ax.set_ylim(0, 1)
    ax.set_ylabel("score", fontsize=13)
    ax.tick_params(axis="y", labelsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title or "per-class scores", fontsize=14)
    fig.legend(loc="outside lower center", ncols=3, fontsize=12, frameon=False)
    return fig


def pr_figure(
    curves: list[tuple[str, np.ndarray, np.ndarray, float]],
    title: str = "",
    prevalence: float | None = None,
) -> Figure:
    """Precision-recall curves, one per (name, precision, recall, average precision).

    One curve (binary: the positive class) has its AP in the title; several (one-vs-rest)
    have each AP in the legend and the macro mean (over classes with examples) in the title."""
    outside = MAX_LEGEND >= len(curves) > 2  # the legend goes below the axes
    rows = (len(curves) + 1) // 2 if outside else 0
    fig = Figure(figsize=(5.2, 4.4 + 0.25 * rows), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    aps = np.array([ap for *_, ap in curves], dtype=float)
    for name, precision, recall, ap in curves:
        label = f"{short(name)} (AP {ap:.3f})"
        width = 2 if len(curves) == 1 else 1.4
        ax.plot(recall, precision, lw=width, drawstyle="steps-post", label=label)  # as AP sums
    if prevalence is not None:
        ax.axhline(prevalence, ls="--", lw=1, color="grey", label=f"chance ({prevalence:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.02))
    ax.set_xlabel("recall", fontsize=13)
    ax.set_ylabel("precision", fontsize=13)
    ax.tick_params(labelsize=11)
    ax.grid(alpha=0.3)
    if len(curves) == 1:
        score = f"AP {aps[0]:.3f} (positive class: {short(curves[0][0])})"
    else:
        score = f"macro AP {np.nanmean(aps):.3f} (one-vs-rest)" if len(aps) else "no classes"
    ax.set_title(f"{title}\n{score}" if title else score, fontsize=14)
    if outside:
        fig.legend(loc="outside lower center", ncols=2, fontsize=11, frameon=False)
    elif len(curves) <= MAX_LEGEND:
        ax.legend(loc="lower left", fontsize=12)
    return fig
