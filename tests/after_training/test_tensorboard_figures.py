"""The TensorBoard pictures, read back from the run's event file."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from after_training_helpers import trained_run
from matplotlib.image import imread
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from bertlab.tensorboard_figures import per_class_table


@pytest.fixture(scope="module")
def events(tmp_path_factory, tiny_model_dir, tiny_csv):
    run = trained_run(tmp_path_factory, tiny_model_dir, tiny_csv)
    acc = EventAccumulator(str(run), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return run, acc


def test_images_for_validation_and_test(events, tmp_path):
    run, acc = events
    images = set(acc.Tags()["images"])
    for stage in ("val", "test"):
        assert {f"{stage}/confusion_matrix", f"{stage}/per_class", f"{stage}/pr_curve"} <= images
    assert len(acc.Images("val/confusion_matrix")) == 4  # one per epoch, none for sanity checks
    png = acc.Images("test/confusion_matrix")[-1].encoded_image_string
    (tmp_path / "confusion.png").write_bytes(png)  # kept for a look with an image viewer
    pixels = imread(io.BytesIO(png))
    assert pixels.shape[0] > 150 and pixels.shape[1] > 150 and pixels.std() > 0.05


def test_per_class_scalars_agree_with_accuracy(events):
    run, acc = events
    splits = json.loads((run / "split_manifest.json").read_text())["splits"]
    counts = splits["validation"]["label_counts"]
    recalls = {n: acc.Scalars(f"val_per_class/recall/{n}") for n in ("neg", "pos")}
    accuracy = acc.Scalars("val/acc")
    assert len(accuracy) == len(recalls["neg"]) == 4
    for epoch, row in enumerate(accuracy):
        hits = sum(recalls[n][epoch].value * counts[n] for n in counts)
        assert hits / sum(counts.values()) == pytest.approx(row.value, abs=1e-5)


def test_confident_mistakes_panel(events):
    run, acc = events
    panels = acc.Tensors("val/confident_mistakes/text_summary")
    assert len(panels) == 4
    texts = [p.tensor_proto.string_val[0].decode() for p in panels]
    rows = [line for t in texts for line in t.splitlines()[2:] if line.startswith("| 0.")]
    assert rows, texts  # the first epochs make mistakes
    for line in rows:
        conf, predicted, true, text = (c.strip() for c in line.strip("|").split(" | ", 3))
        assert predicted != true and 0.5 <= float(conf) <= 1 and text


def test_learning_rate_curve_is_logged(events):
    _, acc = events
    assert any(tag.startswith("train/lr") for tag in acc.Tags()["scalars"])


def test_per_class_table():
    cm = np.array([[8, 2], [1, 9]])
    table = per_class_table(cm)
    assert table["precision"] == pytest.approx([8 / 9, 9 / 11])
    assert table["recall"] == pytest.approx([0.8, 0.9])
    assert table["support"].tolist() == [10, 10]
