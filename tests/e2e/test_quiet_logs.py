"""A run's console and train.log hold what a user needs, not the libraries' routine noise."""

from __future__ import annotations

import re

import pytest

from helpers.runs import run_train, tiny_overrides

NOISE = {
    "transformers' load report": "LOAD REPORT",
    "weight-loading progress bar": "Loading weights",
    "Lightning's litlogger tip": "litlogger",
    "torch pytree deprecation": "LeafSpec",
    "model summary on bf16": "not supported by the model summary",
}
EPOCH_LINE = re.compile(r"\[bertlab\.epoch\]\[INFO\] - Epoch (\d+): .*val/loss \S+, val/acc \S+")
ANSI = "\x1b["


@pytest.fixture(scope="module")
def noisy_run(tiny_model_dir, tiny_csv, tmp_path_factory):
    """Two tiny epochs in bf16: model summary, config tree, a long checkpoint dir."""
    out = tmp_path_factory.mktemp("quiet") / "run"
    long_dir = out / ("d" * 120) / "checkpoint_dir_tail"
    proc = run_train(
        *tiny_overrides(tiny_model_dir, tiny_csv, out, out.parent / "cache"),
        "trainer.max_epochs=2",
        "trainer.precision=bf16-mixed",
        "trainer.enable_model_summary=true",
        "print_config=full",
        f"callbacks.model_checkpoint.dirpath={long_dir}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, (out / "train.log").read_text(), long_dir


DEFAULTED = ("print_config", "callbacks.rich_progress_bar", "trainer.enable_model_summary")


@pytest.fixture(scope="module")
def default_console(tiny_model_dir, tiny_csv, tmp_path_factory) -> str:
    """A run with the console defaults (config, summary, progress bar): its stdout + stderr."""
    out = tmp_path_factory.mktemp("console") / "run"
    overrides = [
        o
        for o in tiny_overrides(tiny_model_dir, tiny_csv, out, out.parent / "cache")
        if o.split("=")[0].lstrip("~") not in DEFAULTED
    ]
    proc = run_train(*overrides, "trainer.max_epochs=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_a_default_run_prints_choices_and_overrides_not_the_tree(default_console):
    assert "Config: callbacks=default data=csv" in default_console
    assert "Overrides: model.pretrained=" in default_console
    assert "_target_" not in default_console  # the full tree is in config.yaml and train.log


def test_a_default_run_has_a_one_line_model_summary_and_the_test_result_once(default_console):
    assert "FLOPs" not in default_console and "Trainable params" not in default_console
    assert (
        len(
            re.findall(
                r"Model: TextClassifier \(BertForSequenceClassification\): ", default_console
            )
        )
        == 1
    )
    assert "Test metric" not in default_console  # Lightning's table
    assert default_console.count("Test: test/loss") == 1
    assert len(default_console.splitlines()) <= 40, default_console


@pytest.mark.parametrize("name", sorted(NOISE))
def test_noise_is_absent(noisy_run, name):
    proc, log_text, _ = noisy_run
    for where, text in {
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "train.log": log_text,
    }.items():
        assert NOISE[name] not in text, f"{name} in {where}"


def test_lightning_lines_are_not_printed_twice(noisy_run):
    proc, _, _ = noisy_run
    assert "INFO: GPU available" not in proc.stdout + proc.stderr
    assert "GPU available" in proc.stdout + proc.stderr  # once, through Hydra's logging


def test_train_log_has_no_ansi_codes(noisy_run):
    assert ANSI not in noisy_run[1]


def test_new_head_is_one_plain_line(noisy_run):
    assert "New classification head (classifier.bias, classifier.weight)" in noisy_run[1]


def test_one_line_per_validation_epoch(noisy_run):
    epochs = [int(m.group(1)) for m in EPOCH_LINE.finditer(noisy_run[1])]
    assert epochs == [0, 1]  # no line for the sanity check


def test_config_tree_paths_are_whole(noisy_run):
    proc, log_text, long_dir = noisy_run
    assert f"dirpath: {long_dir}\n" in log_text
    assert f"dirpath: {long_dir}\n" in proc.stdout  # stdout is a pipe here, not a terminal


def test_sweep_table_never_wraps_off_a_terminal(capsys):
    """Printed to a file, each trial stays one row with whole cells (no "COMPLE / TE")."""
    import optuna

    from bertlab.sweep.summary import print_table

    study = optuna.create_study(direction="maximize", study_name="a_long_study_name_" * 3)
    for value in (0.5, 0.6, 0.7):
        trial = study.ask()
        for name in ("model.optimizer.lr", "model.optimizer.weight_decay", "model.dropout"):
            trial.suggest_float(name, 0.0, 1.0)
        trial.suggest_float("model.scheduler.warmup_fraction", 0.0, 0.2)
        study.tell(trial, value)
    print_table(study, "val/acc")
    lines = capsys.readouterr().out.splitlines()
    assert sum("│ COMPLETE │" in line for line in lines) == 3
    assert "a_long_study_name_" * 3 in lines[0] and len(lines) == 8


def test_real_loading_problems_stay_warnings(caplog):
    """Only the fresh head is routine: other missing or reshaped weights are warnings."""
    from bertlab.utils.quiet import report_loading

    info = {
        "missing_keys": {"classifier.weight", "bert.encoder.layer.0.output.dense.weight"},
        "mismatched_keys": [("bert.embeddings.word_embeddings.weight", (30522, 32), (100, 32))],
        "unexpected_keys": {"cls.predictions.bias"},
    }
    with caplog.at_level("INFO", logger="bertlab.utils.quiet"):
        report_loading(info, "ckpt")
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "bert.encoder.layer.0.output.dense.weight" in warned
    assert "bert.embeddings.word_embeddings.weight" in warned
    assert "classifier.weight" not in warned and "cls.predictions.bias" not in warned
