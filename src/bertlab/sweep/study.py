"""The persistent Optuna study: its storage, and the bookkeeping of the workers sharing it.

Samplers and pruners are built in :mod:`bertlab.sweep.samplers`; the journal file's repair
lives in :mod:`bertlab.sweep.journal`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from bertlab.sweep.journal import journal_storage

# User attributes the sweeper writes on each trial.
HOST, PID, BEAT = "worker_host", "worker_pid", "heartbeat"
INTERRUPTED, RETRY_OF, ERROR = "interrupted", "retry_of", "error"


def resolve_storage(url: str | None, sweep_dir: Path) -> str:
    """The storage to use: ``url`` as given, or ``<sweep_dir>/optuna.journal`` when None."""
    return url if url else str(sweep_dir.absolute() / "optuna.journal")


def storage_for(url: str) -> optuna.storages.BaseStorage:
    """Open the study storage.

    Args:
        url: Optuna RDB URL (``sqlite:///…``, ``postgresql://…``), or a path ending in
            ``.journal``/``.log`` for a journal file (several processes may share either).

    Raises:
        SweepError: When a journal file is damaged beyond a cut-off last line.
    """
    if url.endswith((".journal", ".log")) and "://" not in url:
        return journal_storage(Path(url))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))


def _engine_kwargs(url: str) -> dict[str, Any]:
    # Several workers on one SQLite file: wait for the lock instead of failing at once.
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}


def budget_used(study: optuna.Study) -> int:
    """Trials that count toward ``n_trials``: started and not interrupted."""
    trials = study.get_trials(deepcopy=False)
    return sum(t.state != TrialState.WAITING and not t.user_attrs.get(INTERRUPTED) for t in trials)


def failures(study: optuna.Study) -> int:
    """Trials that failed with an error (interrupted ones are retried and not counted)."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return sum(not t.user_attrs.get(INTERRUPTED) for t in trials)


def claim(trial: optuna.Trial) -> None:
    """Mark a freshly asked trial as run by this process."""
    trial.set_user_attr(HOST, socket.gethostname())
    trial.set_user_attr(PID, os.getpid())
    trial.set_user_attr(BEAT, time.time())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(trial: FrozenTrial, grace_s: float, now: float | None = None) -> bool:
    """A RUNNING trial whose worker is gone: dead pid on this host, or heartbeat too old."""
    attrs = trial.user_attrs
    if attrs.get(HOST) == socket.gethostname() and attrs.get(PID) is not None:
        if attrs[PID] == os.getpid():
            return False
        if not _pid_alive(int(attrs[PID])):
            return True
    beat = attrs.get(BEAT)
    if beat is None:  # never claimed (not run by this sweeper): fall back on its start time
        start = trial.datetime_start
        beat = start.timestamp() if start else 0.0
    return (now or time.time()) - float(beat) > grace_s


def retry(study: optuna.Study, trial: FrozenTrial, reason: str) -> bool:
    """Mark ``trial`` FAIL (interrupted) and enqueue a fresh trial with its parameters.

    Returns:
        False when another process had already finished or retried it.
    """
    storage = study._storage  # the public Study API cannot fail someone else's trial
    try:
        storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, reason)
        if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
            return False
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number})
    return True


def recover_stale(study: optuna.Study, grace_s: float) -> list[int]:
    """Fail and re-enqueue RUNNING trials left by dead workers; return their numbers."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return [t.number for t in running if is_stale(t, grace_s) and retry(study, t, "stale")]


@contextmanager
def heartbeat(trial: optuna.Trial, interval_s: float) -> Iterator[None]:
    """Refresh the trial's heartbeat attribute every ``interval_s`` seconds while running."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval_s):
            try:
                trial.set_user_attr(BEAT, time.time())
            except Exception:  # a storage hiccup: the next beat may succeed
                continue

    thread = threading.Thread(target=beat, name="bertlab-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
