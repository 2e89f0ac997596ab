"""Figures used across the lessons (every lesson).

Every function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show()``: in a notebook the figure is shown when it is the cell's last
value; elsewhere, save it with ``fig.savefig("name.png")``. Functions that take
``ax=`` draw into an existing axes (to overlay two models) and return its figure.
"""
from __future__ import annotations

import helpers  # noqa: F401  (sets TensorFlow's environment variables first)

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter
from sklearn.metrics import roc_curve

from helpers import metrics

__all__ = [
    "montage",
    "class_balance",
    "training_curves",
    "roc_with_ci",
    "reliability_diagram",
    "confusion_matrix_plot",
    "metric_vs_labels",
    "difference_vs_labels",
]


def _new_axes(ax, figsize=(5.0, 5.0)):
    """Return (figure, axes): the given axes' figure, or a new single-axes figure."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _label_name(label, label_names) -> str:
    """'malignant (0)' when names are known, else '0'."""
    if label_names is not None and 0 <= int(label) < len(label_names):
        return f"{label_names[int(label)]} ({label})"
    return str(label)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def montage(
    images,
    labels=None,
    label_names: Sequence[str] | None = None,
    n: int = 16,
    ncols: int = 8,
    title: str | None = None,
) -> Figure:
    """Show the first ``n`` images in a grid, each titled with its label.

    ``images``: (N, H, W, C) floats in [0, 1], C = 1 (grey) or 3 (RGB).
    ``labels``: optional (N,) integer labels; ``label_names`` maps codes to names.

    Taught in lesson 01.
    """
    images = np.asarray(images)
    if images.ndim == 3:  # (N, H, W): grey without the channel axis
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must have shape (N, H, W, C) with C = 1 or 3, got {images.shape}."
        )
    n = min(int(n), len(images))
    if n < 1:
        raise ValueError("there are no images to show.")
    ncols = max(1, min(int(ncols), n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * ncols, 1.6 * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            fig.delaxes(ax)
            continue
        img = images[i]
        if img.shape[-1] == 1:
            ax.imshow(img[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
        else:
            ax.imshow(np.clip(img, 0.0, 1.0))
        if labels is not None:
            name = labels[i] if label_names is None else label_names[int(labels[i])]
            ax.set_title(str(name), fontsize=9)
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_balance(counts_by_dataset: dict[str, dict[str, int]]) -> Figure:
    """One bar chart per dataset (or split): cases per class, with counts and shares.

    ``counts_by_dataset``: e.g. ``{"BreastMNIST train": {"malignant": 147,
    "normal/benign": 399}, ...}``.

    Taught in lesson 01.
    """
    if not counts_by_dataset:
        raise ValueError("counts_by_dataset is empty: nothing to plot.")
    names = list(counts_by_dataset)
    ncols = min(len(names), 4)
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            fig.delaxes(ax)
            continue
        counts = counts_by_dataset[names[i]]
        classes, values = list(counts), [int(v) for v in counts.values()]
        total = sum(values)
        bars = ax.bar(range(len(classes)), values, color=plt.cm.tab10.colors[: len(classes)])
        ax.bar_label(
            bars,
            labels=[f"{v}\n({v / total:.0%})" if total else str(v) for v in values],
            fontsize=8,
        )
        ax.set_xticks(range(len(classes)), classes, rotation=20 if len(classes) > 2 else 0)
        ax.set_title(f"{names[i]} (n = {total})", fontsize=10)
        ax.set_ylabel("cases")
        ax.set_ylim(0, max(values + [1]) * 1.25)  # room for the labels
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("Class balance")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def training_curves(history) -> Figure:
    """Loss and every metric per epoch, training (solid) and validation (dashed).

    ``history``: what ``model.fit`` returns (a Keras ``History``) or its
    ``.history`` dict. The best validation epoch is marked on each panel.

    Taught in lesson 01.
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(
            "history must be a Keras History (what model.fit returns) or its .history dict."
        )
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    names.sort(key=lambda k: (k != "loss", k))  # loss first
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for key, style, who in [(name, "-", "training"), ("val_" + name, "--", "validation")]:
            if key not in logs:
                continue
            values = np.asarray(logs[key], dtype=float)
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, style, marker="o", markersize=3, label=who)
            if who == "validation" and len(values):
                lower_is_better = "loss" in name or "error" in name
                best = int(np.nanargmin(values) if lower_is_better else np.nanargmax(values))
                ax.plot(epochs[best], values[best], "*", color="black", markersize=10,
                        label=f"best validation (epoch {best + 1})")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name.replace("_", " "))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

def _draw_chance_line(ax) -> None:
    """The diagonal y = x, drawn once per axes even when several models overlay."""
    if not any(line.get_gid() == "diagonal" for line in ax.get_lines()):
        ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=1, gid="diagonal")


def roc_with_ci(
    y_true,
    p_pos,
    *,
    positive_label,
    n_boot: int = 200,
    seed: int = 0,
    label: str | None = None,
    ax=None,
) -> Figure:
    """ROC curve with a bootstrap 95 % band and ``AUC [CI]`` in the legend.

    The band is the 2.5-97.5 percentile of the true positive rate at each of
    101 false positive rates, over ``n_boot`` resamples of the test cases; the
    AUC and its CI are :func:`helpers.metrics.bootstrap_ci` of
    :func:`helpers.metrics.roc_auc` with the same ``n_boot`` and ``seed``.
    Call again with ``ax=`` to overlay another model.

    Taught in lesson 03.
    """
    auc, low, high = metrics.bootstrap_ci(
        metrics.roc_auc, y_true, p_pos, positive_label=positive_label, n_boot=n_boot, seed=seed
    )
    y, p = np.asarray(y_true), np.asarray(p_pos, dtype=float)
    is_pos = y == positive_label
    fpr_grid = np.linspace(0.0, 1.0, 101)
    tprs = []
    for idx in metrics.bootstrap_indices(y, n_boot=n_boot, seed=seed):
        fpr, tpr, _ = roc_curve(is_pos[idx], p[idx])
        tprs.append(np.interp(fpr_grid, fpr, tpr))
    tprs = np.array(tprs)
    tprs[:, 0] = 0.0  # the curve starts at (0, 0)
    band_low, band_high = np.percentile(tprs, [2.5, 97.5], axis=0)

    fig, ax = _new_axes(ax)
    fpr, tpr, _ = roc_curve(is_pos, p)
    text = f"AUC {auc:.3f} [{low:.3f}, {high:.3f}]"
    (line,) = ax.plot(fpr, tpr, linewidth=2, label=f"{label}: {text}" if label else text)
    ax.fill_between(fpr_grid, band_low, band_high, color=line.get_color(), alpha=0.2, linewidth=0)
    _draw_chance_line(ax)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_title(f"ROC curve, positive label {positive_label}\n(shaded: 95 % bootstrap band)")
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def reliability_diagram(
    y_true,
    p_pos,
    *,
    positive_label,
    n_bins: int = 10,
    ax=None,
    label: str | None = None,
) -> Figure:
    """Observed fraction of positives against mean predicted probability per bin.

    Points on the diagonal mean calibrated; below it, over-confident about the
    positive class. Marker area grows with the number of cases in the bin;
    the ECE is in the legend. Call again with ``ax=`` to overlay another model.

    Taught in lesson 05.
    """
    bins = metrics.reliability_bins(y_true, p_pos, positive_label=positive_label, n_bins=n_bins)
    ece = metrics.expected_calibration_error(
        y_true, p_pos, positive_label=positive_label, n_bins=n_bins
    )
    filled = bins["count"] > 0
    share = bins["count"][filled] / bins["count"].sum()

    fig, ax = _new_axes(ax)
    _draw_chance_line(ax)
    text = f"ECE {ece:.3f}"
    (line,) = ax.plot(
        bins["mean_predicted"][filled],
        bins["fraction_positive"][filled],
        "-",
        label=f"{label}: {text}" if label else text,
    )
    ax.scatter(
        bins["mean_predicted"][filled],
        bins["fraction_positive"][filled],
        s=20 + 400 * share,
        color=line.get_color(),
        alpha=0.8,
        zorder=3,
    )
    ax.set_xlim(-0.02, 1.02)  # room for markers at 0 and 1
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel(f"mean predicted probability of label {positive_label}")
    ax.set_ylabel(f"observed fraction of label {positive_label}")
    ax.set_title(
        f"Reliability diagram ({n_bins} bins)\ndotted: perfect calibration; "
        "marker area: cases in bin",
        fontsize=10,
    )
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    return fig


def confusion_matrix_plot(
    y_true,
    p_pos,
    *,
    positive_label,
    threshold: float = 0.5,
    label_names: Sequence[str] | None = None,
    ax=None,
) -> Figure:
    """2 x 2 confusion matrix at ``threshold``: rows = true class, columns =
    predicted class, positive class first, each cell annotated with its count.

    ``label_names`` maps label codes to names (e.g. the dataset's label_names).

    Taught in lesson 05.
    """
    c = metrics.confusion_counts(y_true, p_pos, positive_label=positive_label, threshold=threshold)
    others = [v for v in np.unique(np.asarray(y_true)).tolist() if v != positive_label]
    if others:
        negative_label = others[0]
    elif label_names is not None and len(label_names) == 2:
        negative_label = 1 - int(positive_label)
    else:
        negative_label = None
    pos_name = _label_name(positive_label, label_names) + "\n= positive"
    neg_name = (
        "negative" if negative_label is None else _label_name(negative_label, label_names)
    ) + "\n= negative"

    table = np.array([[c["tp"], c["fn"]], [c["fp"], c["tn"]]])
    tags = [["true positive", "false negative"], ["false positive", "true negative"]]
    fig, ax = _new_axes(ax, figsize=(4.6, 4.2))
    ax.imshow(table, cmap="Blues", vmin=0, vmax=max(int(table.max()), 1))
    for i in range(2):
        for j in range(2):
            dark = table[i, j] > 0.6 * table.max()
            colour = "white" if dark else "black"
            ax.text(j, i - 0.08, str(table[i, j]), ha="center", va="center",
                    fontsize=16, color=colour)
            ax.text(j, i + 0.22, tags[i][j], ha="center", va="center",
                    fontsize=8, color=colour)
    ax.set_xticks([0, 1], [pos_name, neg_name])
    ax.set_yticks([0, 1], [pos_name, neg_name])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    kw = {"positive_label": positive_label, "threshold": threshold}
    sens, spec = metrics.sensitivity(y_true, p_pos, **kw), metrics.specificity(y_true, p_pos, **kw)
    ax.set_title(
        f"Confusion matrix at threshold {threshold:g}\n"
        f"sensitivity {sens:.2f}, specificity {spec:.2f}",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def metric_vs_labels(
    results: dict[str, list[tuple[int, float, float, float]]],
    ylabel: str = "test AUC",
    bars: str = "95 % CI",
) -> Figure:
    """A metric with its CI against the number of labelled training images (lessons 01, 04).

    ``results``: ``{method: [(n_labels, value, low, high), ...]}``; ``bars`` says what
    the error bars are (a CI, or the spread over seeds). The x axis
    is logarithmic; methods are nudged sideways a little so that their error
    bars do not hide each other.

    Taught in lesson 01.
    """
    if not results:
        raise ValueError("results is empty: nothing to plot.")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    n_methods = len(results)
    all_n = set()
    for k, (method, rows) in enumerate(results.items()):
        rows = sorted(rows)
        n = np.array([r[0] for r in rows], dtype=float)
        value = np.array([r[1] for r in rows], dtype=float)
        low = np.array([r[2] for r in rows], dtype=float)
        high = np.array([r[3] for r in rows], dtype=float)
        all_n.update(int(x) for x in n)
        nudge = 1.04 ** (k - (n_methods - 1) / 2)
        ax.errorbar(n * nudge, value, yerr=[value - low, high - value], marker="o",
                    capsize=3, label=method)
    _log_label_axis(ax, all_n)
    ax.set_xlabel("labelled training images (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} against the number of labels (bars: {bars})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _log_label_axis(ax, label_counts: set[int]) -> None:
    """A log x axis with a plain tick at each number of labels (no minor tick labels)."""
    ax.set_xscale("log")
    ax.set_xticks(sorted(label_counts))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def difference_vs_labels(
    series: dict[str, list[dict]],
    ylabel: str = "difference in test AUC",
    dodge: float = 1.12,
) -> Figure:
    """A paired difference and its 95 % interval against the number of labels, one series per comparison.

    ``series``: ``{name: rows}``, each row a dict with ``labels``, ``diff``,
    ``diff_low`` and ``diff_high`` (the rows of
    :func:`helpers.experiments.curves.compare`). The x axis is logarithmic;
    series are dodged sideways by factors of ``dodge`` so that their interval
    bars never overlap, and a dotted line marks no difference (0).

    Taught in lesson 04.
    """
    series = {name: rows for name, rows in series.items() if rows}
    if not series:
        raise ValueError("series is empty: nothing to plot.")
    if dodge <= 1:
        raise ValueError(f"dodge must be above 1 (a factor on the log axis), got {dodge!r}.")
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    ax.axhline(0.0, color="grey", linestyle=":", linewidth=1.2, gid="zero")
    all_n: set[int] = set()
    for k, (name, rows) in enumerate(series.items()):
        rows = sorted(rows, key=lambda r: r["labels"])
        n = np.array([r["labels"] for r in rows], dtype=float)
        d = np.array([r["diff"] for r in rows], dtype=float)
        low = np.array([r["diff_low"] for r in rows], dtype=float)
        high = np.array([r["diff_high"] for r in rows], dtype=float)
        all_n.update(int(x) for x in n)
        shift = dodge ** (k - (len(series) - 1) / 2)
        ax.errorbar(n * shift, d, yerr=[d - low, high - d], marker="o", capsize=3, label=name)
    _log_label_axis(ax, all_n)
    ax.set_xlabel("labelled training images (log scale; series nudged sideways)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel}: mean paired difference over seeds, 95 % interval", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
