"""A study is its search space and fixed overrides: same command resumes, a changed one is new.

Most checks run the toy app (tests/sweep/toy) set up as configs/hparams_search is: hashed study
name, sweep dir ``<root>/${hydra.sweeper.study_name}``. The last test runs train.py's basic
sweeper on the tiny model, to hold docs/sweeps.md to what the code does about testing.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import optuna
import pytest

from bertlab.sweep.space import canonical, differences, fingerprint, parse_space
from bertlab.sweep.study import storage_for
from bertlab.utils.latest import resolve_latest
from helpers.inprocess import run_here
from helpers.runs import run_train, tiny_overrides

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).parent / "toy" / "app.py"
GRID = [
    "hydra.sweeper.hash_study_name=true",
    "hydra.sweeper.sampler.name=grid",
    "hydra.sweeper.n_trials=null",
    "hydra.sweeper.params=null",
]
STUDY_LINE = re.compile(r"Study '([\w.-]+)' \(search space .*\): (new|resuming), \d+/\d+ trials")
NO_TEST_SENTENCE = (
    "Its jobs do not test either: `test_after_fit: null` (the default) tests a single run but "
    "never a\njob of a multirun, so the test set stays locked."
)


def toy(root: Path, *overrides: str) -> subprocess.CompletedProcess:
    """Run the toy sweep with its dir under ``root`` named after the study, as hparams_search
    (its command line, in this process: `run_here`)."""
    sweep_dir = f"hydra.sweep.dir={root}/${{hydra.sweeper.study_name}}"
    env = {"SWEEP_DIR": str(root / "unused")}
    return run_here(APP, "-m", *GRID, sweep_dir, *overrides, cwd=root.parent, env=env)


def ok(proc: subprocess.CompletedProcess) -> tuple[str, str]:
    """Assert success; return the study name and 'new'/'resuming' from the log."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = STUDY_LINE.search(proc.stdout + proc.stderr)
    assert found, proc.stdout[-3000:] + proc.stderr[-3000:]
    return found.group(1), found.group(2)


def trials(sweep_dir: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    storage = storage_for(str(sweep_dir / "optuna.journal"))
    return optuna.load_study(study_name=name, storage=storage).trials


def summary(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "sweep_summary.csv").open() as f:
        return list(csv.DictReader(f))


def test_the_fingerprint_is_the_space_and_sorted_fixed_overrides():
    a = canonical(parse_space({"x": "interval(0, 1)"}, ["y=choice(1,2)", "a=1", "b=2"]))
    b = canonical(parse_space({"y": "choice(1,2)"}, ["b=2", "x=interval(0,1)", "a=1"]))
    c = canonical(parse_space({"x": "interval(0, 1)"}, ["y=choice(1,2)", "a=1", "b=3"]))
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    assert re.fullmatch(r"[0-9a-f]{8}", fingerprint(a))
    assert differences(a, c) == ["fixed override b=2 removed", "fixed override b=3 added"]


def test_same_command_resumes_and_a_changed_grid_is_a_new_study(tmp_path):
    root = tmp_path / "sweeps"
    name, state = ok(toy(root, "x=0.1,0.2"))
    first = root / name
    assert re.fullmatch(r"bertlab-[0-9a-f]{8}", name)
    assert state == "new" and len(trials(first, name)) == 2
    assert [first / r["run_dir"] for r in summary(first)] == [first / "0", first / "1"]
    assert resolve_latest(root / "bertlab") == first  # the latest-pointer

    again, state = ok(toy(root, "x=0.1,0.2"))
    assert (again, state) == (name, "resuming")
    assert len(trials(first, name)) == 2  # complete: nothing rerun

    other, state = ok(toy(root, "x=0.1,0.2", "y=2,3"))
    assert other != name and state == "new"
    assert len(trials(root / other, other)) == 4 and len(trials(first, name)) == 2
    runs = [root / other / r["run_dir"] for r in summary(root / other)]
    assert [(run / ".hydra").is_dir() and run.parent for run in runs] == [root / other] * 4
    assert resolve_latest(root / "bertlab") == root / other

    fixed, _ = ok(toy(root, "x=0.1,0.2", "epochs=2"))  # a changed fixed override
    assert fixed not in (name, other)


def test_an_explicit_name_with_another_space_is_refused_naming_the_difference(tmp_path):
    root = tmp_path / "sweeps"
    assert ok(toy(root, "x=0.1,0.2", "hydra.sweeper.study_name=mine")) == ("mine", "new")
    assert len(trials(root / "mine", "mine")) == 2
    proc = toy(root, "x=0.1,0.3", "epochs=2", "hydra.sweeper.study_name=mine")
    assert proc.returncode != 0
    assert "Study 'mine' was made for another search space" in proc.stderr
    assert "param x: choice(0.1, 0.2) -> choice(0.1, 0.3)" in proc.stderr
    assert "fixed override epochs=2 added" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(trials(root / "mine", "mine")) == 2


def test_a_one_value_grid_is_one_message(tmp_path):
    root = tmp_path / "sweeps"
    proc = toy(root, "x=0.3")
    assert proc.returncode != 0
    assert "Nothing to search: no parameter has more than one value" in proc.stderr
    assert "x=0.3" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not root.exists()


def test_docs_say_what_a_plain_multirun_does_with_the_test_set():
    text = (ROOT / "docs" / "sweeps.md").read_text()
    assert NO_TEST_SENTENCE in text
    assert "does not turn testing off" not in text


@pytest.mark.slow
def test_a_plain_multirun_job_does_not_test(tiny_model_dir, tiny_csv, tmp_path):
    overrides = [
        o
        for o in tiny_overrides(tiny_model_dir, tiny_csv, tmp_path / "run", tmp_path / "cache")
        if not o.startswith(("hydra.run.dir=", "trainer.max_epochs="))
    ]
    out = tmp_path / "multirun"
    proc = run_train(
        "-m",
        "seed=1,2",
        *overrides,
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        "~logger",
        f"hydra.sweep.dir={out}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = sorted(out.glob("*/metrics.json"))
    assert [p.parent.name for p in jobs] == ["0", "1"]
    for path in jobs:
        assert "test" not in json.loads(path.read_text())


def test_a_changed_command_in_an_explicit_sweep_dir_is_refused(tmp_path):
    out = tmp_path / "shared"
    name, _ = ok(toy(tmp_path, "x=0.1,0.2", f"hydra.sweep.dir={out}"))
    proc = toy(tmp_path, "x=0.1,0.3", f"hydra.sweep.dir={out}")
    assert proc.returncode != 0
    assert f"{out} already holds study {name!r}" in proc.stderr
    assert "param x: choice(0.1, 0.2) -> choice(0.1, 0.3)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(summary(out)) == 2


def test_resuming_a_study_whose_test_set_was_opened_says_so(tmp_path):
    from bertlab.sweep import lockbox

    root = tmp_path / "sweeps"
    root.mkdir()
    name, _ = ok(toy(root, "x=0.1,0.2", "epochs=1"))
    lockbox.open_lockbox(root / name, {"trial": 1, "seeds": [0]})
    proc = toy(root, "x=0.1,0.2", "epochs=1")
    ok(proc)
    assert "already opened 1 time(s)" in proc.stdout + proc.stderr
    assert json.loads((root / name / "lockbox.json").read_text())["openings"]
