"""The persistent Optuna study: storage, samplers, pruners, and worker bookkeeping."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import optuna
from optuna.trial import FrozenTrial, TrialState

from bertlab.sweep.errors import SweepError
from bertlab.sweep.space import SearchSpace

log = logging.getLogger(__name__)

# User attributes the sweeper writes on each trial.
HOST, PID, BEAT = "worker_host", "worker_pid", "heartbeat"
INTERRUPTED, RETRY_OF, ERROR = "interrupted", "retry_of", "error"

PRUNERS: dict[str, Any] = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "threshold": optuna.pruners.ThresholdPruner,
}


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


def journal_storage(path: Path) -> optuna.storages.JournalStorage:
    """Open a journal file, first cutting off a last line that a killed writer left partial.

    Raises:
        SweepError: When another line is not JSON, or Optuna cannot replay the operations.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # The open(2)-based lock works on NFS too, where symlink locks are unreliable.
    lock = optuna.storages.journal.JournalFileOpenLock(str(path))
    if partial_tail(path) is not None:  # checked again under the lock: a write may be going on
        try:
            with _locked(lock):
                repair_tail(path)
        except OSError as e:  # e.g. a read-only copy: Optuna skips a partial last line anyway
            log.warning("Cannot repair the partial last line of %s: %s", path, e)
    try:
        return optuna.storages.JournalStorage(_JournalFile(path, lock))
    except SweepError:
        raise
    except Exception as e:
        raise journal_error(path, f"Optuna cannot replay it ({type(e).__name__}: {e})") from e


class _JournalFile(optuna.storages.journal.JournalFileBackend):
    """Optuna's journal file that repairs a partial last line before each append.

    A worker killed mid-write leaves a line without its newline; Optuna would glue the next
    operation onto it, which makes the file unreadable once more lines follow. Read errors
    name the file.
    """

    def __init__(self, path: Path, lock: optuna.storages.journal.JournalFileOpenLock) -> None:
        super().__init__(str(path), lock_obj=lock)
        self.journal_path, self.journal_lock = path, lock

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        """Optuna's reader; a line that is not JSON raises a SweepError naming it."""
        try:
            yield from super().read_logs(log_number_from)
        except ValueError as e:  # json.JSONDecodeError, or Optuna's "Invalid log format."
            raise journal_error(self.journal_path, _bad_line(self.journal_path, e)) from e

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append operations, one JSON line each, after repairing the last line."""
        data = "".join(json.dumps(op, separators=(",", ":")) + "\n" for op in logs)
        with _locked(self.journal_lock):
            repair_tail(self.journal_path)
            with self.journal_path.open("ab") as f:
                f.write(data.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())


@contextmanager
def _locked(lock: optuna.storages.journal.JournalFileOpenLock) -> Iterator[None]:
    """Hold the journal's file lock, the one Optuna's appends take."""
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def partial_tail(path: Path) -> int | None:
    """The offset of a partial last line (no newline, or not JSON); None when complete."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return None
    with f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        start = _last_line_start(f, size)
        f.seek(start)
        line = f.read(size - start)
    return None if line.endswith(b"\n") and _is_json(line) else start


def _last_line_start(f: BinaryIO, size: int, block: int = 1 << 16) -> int:
    """The offset after the last newline before the file's final byte."""
    end = size - 1
    while end > 0:
        begin = max(0, end - block)
        f.seek(begin)
        found = f.read(end - begin).rfind(b"\n")
        if found >= 0:
            return begin + found + 1
        end = begin
    return 0


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:  # also UnicodeDecodeError
        return False
    return True


def repair_tail(path: Path) -> Path | None:
    """Cut a partial last line off the journal, keeping a copy; call with the lock held.

    Returns:
        The copy of the file as it was, or None when its last line was complete.
    """
    start = partial_tail(path)
    if start is None:
        return None
    cut = path.stat().st_size - start
    copy = _backup(path)
    with path.open("r+b") as f:
        f.truncate(start)
        f.flush()
        os.fsync(f.fileno())
    log.warning(
        "The Optuna journal %s ended in a partial line (%d bytes, a write cut short, e.g. by a "
        "killed worker): cut it off; the study goes on from the complete operations. The file "
        "as it was is kept as %s.",
        path,
        cut,
        copy,
    )
    return copy


def _backup(path: Path) -> Path:
    """Copy ``path`` to ``<name>.corrupt-<time>`` beside it (a free name) and return the copy."""
    stem = f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
    copy, n = path.with_name(stem), 1
    while copy.exists():
        copy, n = path.with_name(f"{stem}-{n}"), n + 1
    shutil.copy2(path, copy)
    return copy


def _bad_line(path: Path, error: Exception) -> str:
    """Describe the first line of the journal that is not JSON (``error`` if none is found)."""
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not _is_json(line):
                text = line.rstrip().decode("utf-8", "replace")
                return f"line {number} is not a JSON record: {text[:80]!r}"
    return f"Optuna cannot read it ({error})"


def journal_error(path: Path, problem: str) -> SweepError:
    """The error for a damaged journal: which file, what is wrong, and what to do."""
    return SweepError(
        f"The Optuna journal {path} is damaged: {problem}. To start a new study, move it aside "
        f"(mv {path} {path}.bad); to resume, put back a good copy of it."
    )


def _engine_kwargs(url: str) -> dict[str, Any]:
    # Several workers on one SQLite file: wait for the lock instead of failing at once.
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}


def make_sampler(cfg: Mapping[str, Any], seed: int | None, space: SearchSpace) -> Any:
    """Build the sampler named ``cfg['name']``; other keys are passed to its constructor.

    Raises:
        SweepError: On an unknown name.
    """
    kwargs = {k: v for k, v in cfg.items() if k not in ("name", "seed")}
    name = cfg.get("name", "tpe")
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **kwargs)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return _GridSampler(space.grid(), seed=seed)
    if name == "cmaes":  # needs the `cmaes` package
        return optuna.samplers.CmaEsSampler(seed=seed, **kwargs)
    raise SweepError(f"Unknown sampler {name!r}; choose tpe, random, grid or cmaes.")


class _GridSampler(optuna.samplers.GridSampler):
    """GridSampler for ask/tell: the sweeper checks ``is_exhausted`` itself.

    The stock ``after_trial`` calls ``study.stop()``, which only works inside ``optimize``.
    """

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        """Do nothing (see the class docstring)."""


def make_pruner(cfg: Mapping[str, Any]) -> optuna.pruners.BasePruner:
    """Build the pruner named ``cfg['name']``; other keys are passed to its constructor.

    ``none`` ignores the other keys, so ``hydra.sweeper.pruner.name=none`` switches pruning
    off without deleting the settings the config composed for the default pruner.

    Raises:
        SweepError: On an unknown name.
    """
    name = cfg.get("name", "none") or "none"
    if name not in PRUNERS:
        raise SweepError(f"Unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}.")
    if name == "none":
        return PRUNERS[name]()
    return PRUNERS[name](**{k: v for k, v in cfg.items() if k != "name"})


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
