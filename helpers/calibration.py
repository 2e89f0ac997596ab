"""From probabilities to decisions (lesson 05): recalibration and decision thresholds.

Temperature and Platt scaling fitted on validation cases, the threshold table
(counts, sensitivity, specificity, PPV, NPV at each cut-off) and its live
slider, and the diagnosis behind the self-check of the sensitivity/specificity
exercise. NumPy, SciPy and scikit-learn only: no model is trained here.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from helpers import metrics


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def fit_temperature(y_val, p_val, *, positive_label) -> float:
    """Temperature ``T`` minimising the validation log-loss of ``sigmoid(logit(p) / T)``.

    ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens them;
    the ranking (and so the AUC) never changes.

    Taught in lesson 05.
    """
    from scipy.optimize import minimize_scalar

    y, p = metrics.check_inputs(y_val, p_val, positive_label)
    target, z = (y == positive_label).astype(float), _logit(p)

    def nll(log_t: float) -> float:
        q = np.clip(_sigmoid(z / np.exp(log_t)), 1e-12, 1 - 1e-12)
        return float(-np.mean(target * np.log(q) + (1 - target) * np.log(1 - q)))

    return float(np.exp(minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded").x))


def apply_temperature(p_pos, temperature: float) -> np.ndarray:
    """Probabilities ``sigmoid(logit(p_pos) / temperature)``. Taught in lesson 05."""
    return _sigmoid(_logit(p_pos) / float(temperature))


def fit_platt(y_val, p_val, *, positive_label) -> tuple[float, float]:
    """Platt scaling: ``(a, b)`` of a logistic regression of the outcome on ``logit(p_val)``. Taught in lesson 05."""
    from sklearn.linear_model import LogisticRegression

    y, p = metrics.check_inputs(y_val, p_val, positive_label)
    lr = LogisticRegression(C=1e6).fit(_logit(p)[:, None], (y == positive_label).astype(int))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def apply_platt(p_pos, a: float, b: float) -> np.ndarray:
    """Probabilities ``sigmoid(a * logit(p_pos) + b)``. Taught in lesson 05."""
    return _sigmoid(a * _logit(p_pos) + b)


# ------------------------------------------------------------ threshold table
def threshold_table(y_true, p_pos, *, positive_label, thresholds: Iterable[float]) -> list[dict[str, float]]:
    """Counts, sensitivity, specificity, PPV and NPV at each threshold (one dict per row). Taught in lesson 05."""
    rows = []
    for t in thresholds:
        kw = {"positive_label": positive_label, "threshold": float(t)}
        row = {"threshold": float(t), **metrics.confusion_counts(y_true, p_pos, **kw)}
        for name in ("sensitivity", "specificity", "ppv", "npv"):
            row[name] = getattr(metrics, name)(y_true, p_pos, **kw)
        rows.append(row)
    return rows


def format_threshold_table(rows: list[dict[str, float]]) -> str:
    """The rows of :func:`threshold_table` as a fixed-width text table. Taught in lesson 05."""
    head = f"{'threshold':>9} {'TP':>4} {'FN':>4} {'FP':>4} {'TN':>4} {'sens':>6} {'spec':>6} {'PPV':>6} {'NPV':>6}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['threshold']:>9.2f} {r['tp']:>4} {r['fn']:>4} {r['fp']:>4} {r['tn']:>4} "
                     f"{r['sensitivity']:>6.2f} {r['specificity']:>6.2f} {r['ppv']:>6.2f} {r['npv']:>6.2f}")
    return "\n".join(lines)


def threshold_explorer(y_true, p_pos, *, positive_label, label_names=None, value: float = 0.5):
    """An ipywidgets slider that redraws the confusion matrix (with sensitivity/specificity) live.

    Returns the widget (display it). The figure is a PNG in an ``Image``
    widget, redrawn by an observer: no ``Output`` widget capturing ``display``
    calls, which can stall non-interactive execution (nbclient, hence nbgrader
    autograding) until the cell timeout. Needs a live kernel to react; a saved
    notebook keeps only the static table the lesson prints beside it.

    Taught in lesson 05.
    """
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from helpers import plots

    slider = widgets.FloatSlider(value=value, min=0.0, max=1.0, step=0.01, description="threshold",
                                 continuous_update=False, readout_format=".2f")
    image = widgets.Image(format="png", layout=widgets.Layout(width="440px"))

    def draw(threshold: float) -> None:
        fig = plots.confusion_matrix_plot(y_true, p_pos, positive_label=positive_label,
                                          threshold=threshold, label_names=label_names)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        image.value = buf.getvalue()

    draw(value)
    slider.observe(lambda change: draw(change["new"]), names="value")
    return widgets.VBox([slider, image])


# ------------------------------------------------------ exercise diagnostics
def diagnose_sens_spec(got, y_true, p_pos, positive_label, threshold: float) -> str:
    """Explain a wrong ``(sensitivity, specificity)`` answer by the usual mistakes.

    Compares ``got`` with what each classic slip would produce (sensitivity and
    specificity swapped, the other class taken as positive, ``>`` for ``>=``,
    labels and predictions swapped) and names the first that matches.

    Taught in lesson 05.
    """
    y = np.asarray(y_true).reshape(-1)
    p = np.asarray(p_pos, dtype=float).reshape(-1)
    got = tuple(float(v) for v in np.asarray(got, dtype=float).reshape(-1)[:2])

    def rates(is_pos, pred):
        return (np.sum(is_pos & pred) / max(np.sum(is_pos), 1),
                np.sum(~is_pos & ~pred) / max(np.sum(~is_pos), 1))

    pos, pred = y == positive_label, p >= threshold
    right = rates(pos, pred)
    other = [v for v in np.unique(y).tolist() if v != positive_label]
    other_name = other[0] if other else "the other class"
    slips = [
        (rates(pos, pred)[::-1], "you returned (specificity, sensitivity): return sensitivity first"),
        (rates(~pos, pred), f"wrong polarity: you treated label {other_name} as the positive class; "
                            f"a case is positive when y_true == positive_label ({positive_label})"),
        (rates(~pos, ~pred), f"wrong polarity: you scored label {other_name} as positive (and used "
                             f"1 - p_pos); use y_true == positive_label ({positive_label}) with p_pos as given"),
        (rates(pos, p > threshold), "a case with p_pos exactly equal to the threshold counts as positive: "
                                    "use p_pos >= threshold, not >"),
        (rates(pred, pos), "you computed PPV and NPV instead: divide by the number of truly positive "
                           "(negative) cases, not predicted ones; are y_true and p_pos swapped?"),
    ]
    for value, message in slips:
        if message and np.allclose(got, value, equal_nan=True):
            return f"got {got}, expected {tuple(round(float(v), 4) for v in right)}: {message}"
    return (f"got {got}, expected {tuple(round(float(v), 4) for v in right)}: sensitivity = TP / (TP + FN) "
            f"and specificity = TN / (TN + FP), with 'positive' meaning y_true == {positive_label} and "
            f"'predicted positive' meaning p_pos >= {threshold}")
