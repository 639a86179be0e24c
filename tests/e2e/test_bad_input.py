"""Bad input through `train.py`: one clear message, exit code != 0, no metrics.json.

train.py's command line runs in this process (`run_here`: exit code and output as a
subprocess gives them); test_missing_file runs it in a real process."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.inprocess import run_here
from helpers.runs import ROOT, run_train, tiny_overrides


def assert_refused(proc, run_dir, *phrases: str) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-2000:]
    for phrase in phrases:
        assert phrase in output, (phrase, output[-3000:])
    assert "Traceback" not in output
    assert not (run_dir / "metrics.json").exists()


@pytest.fixture()
def run(tiny_model_dir, tiny_csv, tmp_path):
    def go(*extra: str, data=tiny_csv, subprocess: bool = False):
        out = tmp_path / "run"
        overrides = [*tiny_overrides(tiny_model_dir, data, out, tmp_path / "cache"), *extra]
        if subprocess:
            return run_train(*overrides), out
        return run_here(ROOT / "train.py", *overrides), out

    return go


def test_missing_file(run, tmp_path):
    proc, out = run(f"data.source.path={tmp_path / 'missing.csv'}", subprocess=True)
    assert_refused(proc, out, "Data file not found", "missing.csv")
    assert proc.returncode == 2
    assert (out / "FAILED.txt").is_file()


def test_missing_label_column_lists_columns(run):
    proc, out = run("data.source.label_column=sentiment")
    assert_refused(proc, out, "label column 'sentiment'", "Columns present: text, label")


def test_not_utf8(run, tmp_path):
    path = tmp_path / "latin.csv"
    rows = [f"caf\xe9 {i},{i % 2}" for i in range(40)]
    path.write_bytes(("text,label\n" + "\n".join(rows)).encode("latin-1"))
    proc, out = run(data=path)
    assert_refused(proc, out, "not valid utf-8", "data.source.encoding")


def test_empty_texts_past_the_fraction(run, tmp_path):
    path = tmp_path / "empty.csv"
    pd.DataFrame({"text": ["ok"] * 30 + [" "] * 10, "label": [0, 1] * 20}).to_csv(path, index=False)
    proc, out = run(data=path)
    assert_refused(proc, out, "empty text", "data.max_drop_fraction")


def test_too_few_examples_to_stratify(run, tmp_path):
    path = tmp_path / "rare.csv"
    pd.DataFrame({"text": [f"t {i}" for i in range(42)], "label": ["a"] * 40 + ["b"] * 2}).to_csv(
        path, index=False
    )
    proc, out = run(data=path)
    assert_refused(proc, out, "Class 'b' has only 2 example")


def test_split_ratios_not_summing_to_one(run):
    proc, out = run("data.split.train=0.9")
    assert_refused(proc, out, "Split ratios must sum to 1")


def test_unknown_config_key_and_group_option(run):
    proc, out = run("model.optimizer.lerning_rate=1")
    assert proc.returncode != 0 and "lerning_rate" in proc.stderr
    proc, out = run("trainer=quantum")
    assert proc.returncode != 0 and "quantum" in proc.stderr and "Available options" in proc.stderr


def test_model_path_that_does_not_exist(run, tmp_path):
    proc, out = run(f"model.pretrained={tmp_path / 'nowhere'}")
    assert_refused(proc, out, "no such checkpoint directory")


def test_hub_name_while_offline(run):
    proc, out = run("model.pretrained=someone/unknown-bert", "data.tokenizer=default")
    assert_refused(proc, out, "point model.pretrained at a local")


def test_max_length_above_the_position_limit(run):
    proc, out = run("data.max_length=1024")
    assert_refused(proc, out, "exceeds the model's position limit of 128")


def test_objective_on_test_metric_is_refused(run):
    proc, out = run("objective.metric=test/acc")
    assert_refused(proc, out, "validation metric")


@pytest.mark.parametrize(
    ("override", "phrase"),
    [
        ("data.batch_size=0", "data.batch_size=0"),
        ("data.eval_batch_size=1.5", "data.eval_batch_size=1.5"),
        ("data.max_length=0", "data.max_length=0"),
        ("model.optimizer.lr=0", "model.optimizer.lr=0"),
        ("data.split={train: 0.9, validation: 0, test: 0.1}", "data.split.validation=0"),
        ("objective.metric=val/acuracy", "val/acuracy is not logged"),
        ("data.task=multi", "data.task=multi: use one of"),
        ("data.source.path=null", "data=csv needs a file"),
    ],
)
def test_bad_values_are_refused_before_any_data_work(run, override, phrase):
    proc, out = run(override)
    assert_refused(proc, out, phrase)
    assert proc.returncode == 2 and (out / "FAILED.txt").is_file()
    assert not (out / "label_map.json").exists()  # refused before the data was read


def test_an_error_inside_a_constructor_exits_2(run):
    proc, out = run("data.split.train=0.7")  # raised in the DataModule's constructor
    assert_refused(proc, out, "Split ratios must sum to 1")
    assert proc.returncode == 2 and "InstantiationException" not in proc.stdout + proc.stderr


def test_one_class_only(run, tmp_path):
    path = tmp_path / "one.csv"
    pd.DataFrame({"text": [f"good film {i}" for i in range(40)], "label": "pos"}).to_csv(
        path, index=False
    )
    proc, out = run(data=path)
    assert_refused(proc, out, "one class only", "['pos']")
    assert proc.returncode == 2 and not (out / "label_map.json").exists()
