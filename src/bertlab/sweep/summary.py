"""Sweep records: ``sweep_summary.csv``, ``best.yaml`` and a short table for the terminal.

Run dirs and checkpoints are recorded relative to the sweep dir, so a moved sweep dir still
finds its trials; ``keep_checkpoints`` deletes the checkpoints of trials outside the top k.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from bertlab.train.checkpoints import delete_checkpoints, relative_path
from bertlab.utils.io import atomic_write_text

log = logging.getLogger(__name__)

SUMMARY, BEST = "sweep_summary.csv", "best.yaml"
# User attributes the sweeper stores per trial and the summary reads back.
OBJECTIVE, BEST_EPOCH, CHECKPOINT, RUN_DIR, OVERRIDES = (
    "objective",
    "best_epoch",
    "checkpoint",
    "run_dir",
    "overrides",
)
EPOCHS_RUN, MAX_EPOCHS = "epochs_run", "max_epochs"
COLUMNS = [
    "trial",
    "state",
    "objective",
    "best_epoch",
    "last_epoch",
    EPOCHS_RUN,
    MAX_EPOCHS,
    "duration_s",
]
TAIL = ["checkpoint", "run_dir", "retry_of", "error"]


def rows(study: optuna.Study, sweep_dir: Path | None = None) -> list[dict[str, Any]]:
    """One dict per trial, in trial order, with the summary columns.

    With ``sweep_dir``, run dir and checkpoint are relative to it, and a deleted checkpoint
    is left empty.
    """
    out = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        run_dir, checkpoint = trial_paths(a, sweep_dir)
        value = a.get(OBJECTIVE, t.value)
        row = {
            "trial": t.number,
            "state": t.state.name + (" (interrupted)" if a.get("interrupted") else ""),
            "objective": value,
            "best_epoch": a.get(BEST_EPOCH),
            "last_epoch": t.last_step,
            EPOCHS_RUN: a.get(EPOCHS_RUN),
            MAX_EPOCHS: a.get(MAX_EPOCHS),
            "duration_s": round(t.duration.total_seconds(), 2) if t.duration else None,
            **{f"param:{k}": v for k, v in t.params.items()},
            "checkpoint": checkpoint,
            "run_dir": run_dir,
            "retry_of": a.get("retry_of"),
            "error": a.get("error"),
        }
        out.append(row)
    return out


def write_summary(study: optuna.Study, sweep_dir: Path) -> Path:
    """Rewrite ``sweep_summary.csv`` atomically from the study (all workers' trials)."""
    table = rows(study, sweep_dir)
    params = sorted({k for r in table for k in r if k.startswith("param:")})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS + params + TAIL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return atomic_write_text(sweep_dir / SUMMARY, buf.getvalue())


def ranked_trials(study: optuna.Study) -> list[FrozenTrial]:
    """COMPLETE trials with a finite value, best first (ties: the earlier trial first)."""
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.value is not None and math.isfinite(t.value)
    ]
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
    return sorted(done, key=lambda t: (-sign * t.value, t.number))


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best COMPLETE trial (pruned and failed trials never win)."""
    ranked = ranked_trials(study)
    return ranked[0] if ranked else None


def write_best(study: optuna.Study, sweep_dir: Path, metric: str) -> Path | None:
    """Write ``best.yaml``: the best trial's overrides, params, value and run dir."""
    best = best_trial(study)
    if best is None:
        return None
    run_dir, checkpoint = trial_paths(best.user_attrs, sweep_dir)
    record = {
        "trial": best.number,
        "metric": metric,
        "direction": study.direction.name.lower(),
        "value": best.value,
        "params": dict(best.params),
        "overrides": list(best.user_attrs.get(OVERRIDES, [])),
        "run_dir": run_dir,  # relative to the sweep dir
        "checkpoint": checkpoint,
    }
    text = yaml.safe_dump(record, sort_keys=False)
    return atomic_write_text(sweep_dir / BEST, text)


def trial_paths(attrs: dict[str, Any], sweep_dir: Path | None) -> tuple[Any, Any]:
    """A trial's run dir and best checkpoint, relative to ``sweep_dir`` when given.

    The checkpoint is recorded relative to the run dir (or absolute, by older runs); it is
    None once deleted.
    """
    run_dir, checkpoint = attrs.get(RUN_DIR), attrs.get(CHECKPOINT)
    if sweep_dir is None or run_dir is None:
        return run_dir, checkpoint
    run = Path(run_dir) if Path(run_dir).is_absolute() else Path(sweep_dir) / run_dir
    if checkpoint:
        path = Path(checkpoint) if Path(checkpoint).is_absolute() else run / checkpoint
        checkpoint = relative_path(path, sweep_dir) if path.is_file() else None
    return relative_path(run, sweep_dir), checkpoint


def prune_checkpoints(study: optuna.Study, sweep_dir: Path, keep: int | None) -> list[int]:
    """Delete the checkpoints of finished trials outside the top ``keep`` COMPLETE trials.

    Ranked by objective as ``best_trial`` ranks them; pruned and failed trials never keep
    theirs; running trials are left alone. Metrics, logs and config stay. None keeps all.

    Returns:
        The numbers of the trials whose checkpoint files were deleted now.
    """
    if keep is None:
        return []
    ranked = ranked_trials(study)
    kept = {t.number for t in ranked[: max(int(keep), 0)]}
    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    deleted = []
    for t in study.get_trials(deepcopy=False, states=finished):
        if t.number in kept or not t.user_attrs.get(RUN_DIR):
            continue
        run_dir = Path(t.user_attrs[RUN_DIR])
        freed = delete_checkpoints(run_dir if run_dir.is_absolute() else sweep_dir / run_dir)
        if freed:
            deleted.append(t.number)
            log.info(
                "Trial %d is outside the top %s: deleted its checkpoints (%d MB).",
                t.number,
                keep,
                freed // 2**20,
            )
    return deleted


def print_table(study: optuna.Study, metric: str, top: int = 10) -> None:
    """Print state counts and the ``top`` trials by objective as a rich table.

    Not a terminal (a log file): the table keeps its natural width, no cell is wrapped.
    """
    from rich.table import Table

    from bertlab.utils.quiet import wide_console

    table_rows = rows(study)
    counts = Counter(r["state"].split()[0] for r in table_rows)
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    ranked = sorted(
        (r for r in table_rows if isinstance(r["objective"], int | float)),
        key=lambda r: sign * r["objective"],
    )[:top]
    params = sorted({k for r in ranked for k in r if k.startswith("param:")})
    title = f"Sweep {study.study_name}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    budget = epoch_budget(table_rows)
    if budget is not None:
        run, planned, saved = budget
        title += f"; {run} of {planned} trial-epochs run, pruning saved {saved}"
    table = Table(title=title)
    for col in ["trial", "state", metric, "epoch", *_short([p[6:] for p in params])]:
        table.add_column(col, overflow="fold")
    for r in ranked:
        cells = [r["trial"], r["state"], r["objective"], r["best_epoch"], *(r[p] for p in params)]
        table.add_row(*(_fmt(c) for c in cells))
    wide_console().print(table)


def epoch_budget(table_rows: list[dict[str, Any]]) -> tuple[int, int, int] | None:
    """Trial-epochs run and planned (``trainer.max_epochs``), and those pruning saved.

    Counts the COMPLETE and PRUNED trials that recorded both numbers; saved = the planned
    epochs that PRUNED trials did not run (early stopping of a COMPLETE trial is not counted
    as saved). None when no trial recorded them (a cross-validated sweep, an older sweep).
    """
    finished = [
        r
        for r in table_rows
        if r["state"].split()[0] in ("COMPLETE", "PRUNED")
        and isinstance(r[EPOCHS_RUN], int)
        and isinstance(r[MAX_EPOCHS], int)
        and r[MAX_EPOCHS] > 0
    ]
    if not finished:
        return None
    run = sum(r[EPOCHS_RUN] for r in finished)
    planned = sum(r[MAX_EPOCHS] for r in finished)
    saved = sum(r[MAX_EPOCHS] - r[EPOCHS_RUN] for r in finished if r["state"].startswith("PRUNED"))
    return run, planned, saved


def _short(keys: list[str]) -> list[str]:
    """Last dotted part of each key (``model.optimizer.lr`` → ``lr``) unless ambiguous."""
    tails = [k.rsplit(".", 1)[-1] for k in keys]
    return [t if tails.count(t) == 1 else k for t, k in zip(tails, keys, strict=True)]


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.3g}"
    return "" if x is None else str(x)
