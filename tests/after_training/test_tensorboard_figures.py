"""The TensorBoard pictures, read back from the run's event file."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from matplotlib.image import imread
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util
from torch.utils.tensorboard import SummaryWriter

from bertlab.callbacks.figures import write_figures
from bertlab.callbacks.plots import confusion_figure, per_class_figure, per_class_table, pr_figure
from helpers.trained import trained_run


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
        # every picture, PR curve and AP at the step of the stage's scalars
        steps = [e.step for e in acc.Scalars(f"{stage}/acc")]
        for tag in ("confusion_matrix", "per_class", "pr_curve"):
            assert [e.step for e in acc.Images(f"{stage}/{tag}")] == steps, tag
        assert [e.step for e in acc.Tensors(f"{stage}/pr/pos")] == steps
        assert [e.step for e in acc.Scalars(f"{stage}/ap")] == steps
    assert "val/pr/neg" not in acc.Tags()["tensors"]  # binary: the positive class only
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


def test_average_precision_scalar_is_the_positive_class_ap(events):
    _, acc = events
    for stage in ("val", "test"):
        ap = [e.value for e in acc.Scalars(f"{stage}/ap")]
        assert ap == [e.value for e in acc.Scalars(f"{stage}_per_class/ap/pos")]
        assert all(0 < v <= 1 for v in ap)


def test_pr_curve_plugin_data(events):
    _, acc = events
    data = tensor_util.make_ndarray(acc.Tensors("val/pr/pos")[-1].tensor_proto)
    assert data.shape == (6, 127)  # tp, fp, tn, fn, precision, recall x thresholds (max 127)
    tp, fp, tn, fn = data[:4, 0]
    assert tp + fn > 0 and fp + tn > 0 and data[5, 0] == 1  # lowest threshold: recall 1


def ap_by_hand(scores: list[float], positive: list[bool]) -> float:
    """Mean, over the positives, of the precision among the examples ranked at or above it."""
    ranked = [p for _, p in sorted(zip(scores, positive, strict=True), reverse=True)]
    hits = np.cumsum(ranked)
    return float(np.mean([hits[k] / (k + 1) for k, p in enumerate(ranked) if p]))


def read_back(tmp_path, stage, probs, labels, names, step):
    with SummaryWriter(str(tmp_path)) as writer:
        write_figures(writer, stage, np.array(probs), np.array(labels), names, step, "step 7")
    acc = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_write_figures_binary_known_ap(tmp_path):
    scores = [0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.2, 0.1]
    labels = [1, 0, 1, 1, 0, 0, 1, 0]
    expected = ap_by_hand(scores, [y == 1 for y in labels])
    assert expected == pytest.approx((1 + 2 / 3 + 3 / 4 + 4 / 7) / 4)
    acc = read_back(tmp_path, "val", [[1 - s, s] for s in scores], labels, ["neg", "pos"], 7)
    (ap,) = acc.Scalars("val/ap")
    assert ap.step == 7 and ap.value == pytest.approx(expected, abs=1e-6)
    assert acc.Scalars("val_per_class/ap/neg")[0].value == pytest.approx(
        ap_by_hand([1 - s for s in scores], [y == 0 for y in labels]), abs=1e-6
    )
    assert {"val/confusion_matrix", "val/per_class", "val/pr_curve"} <= set(acc.Tags()["images"])
    assert [e.step for e in acc.Tensors("val/pr/pos")] == [7]
    png = acc.Images("val/pr_curve")[0].encoded_image_string
    assert imread(io.BytesIO(png)).shape[1] >= 500  # legible at the card's ~500 px


def test_write_figures_multiclass_macro_ap(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 2] * 6)
    probs = rng.dirichlet(np.ones(3), size=len(labels))
    probs[np.arange(len(labels)), labels] += 0.3 * rng.random(len(labels))
    probs /= probs.sum(1, keepdims=True)
    names = ["a", "b", "c"]
    per_class = [ap_by_hand(list(probs[:, c]), list(labels == c)) for c in range(3)]
    acc = read_back(tmp_path, "test", probs, labels, names, 3)
    for c, name in enumerate(names):
        assert acc.Scalars(f"test_per_class/ap/{name}")[0].value == pytest.approx(per_class[c])
        assert [e.step for e in acc.Tensors(f"test/pr/{name}")] == [3]
    assert acc.Scalars("test/ap")[0].value == pytest.approx(np.mean(per_class), abs=1e-6)


# ---- the drawing functions ----


def texts(fig):
    fig.canvas.draw()
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("n", [2, 5])
def test_confusion_figure_shows_counts_and_row_percentages(n):
    cm = np.arange(1, n * n + 1).reshape(n, n)
    fig = confusion_figure(cm, [f"c{i}" for i in range(n)], "validation · epoch 0, step 5")
    main, bar = fig.axes  # the matrix and its colour bar
    assert "validation · epoch 0, step 5" in main.get_title()
    assert bar.get_label() == "<colorbar>" and "row" in bar.get_ylabel()
    assert main.get_xlabel() == "predicted" and main.get_ylabel() == "true"
    assert [t.get_text() for t in main.get_yticklabels()] == [f"c{i}" for i in range(n)]
    cells = texts(fig)
    assert len(cells) == n * n
    share = cm[0, 1] / cm[0].sum()
    fmt = ".1%" if n <= 3 else ".0%"
    assert cells[1] == f"{cm[0, 1]}\n{share:{fmt}}"


def test_confusion_figure_many_classes_drops_cell_text():
    n = 14
    fig = confusion_figure(np.eye(n, dtype=int) * 3 + 1, [f"class_{i}" for i in range(n)])
    assert texts(fig) == [] and len(fig.axes) == 2
    assert len(fig.axes[0].get_xticklabels()) == n


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("n", [2, 4, 12])
def test_per_class_legend_covers_no_bar(n):
    names = [f"class {i}" for i in range(n)]
    full = np.ones(n)  # bars up to the top: a legend inside the axes would cover them
    table = {"precision": full, "recall": full * 0.5, "f1": full * 0.9, "support": full * 7}
    fig = per_class_figure(table, names, "test · step 9")
    fig.canvas.draw()
    (ax,) = fig.axes
    legends = [*fig.legends, *filter(None, [ax.get_legend()])]
    assert len(legends) == 1
    box = legends[0].get_window_extent()
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
    bars = [p.get_window_extent() for p in ax.patches]
    assert len(bars) == 3 * n
    assert not [b for b in bars if overlaps(b, box)]
    assert "test · step 9" in ax.get_title()


def test_pr_figure_title_has_average_precision():
    curve = ("pos", np.array([0.5, 1.0, 1.0]), np.array([1.0, 0.5, 0.0]), 0.8056)
    fig = pr_figure([curve], "validation · epoch 1, step 10", prevalence=0.5)
    title = fig.axes[0].get_title()
    assert "AP 0.806" in title and "pos" in title and "epoch 1" in title
    several = [(n, *curve[1:3], ap) for n, ap in (("a", 0.5), ("b", 0.7))]
    assert "macro AP 0.600" in pr_figure(several).axes[0].get_title()
