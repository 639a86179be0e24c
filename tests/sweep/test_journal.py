"""A damaged Optuna journal: a cut-off last line is repaired, anything else is one clear error."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest

from bertlab.sweep.errors import SweepError
from bertlab.sweep.study import storage_for
from helpers.runs import HANG_GUARD_S

APP = Path(__file__).parent / "toy" / "app.py"
optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_study(path: Path, n_trials: int = 3) -> optuna.Study:
    """A study of ``n_trials`` COMPLETE trials, then one study attribute (the last line)."""
    study = optuna.create_study(study_name="s", storage=storage_for(str(path)))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n_trials)
    study.set_user_attr("last", 1)
    return study


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def load(path: Path) -> optuna.Study:
    return optuna.load_study(study_name="s", storage=storage_for(str(path)))


def stock_optuna_trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    """The trials as Optuna's own journal reader sees them (no bertlab code)."""
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    storage = optuna.storages.JournalStorage(backend)
    return optuna.load_study(study_name="s", storage=storage).trials


def copies(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


@pytest.mark.parametrize("keep", [0.5, 1.0], ids=["mid-line", "newline-missing"])
def test_a_cut_off_last_line_is_repaired_and_the_study_goes_on(tmp_path, caplog, keep):
    path = tmp_path / "optuna.journal"
    make_study(path)
    whole = path.read_bytes()
    last = lines(path)[-1]
    cut = whole[: len(whole) - len(last) + int((len(last) - 1) * keep)]
    path.write_bytes(cut)  # a worker killed while writing its last operation

    with caplog.at_level(logging.WARNING, logger="bertlab.sweep.journal"):
        study = load(path)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert "last" not in study.user_attrs  # the cut operation is dropped

    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert len(load(path).trials) == 4
    assert [t.state.name for t in stock_optuna_trials(path)] == ["COMPLETE"] * 4
    assert all(line.endswith(b"\n") and json.loads(line) for line in lines(path))
    assert path.read_bytes().startswith(whole[: len(whole) - len(last)])
    [copy] = copies(path)
    assert copy.read_bytes() == cut
    assert str(path) in caplog.text and str(copy) in caplog.text


def test_a_running_worker_repairs_before_it_appends(tmp_path):
    path = tmp_path / "optuna.journal"
    study = make_study(path)  # this worker keeps its storage open
    with path.open("ab") as f:  # another worker, killed half-way through a line
        f.write(b'{"op_code":2,"worker_id":"gone","study_id":0,"user_a')

    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    study.set_user_attr("after", 2)

    assert [t.state.name for t in stock_optuna_trials(path)] == ["COMPLETE"] * 5
    assert load(path).user_attrs == {"last": 1, "after": 2}
    assert len(copies(path)) == 1


def test_the_repair_waits_for_a_write_in_progress(tmp_path):
    path = tmp_path / "optuna.journal"
    make_study(path)
    op = b'{"op_code":2,"worker_id":"w","study_id":0,"user_attr":{"late":3}}\n'
    lock = optuna.storages.journal.JournalFileOpenLock(str(path))
    lock.acquire()  # a live worker in the middle of its append
    with path.open("ab") as f:
        f.write(op[:20])
        f.flush()
    opened: list[optuna.Study] = []
    reader = threading.Thread(target=lambda: opened.append(load(path)))
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive()  # waiting for the lock, not cutting the line
    with path.open("ab") as f:
        f.write(op[20:])
    lock.release()
    reader.join(timeout=HANG_GUARD_S)

    assert opened and opened[0].user_attrs["late"] == 3
    assert copies(path) == []


def test_a_bad_line_in_the_middle_is_one_error_naming_the_file(tmp_path):
    path = tmp_path / "optuna.journal"
    make_study(path)
    rows = lines(path)
    rows[3] = rows[3][:30] + rows[4]  # a cut line with the next operation glued on
    del rows[4]
    path.write_bytes(b"".join(rows))

    with pytest.raises(SweepError) as err:
        load(path)
    message = str(err.value)
    assert str(path) in message and "line 4 is not a JSON record" in message
    assert "move it aside" in message
    assert copies(path) == []  # nothing was changed
    assert path.read_bytes() == b"".join(rows)


def test_an_operation_optuna_cannot_replay_is_one_error_naming_the_file(tmp_path):
    path = tmp_path / "optuna.journal"
    make_study(path)
    rows = lines(path)
    rows.insert(2, b'{"not an operation": true}\n')
    path.write_bytes(b"".join(rows))

    with pytest.raises(SweepError, match="cannot replay") as err:
        load(path)
    assert str(path) in str(err.value)


@pytest.mark.slow
def test_the_sweeper_reports_a_damaged_journal_in_one_message(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    path = out / "optuna.journal"
    path.write_bytes(b'{"op_code":0,"worker_id":"w","study_name":"bertlab",\n{"op_code":4}\n')
    proc = subprocess.run(
        [sys.executable, str(APP), "-m", "hydra.sweeper.n_trials=1"],
        env={**os.environ, "SWEEP_DIR": str(out)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert proc.returncode == 2  # a user error (Hydra's own exit was 1)
    assert f"The Optuna journal {path} is damaged: line 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "0").exists()
