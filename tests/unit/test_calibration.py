"""Tests of helpers.calibration: recalibration, threshold tables and their slider, and the
diagnosis of a wrong sensitivity/specificity answer (lesson 05)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from helpers import calibration  # noqa: E402
from helpers import metrics  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------- recalibration
def test_temperature_recovers_overconfidence_and_keeps_ranking():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 4000)
    y = (rng.random(4000) < _sigmoid(z)).astype(int)        # calibrated in z
    p_over = _sigmoid(3.0 * z)                               # 3x over-confident
    T = calibration.fit_temperature(y, p_over, positive_label=1)
    assert T == pytest.approx(3.0, rel=0.15)
    fixed = calibration.apply_temperature(p_over, T)
    assert roc_auc_score(y, fixed) == pytest.approx(roc_auc_score(y, p_over))
    ece = lambda p: metrics.expected_calibration_error(y, p, positive_label=1)  # noqa: E731
    assert ece(fixed) < ece(p_over) / 2


def test_platt_corrects_a_prior_shift_with_positive_label_0():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1.5, 4000)
    y = np.where(rng.random(4000) < _sigmoid(z), 0, 1)      # label 0 is positive
    p_shifted = _sigmoid(z + 1.5)                            # the prior of a balanced world
    a, b = calibration.fit_platt(y, p_shifted, positive_label=0)
    assert a == pytest.approx(1.0, abs=0.15) and b == pytest.approx(-1.5, abs=0.2)
    fixed = calibration.apply_platt(p_shifted, a, b)
    ece = lambda p: metrics.expected_calibration_error(y, p, positive_label=0)  # noqa: E731
    assert ece(fixed) < 0.03 < ece(p_shifted)


# ------------------------------------------------------------ threshold table
def test_threshold_table_matches_metrics_and_formats():
    y = np.array([0, 0, 1, 1, 1, 0])
    p0 = np.array([0.9, 0.4, 0.5, 0.1, 0.2, 0.6])           # P(label 0)
    rows = calibration.threshold_table(y, p0, positive_label=0, thresholds=[0.3, 0.5])
    assert [r["threshold"] for r in rows] == [0.3, 0.5]
    assert rows[1]["tp"] == 2 and rows[1]["fp"] == 1 and rows[1]["fn"] == 1 and rows[1]["tn"] == 2
    assert rows[0]["sensitivity"] == pytest.approx(1.0)
    assert rows[1]["specificity"] == pytest.approx(metrics.specificity(y, p0, positive_label=0))
    text = calibration.format_threshold_table(rows)
    assert len(text.splitlines()) == 3 and "sens" in text and "0.50" in text


def test_threshold_explorer_is_a_slider_that_redraws():
    import ipywidgets as widgets

    y = np.array([0, 0, 1, 1])
    box = calibration.threshold_explorer(y, np.array([0.8, 0.3, 0.4, 0.1]), positive_label=0,
                                label_names=["malignant", "benign"])
    slider, image = box.children
    assert isinstance(slider, widgets.FloatSlider) and isinstance(image, widgets.Image)
    assert not any(isinstance(w, widgets.Output) for w in box.children), "Output widgets stall nbclient"
    before = bytes(image.value)
    assert before.startswith(b"\x89PNG")
    slider.value = 0.2                                       # the observer redraws
    assert bytes(image.value).startswith(b"\x89PNG") and bytes(image.value) != before


# ------------------------------------------------------- exercise diagnostics
@pytest.mark.parametrize("mistake, words", [
    (lambda r: r[::-1], "specificity, sensitivity"),
    ("polarity", "wrong polarity"),
    ("ppv", "PPV and NPV"),
])
def test_diagnose_sens_spec_names_the_mistake(mistake, words):
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    p0 = np.array([0.9, 0.7, 0.2, 0.6, 0.55, 0.1, 0.2, 0.4, 0.3, 0.1])
    right = (metrics.sensitivity(y, p0, positive_label=0), metrics.specificity(y, p0, positive_label=0))
    if mistake == "polarity":
        got = (metrics.sensitivity(y, p0, positive_label=1), metrics.specificity(y, p0, positive_label=1))
    elif mistake == "ppv":
        got = (metrics.ppv(y, p0, positive_label=0), metrics.npv(y, p0, positive_label=0))
    else:
        got = mistake(right)
    assert words in calibration.diagnose_sens_spec(got, y, p0, 0, 0.5)


def test_diagnose_sens_spec_strict_threshold():
    y = np.array([1, 1, 1, 0, 0, 0])
    p = np.array([0.5, 0.9, 0.8, 0.1, 0.2, 0.6])
    got = (2 / 3, 2 / 3)                                      # '>' instead of '>='
    assert ">=" in calibration.diagnose_sens_spec(got, y, p, 1, 0.5)
