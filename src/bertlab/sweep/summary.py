"""Sweep records: ``sweep_summary.csv``, ``best.yaml`` and a short table for the terminal."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from bertlab.utils.io import atomic_write_text

SUMMARY, BEST = "sweep_summary.csv", "best.yaml"
# User attributes the sweeper stores per trial and the summary reads back.
OBJECTIVE, BEST_EPOCH, CHECKPOINT, RUN_DIR, OVERRIDES = (
    "objective",
    "best_epoch",
    "checkpoint",
    "run_dir",
    "overrides",
)
COLUMNS = ["trial", "state", "objective", "best_epoch", "last_epoch", "duration_s"]
TAIL = ["checkpoint", "run_dir", "retry_of", "error"]


def rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One dict per trial, in trial order, with the summary columns."""
    out = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        value = a.get(OBJECTIVE, t.value)
        row = {
            "trial": t.number,
            "state": t.state.name + (" (interrupted)" if a.get("interrupted") else ""),
            "objective": value,
            "best_epoch": a.get(BEST_EPOCH),
            "last_epoch": t.last_step,
            "duration_s": round(t.duration.total_seconds(), 2) if t.duration else None,
            **{f"param:{k}": v for k, v in t.params.items()},
            "checkpoint": a.get(CHECKPOINT),
            "run_dir": a.get(RUN_DIR),
            "retry_of": a.get("retry_of"),
            "error": a.get("error"),
        }
        out.append(row)
    return out


def write_summary(study: optuna.Study, sweep_dir: Path) -> Path:
    """Rewrite ``sweep_summary.csv`` atomically from the study (all workers' trials)."""
    table = rows(study)
    params = sorted({k for r in table for k in r if k.startswith("param:")})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS + params + TAIL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return atomic_write_text(sweep_dir / SUMMARY, buf.getvalue())


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best COMPLETE trial (pruned and failed trials never win)."""
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None and math.isfinite(t.value)
    ]
    if not done:
        return None
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
    return max(done, key=lambda t: (sign * t.value, -t.number))


def write_best(study: optuna.Study, sweep_dir: Path, metric: str) -> Path | None:
    """Write ``best.yaml``: the best trial's overrides, params, value and run dir."""
    best = best_trial(study)
    if best is None:
        return None
    record = {
        "trial": best.number,
        "metric": metric,
        "direction": study.direction.name.lower(),
        "value": best.value,
        "params": dict(best.params),
        "overrides": list(best.user_attrs.get(OVERRIDES, [])),
        "run_dir": best.user_attrs.get(RUN_DIR),
        "checkpoint": best.user_attrs.get(CHECKPOINT),
    }
    text = yaml.safe_dump(record, sort_keys=False)
    return atomic_write_text(sweep_dir / BEST, text)


def print_table(study: optuna.Study, metric: str, top: int = 10) -> None:
    """Print state counts and the ``top`` trials by objective as a rich table."""
    from rich.console import Console
    from rich.table import Table

    table_rows = rows(study)
    counts = Counter(r["state"].split()[0] for r in table_rows)
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    ranked = sorted(
        (r for r in table_rows if isinstance(r["objective"], int | float)),
        key=lambda r: sign * r["objective"],
    )[:top]
    params = sorted({k for r in ranked for k in r if k.startswith("param:")})
    title = f"Sweep {study.study_name}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    table = Table(title=title)
    for col in ["trial", "state", metric, "epoch", *_short([p[6:] for p in params])]:
        table.add_column(col, overflow="fold")
    for r in ranked:
        cells = [r["trial"], r["state"], r["objective"], r["best_epoch"], *(r[p] for p in params)]
        table.add_row(*(_fmt(c) for c in cells))
    Console(stderr=False).print(table)


def _short(keys: list[str]) -> list[str]:
    """Last dotted part of each key (``model.optimizer.lr`` → ``lr``) unless ambiguous."""
    tails = [k.rsplit(".", 1)[-1] for k in keys]
    return [t if tails.count(t) == 1 else k for t, k in zip(tails, keys, strict=True)]


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.3g}"
    return "" if x is None else str(x)
