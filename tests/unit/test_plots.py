"""Tests of helpers.plots: each function returns a Figure with the expected
content, and each figure saves to a PNG."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from helpers import metrics, plots  # noqa: E402

NAMES = ["malignant", "normal/benign"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def scores():
    """Labels 0/1 with positive label 0 and p0 = P(label 0), informative but noisy."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    p0 = np.clip(0.4 * (y == 0) + 0.6 * rng.random(120), 0, 1)
    return y, p0


def _saves(fig: Figure, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_montage_grey(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((20, 28, 28, 1)).astype(np.float32)
    labels = np.array([0, 1] * 10)
    fig = plots.montage(images, labels, NAMES, n=10, ncols=4, title="BreastMNIST")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 10  # the unused cells of the 3 x 4 grid are removed
    assert [ax.get_title() for ax in fig.axes] == [NAMES[k] for k in labels[:10]]
    image = fig.axes[0].images[0]
    assert image.get_cmap().name == "gray" and image.get_array().shape == (28, 28)
    assert fig._suptitle.get_text() == "BreastMNIST"
    _saves(fig, tmp_path, "montage")


def test_montage_rgb_without_labels(tmp_path):
    images = np.random.default_rng(1).random((3, 28, 28, 3))
    fig = plots.montage(images, n=16)  # n larger than the data: shows all 3
    assert len(fig.axes) == 3
    assert fig.axes[0].images[0].get_array().shape == (28, 28, 3)
    assert all(ax.get_title() == "" for ax in fig.axes)
    fig_labels = plots.montage(images, labels=[1, 0, 1])
    assert [ax.get_title() for ax in fig_labels.axes] == ["1", "0", "1"]
    _saves(fig, tmp_path, "montage_rgb")


def test_montage_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        plots.montage(np.zeros((4, 28, 28, 2)))


def test_class_balance(tmp_path):
    counts = {
        "BreastMNIST train": {"malignant": 147, "normal/benign": 399},
        "BreastMNIST test": {"malignant": 42, "normal/benign": 114},
        "ECG200 train": {"normal": 31, "MI": 69},
    }
    fig = plots.class_balance(counts)
    assert len(fig.axes) == 3
    ax = fig.axes[0]
    assert ax.get_title() == "BreastMNIST train (n = 546)"
    assert [p.get_height() for p in ax.patches] == [147, 399]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["malignant", "normal/benign"]
    assert _texts(ax) == ["147\n(27%)", "399\n(73%)"]
    _saves(fig, tmp_path, "class_balance")


def test_training_curves_from_dict(tmp_path):
    history = {
        "loss": [0.9, 0.6, 0.5],
        "val_loss": [1.0, 0.7, 0.8],
        "auc": [0.6, 0.7, 0.8],
        "val_auc": [0.55, 0.72, 0.7],
    }
    fig = plots.training_curves(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "auc"]
    loss_ax = fig.axes[0]
    train, val = loss_ax.get_lines()[:2]
    np.testing.assert_allclose(train.get_ydata(), history["loss"])
    np.testing.assert_allclose(val.get_ydata(), history["val_loss"])
    legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert legend == ["training", "validation", "best validation (epoch 2)"]
    auc_legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "best validation (epoch 2)" in auc_legend  # higher is better for AUC
    _saves(fig, tmp_path, "training_curves")


def test_training_curves_accepts_history_object():
    class FakeHistory:  # what keras.callbacks.History exposes
        history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}

    fig = plots.training_curves(FakeHistory())
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert all(len(ax.get_lines()) == 1 for ax in fig.axes)  # no validation data
    with pytest.raises(ValueError, match="History"):
        plots.training_curves([0.1, 0.2])


def test_roc_with_ci(scores, tmp_path):
    y, p0 = scores
    fig = plots.roc_with_ci(y, p0, positive_label=0, n_boot=50, seed=1, label="transfer")
    ax = fig.axes[0]
    auc, low, high = metrics.bootstrap_ci(metrics.roc_auc, y, p0, positive_label=0, n_boot=50, seed=1)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"transfer: AUC {auc:.3f} [{low:.3f}, {high:.3f}]"]
    assert len(ax.collections) == 1  # the bootstrap band
    assert "positive label 0" in ax.get_title()
    assert "sensitivity" in ax.get_ylabel() and "specificity" in ax.get_xlabel()
    # a second model overlays on the same axes; the chance line is drawn once
    plots.roc_with_ci(y, 1 - p0, positive_label=0, n_boot=50, label="flipped", ax=ax)
    assert len(fig.axes) == 1 and len(ax.collections) == 2
    assert sum(line.get_gid() == "diagonal" for line in ax.get_lines()) == 1
    assert len(ax.get_legend().get_texts()) == 2
    _saves(fig, tmp_path, "roc")


def test_reliability_diagram(scores, tmp_path):
    y, p0 = scores
    fig = plots.reliability_diagram(y, p0, positive_label=0, n_bins=5, label="model")
    ax = fig.axes[0]
    ece = metrics.expected_calibration_error(y, p0, positive_label=0, n_bins=5)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"model: ECE {ece:.3f}"]
    bins = metrics.reliability_bins(y, p0, positive_label=0, n_bins=5)
    curve = [line for line in ax.get_lines() if line.get_gid() != "diagonal"][0]
    filled = bins["count"] > 0
    np.testing.assert_allclose(curve.get_xdata(), bins["mean_predicted"][filled])
    np.testing.assert_allclose(curve.get_ydata(), bins["fraction_positive"][filled])
    _saves(fig, tmp_path, "reliability")


def test_confusion_matrix_plot(scores, tmp_path):
    y, p0 = scores
    fig = plots.confusion_matrix_plot(y, p0, positive_label=0, threshold=0.6, label_names=NAMES)
    ax = fig.axes[0]
    c = metrics.confusion_counts(y, p0, positive_label=0, threshold=0.6)
    counts = [t for t in _texts(ax) if t.isdigit()]
    # rows = true (positive first), columns = predicted
    assert counts == [str(c["tp"]), str(c["fn"]), str(c["fp"]), str(c["tn"])]
    assert [t for t in _texts(ax) if not t.isdigit()] == [
        "true positive", "false negative", "false positive", "true negative"]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["malignant (0)\n= positive", "normal/benign (1)\n= negative"]
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"
    assert "threshold 0.6" in ax.get_title()
    _saves(fig, tmp_path, "confusion")


def test_confusion_matrix_plot_without_names():
    fig = plots.confusion_matrix_plot([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], positive_label=1)
    ax = fig.axes[0]
    assert [t for t in _texts(ax) if t.isdigit()] == ["1", "1", "1", "1"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1\n= positive", "0\n= negative"]


def test_metric_vs_labels(tmp_path):
    results = {
        "transfer": [(100, 0.87, 0.82, 0.91), (20, 0.78, 0.70, 0.85), (50, 0.84, 0.78, 0.89)],
        "scratch": [(20, 0.62, 0.52, 0.71), (50, 0.70, 0.62, 0.77), (100, 0.78, 0.71, 0.84)],
    }
    fig = plots.metric_vs_labels(results, ylabel="test AUC")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_ylabel() == "test AUC"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["transfer", "scratch"]
    assert len(ax.containers) == 2  # one errorbar container per method
    line = ax.containers[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), [0.78, 0.84, 0.87])  # sorted by n
    x = line.get_xdata()
    assert np.all(np.abs(x / np.array([20, 50, 100]) - 1) < 0.05)  # nudged, not moved
    assert list(ax.get_xticks()) == [20, 50, 100]
    _saves(fig, tmp_path, "metric_vs_labels")


def _rows(diffs, half_width):
    return [{"labels": n, "diff": d, "diff_low": d - half_width, "diff_high": d + half_width}
            for n, d in zip([10, 20, 50, 200, 4708], diffs)]


def test_difference_vs_labels_plots_each_interval_and_dodges_the_series(tmp_path):
    """Does each series show its differences with their intervals, without its bars overlapping another's?"""
    from matplotlib.collections import LineCollection

    series = {"pneumoniamnist": _rows([0.05, 0.03, 0.02, 0.01, 0.0], 0.02),
              "breastmnist": _rows([-0.01, 0.0, 0.01, 0.0, -0.02], 0.04), "empty": []}
    fig = plots.difference_vs_labels(series, ylabel="pretrained - scratch")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["pneumoniamnist", "breastmnist"]
    assert any(line.get_gid() == "zero" and set(line.get_ydata()) == {0.0} for line in ax.get_lines())
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(points) == 2
    (x1, y1), (x2, y2) = [(np.asarray(p.get_xdata()), np.asarray(p.get_ydata())) for p in points]
    assert np.allclose(y1, [0.05, 0.03, 0.02, 0.01, 0.0]) and np.allclose(y2, [-0.01, 0.0, 0.01, 0.0, -0.02])
    assert np.all(x1 < x2), "the second series must sit to the right of the first at every budget"
    assert np.all(x2 / x1 > 1.1), "nudged apart by a visible factor on the log axis"
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    spans = sorted((float(seg[0][1]), float(seg[1][1])) for c in bars for seg in c.get_segments())
    assert (0.03, 0.07) in [tuple(round(v, 10) for v in s) for s in spans], "diff 0.05, interval [0.03, 0.07]"
    xs = {round(float(seg[0][0]), 6) for c in bars for seg in c.get_segments()}
    assert len(xs) == 10, "each bar of each series at its own x"
    assert ax.get_xscale() == "log"
    _saves(fig, tmp_path, "difference_vs_labels")


def test_difference_vs_labels_refuses_nothing_to_plot():
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.difference_vs_labels({"a": []})
