"""Tests of helpers.metrics: hand-computed values, agreement with scikit-learn,
label polarity, bootstrap behaviour, calibration and the validation messages."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from helpers import metrics as m

# A small example worked out by hand (positive label 1, threshold 0.5):
#   y      1    1    1    0    0    0    0    1
#   p     .9   .4   .6   .2   .7   .1   .5   .8
#   call   P    N    P    N    P    N    P    P
#          TP   FN   TP   TN   FP   TN   FP   TP
Y_HAND = np.array([1, 1, 1, 0, 0, 0, 0, 1])
P_HAND = np.array([0.9, 0.4, 0.6, 0.2, 0.7, 0.1, 0.5, 0.8])

THRESHOLD_METRICS = [m.accuracy, m.sensitivity, m.specificity, m.ppv, m.npv, m.f1]


def _data(n=300, seed=0, strength=0.35):
    """Random labels 0/1 and a p1 = P(label 1) that is informative but noisy."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p1 = np.clip(strength * y + (1 - strength) * rng.random(n), 0, 1)
    return y, p1


@pytest.fixture(autouse=True)
def _no_warnings():
    """Metrics must not warn (e.g. sklearn's UndefinedMetricWarning) unless a test expects it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------------
# Confusion counts and threshold metrics
# ---------------------------------------------------------------------------

def test_confusion_counts_by_hand():
    c = m.confusion_counts(Y_HAND, P_HAND, positive_label=1)
    assert c == {"tp": 3, "fp": 2, "tn": 2, "fn": 1}
    assert all(type(v) is int for v in c.values())


def test_confusion_counts_by_hand_positive_label_0():
    # the same p read as P(label 0): positive = label 0
    c = m.confusion_counts(Y_HAND, P_HAND, positive_label=0)
    assert c == {"tp": 2, "fp": 3, "tn": 1, "fn": 2}


def test_threshold_is_inclusive_and_movable():
    # p = 0.5 is predicted positive at threshold 0.5 (case 6 is an FP above)
    assert m.confusion_counts(Y_HAND, P_HAND, positive_label=1, threshold=0.5)["fp"] == 2
    c = m.confusion_counts(Y_HAND, P_HAND, positive_label=1, threshold=0.65)
    assert c == {"tp": 2, "fp": 1, "tn": 3, "fn": 2}


def test_threshold_metrics_by_hand():
    kw = {"positive_label": 1}
    assert m.accuracy(Y_HAND, P_HAND, **kw) == pytest.approx(5 / 8)
    assert m.sensitivity(Y_HAND, P_HAND, **kw) == pytest.approx(3 / 4)
    assert m.specificity(Y_HAND, P_HAND, **kw) == pytest.approx(2 / 4)
    assert m.ppv(Y_HAND, P_HAND, **kw) == pytest.approx(3 / 5)
    assert m.npv(Y_HAND, P_HAND, **kw) == pytest.approx(2 / 3)
    assert m.f1(Y_HAND, P_HAND, **kw) == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))


@pytest.mark.parametrize("positive_label", [0, 1])
def test_metrics_match_sklearn(positive_label):
    y, p1 = _data()
    other = 1 - positive_label
    p_pos = p1 if positive_label == 1 else 1 - p1
    pred = np.where(p_pos >= 0.5, positive_label, other)
    kw = {"positive_label": positive_label}
    assert m.accuracy(y, p_pos, **kw) == pytest.approx(accuracy_score(y, pred))
    assert m.sensitivity(y, p_pos, **kw) == pytest.approx(recall_score(y, pred, pos_label=positive_label))
    assert m.specificity(y, p_pos, **kw) == pytest.approx(recall_score(y, pred, pos_label=other))
    assert m.ppv(y, p_pos, **kw) == pytest.approx(precision_score(y, pred, pos_label=positive_label))
    assert m.npv(y, p_pos, **kw) == pytest.approx(precision_score(y, pred, pos_label=other))
    assert m.f1(y, p_pos, **kw) == pytest.approx(f1_score(y, pred, pos_label=positive_label))
    assert m.roc_auc(y, p_pos, **kw) == pytest.approx(roc_auc_score(y == positive_label, p_pos))


def test_polarity_flips_results():
    y, p1 = _data()
    assert not np.any(p1 == 0.5)  # no ties at the threshold, so the swap below is exact
    # Same scores, other positive class: the AUC becomes 1 - AUC ...
    auc1 = m.roc_auc(y, p1, positive_label=1)
    assert auc1 > 0.7
    assert m.roc_auc(y, p1, positive_label=0) == pytest.approx(1 - auc1)
    # ... and with P(label 0) = 1 - P(label 1), sensitivity and specificity swap,
    # as do PPV and NPV, while the AUC stays the same.
    p0 = 1 - p1
    assert m.roc_auc(y, p0, positive_label=0) == pytest.approx(auc1)
    assert m.sensitivity(y, p0, positive_label=0) == pytest.approx(m.specificity(y, p1, positive_label=1))
    assert m.specificity(y, p0, positive_label=0) == pytest.approx(m.sensitivity(y, p1, positive_label=1))
    assert m.ppv(y, p0, positive_label=0) == pytest.approx(m.npv(y, p1, positive_label=1))
    assert m.sensitivity(y, p0, positive_label=0) != pytest.approx(m.sensitivity(y, p1, positive_label=1))


def test_undefined_ratios_are_nan_without_warning():
    y = np.array([0, 1, 0, 1])
    nothing_positive = np.array([0.1, 0.2, 0.3, 0.4])
    assert np.isnan(m.ppv(y, nothing_positive, positive_label=1))
    assert m.f1(y, nothing_positive, positive_label=1) == 0.0  # 2TP / (2TP + FP + FN) = 0 / 2
    nothing_negative = np.array([0.6, 0.7, 0.8, 0.9])
    assert np.isnan(m.npv(y, nothing_negative, positive_label=1))
    all_positive = np.array([1, 1, 1])
    assert np.isnan(m.specificity(all_positive, [0.9, 0.2, 0.7], positive_label=1))


def test_labels_may_be_any_two_codes():
    y = np.array([3, 7, 7, 3])
    p7 = np.array([0.2, 0.9, 0.6, 0.4])
    assert m.sensitivity(y, p7, positive_label=7) == 1.0
    assert m.roc_auc(y, p7, positive_label=7) == 1.0


def test_binary_report():
    r = m.binary_report(Y_HAND, P_HAND, positive_label=1)
    assert set(r) == {"n", "tp", "fp", "tn", "fn", "accuracy", "sensitivity",
                      "specificity", "ppv", "npv", "f1", "auc"}
    assert r["n"] == 8 and (r["tp"], r["fp"], r["tn"], r["fn"]) == (3, 2, 2, 1)
    assert r["sensitivity"] == pytest.approx(0.75)
    assert r["auc"] == pytest.approx(roc_auc_score(Y_HAND, P_HAND))
    single_class = m.binary_report([1, 1], [0.2, 0.8], positive_label=1)
    assert np.isnan(single_class["auc"]) and single_class["sensitivity"] == 0.5


# ---------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------

def test_bootstrap_ci_contains_estimate_and_is_deterministic():
    y, p1 = _data()
    est, low, high = m.bootstrap_ci(m.roc_auc, y, p1, positive_label=1, n_boot=200, seed=3)
    assert est == pytest.approx(m.roc_auc(y, p1, positive_label=1))
    assert low < est < high
    assert m.bootstrap_ci(m.roc_auc, y, p1, positive_label=1, n_boot=200, seed=3) == (est, low, high)
    assert m.bootstrap_ci(m.roc_auc, y, p1, positive_label=1, n_boot=200, seed=4) != (est, low, high)


def test_bootstrap_ci_passes_threshold_and_narrows_with_more_data():
    y, p1 = _data(n=100, seed=1)
    est, low, high = m.bootstrap_ci(m.sensitivity, y, p1, positive_label=1, n_boot=200, threshold=0.6)
    assert est == pytest.approx(m.sensitivity(y, p1, positive_label=1, threshold=0.6))
    assert low <= est <= high
    y_big, p1_big = _data(n=2000, seed=1)
    _, low_big, high_big = m.bootstrap_ci(m.sensitivity, y_big, p1_big, positive_label=1,
                                          n_boot=200, threshold=0.6)
    assert (high_big - low_big) < 0.5 * (high - low)  # width shrinks like 1/sqrt(n)


def test_bootstrap_ci_alpha_widens_interval():
    y, p1 = _data(n=200)
    _, low95, high95 = m.bootstrap_ci(m.accuracy, y, p1, positive_label=1, n_boot=200)
    _, low50, high50 = m.bootstrap_ci(m.accuracy, y, p1, positive_label=1, n_boot=200, alpha=0.5)
    assert low95 <= low50 < high50 <= high95


def test_bootstrap_resamples_always_hold_both_classes():
    y = np.array([1] + [0] * 19)  # one positive: ~36 % of plain resamples would miss it
    resamples = list(m.bootstrap_indices(y, n_boot=300, seed=0))
    assert len(resamples) == 300
    assert all(set(y[idx]) == {0, 1} for idx in resamples)
    again = list(m.bootstrap_indices(y, n_boot=300, seed=0))
    assert all(np.array_equal(a, b) for a, b in zip(resamples, again))
    p = np.linspace(0.05, 0.95, 20)
    est, low, high = m.bootstrap_ci(m.roc_auc, y, p, positive_label=1, n_boot=100)
    assert np.isfinite([est, low, high]).all()


def test_paired_bootstrap_identical_models():
    y, p1 = _data(n=200)
    r = m.paired_bootstrap(m.roc_auc, y, p1, p1.copy(), positive_label=1, n_boot=100)
    assert r["diff"] == 0 and r["low"] == 0 and r["high"] == 0
    assert r["real"] is False
    assert r["p_value"] == 1.0


def test_paired_bootstrap_clearly_better_model():
    y, good = _data(n=200, strength=0.6)
    rng = np.random.default_rng(5)
    noise = rng.random(len(y))
    r = m.paired_bootstrap(m.roc_auc, y, good, noise, positive_label=1, n_boot=200)
    assert r["diff"] == pytest.approx(r["metric_a"] - r["metric_b"])
    assert r["diff"] > 0.3 and 0 < r["low"] <= r["diff"] <= r["high"]
    assert r["real"] is True
    assert r["p_value"] == pytest.approx(2 / 201)  # the smallest p it can give with 200 resamples
    # the order of the models only flips the sign
    flipped = m.paired_bootstrap(m.roc_auc, y, noise, good, positive_label=1, n_boot=200)
    assert flipped["diff"] == pytest.approx(-r["diff"])
    assert flipped["real"] is True and flipped["high"] < 0


def test_paired_bootstrap_small_difference_is_not_real():
    y, p1 = _data(n=150)
    rng = np.random.default_rng(9)
    p_close = np.clip(p1 + 0.05 * rng.standard_normal(len(y)), 0, 1)
    r = m.paired_bootstrap(m.accuracy, y, p1, p_close, positive_label=1, n_boot=200, seed=2)
    assert r["low"] < 0 < r["high"]
    assert r["real"] is False and r["p_value"] > 0.05
    # recompute by hand: both models on the same resamples, the documented p-value
    diffs = np.array([
        m.accuracy(y[i], p1[i], positive_label=1) - m.accuracy(y[i], p_close[i], positive_label=1)
        for i in m.bootstrap_indices(y, n_boot=200, seed=2)
    ])
    assert (r["low"], r["high"]) == pytest.approx(tuple(np.percentile(diffs, [2.5, 97.5])))
    k_le, k_ge = np.sum(diffs <= 0), np.sum(diffs >= 0)
    assert k_le != k_ge
    assert r["p_value"] == pytest.approx(min(1, 2 * (min(k_le, k_ge) + 1) / 201))


# ---------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------

def test_reliability_bins_by_hand():
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    bins = m.reliability_bins(y, p, positive_label=1, n_bins=4)
    np.testing.assert_allclose(bins["bin_edges"], [0, 0.25, 0.5, 0.75, 1])
    # 0.25 falls in [0.25, 0.5), 0.75 in [0.75, 1]; bins 0 and 2 are empty
    np.testing.assert_array_equal(bins["count"], [0, 4, 0, 4])
    np.testing.assert_allclose(bins["mean_predicted"], [np.nan, 0.25, np.nan, 0.75])
    np.testing.assert_allclose(bins["fraction_positive"], [np.nan, 0.25, np.nan, 0.75])


def test_ece_zero_for_perfectly_calibrated_bins():
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    p = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    assert m.expected_calibration_error(y, p, positive_label=1, n_bins=10) == pytest.approx(0)
    # the same cases, label 0 positive and p = P(label 0): still calibrated
    assert m.expected_calibration_error(y, 1 - p, positive_label=0) == pytest.approx(0)


def test_ece_known_value():
    # bin [0, .5): p = .2 on 4 cases, 2 positive -> gap .3, weight 4/10
    # bin [.5, 1]: p = .9 on 6 cases, 3 positive -> gap .4, weight 6/10
    y = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 0])
    p = np.array([0.2] * 4 + [0.9] * 6)
    ece = m.expected_calibration_error(y, p, positive_label=1, n_bins=2)
    assert ece == pytest.approx(0.4 * 0.3 + 0.6 * 0.4)


def test_brier_by_hand():
    y = np.array([1, 0, 1])
    p = np.array([0.8, 0.3, 0.4])
    assert m.brier_score(y, p, positive_label=1) == pytest.approx((0.2**2 + 0.3**2 + 0.6**2) / 3)
    # the same p read as P(label 0): outcomes are now 0, 1, 0
    assert m.brier_score(y, p, positive_label=0) == pytest.approx((0.8**2 + 0.7**2 + 0.4**2) / 3)
    assert m.brier_score(np.array([1, 1]), np.array([0.5, 1.0]), positive_label=1) == pytest.approx(0.125)


# ---------------------------------------------------------------------------
# Validation messages
# ---------------------------------------------------------------------------

ALL_METRICS = THRESHOLD_METRICS + [m.roc_auc, m.brier_score, m.expected_calibration_error,
                                   m.confusion_counts, m.binary_report, m.reliability_bins]


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_positive_label_is_required(metric):
    with pytest.raises(TypeError, match="positive_label"):
        metric(Y_HAND, P_HAND)


@pytest.mark.parametrize("metric", ALL_METRICS, ids=lambda f: f.__name__)
def test_every_metric_validates(metric):
    with pytest.raises(ValueError, match="different lengths"):
        metric(Y_HAND, P_HAND[:-1], positive_label=1)


def test_mismatched_lengths_message():
    with pytest.raises(ValueError, match=r"different lengths \(8 and 7\).*same test cases"):
        m.sensitivity(Y_HAND, P_HAND[:-1], positive_label=1)


def test_softmax_output_message():
    probs = np.stack([1 - P_HAND, P_HAND], axis=1)
    with pytest.raises(ValueError, match=r"shape \(8, 2\).*probs\[:, positive_label\], here probs\[:, 0\]"):
        m.roc_auc(Y_HAND, probs, positive_label=0)


def test_sigmoid_column_message():
    with pytest.raises(ValueError, match=r"\(8, 1\).*1 - probs\[:, 0\] when positive_label is 0"):
        m.roc_auc(Y_HAND, P_HAND[:, None], positive_label=0)


def test_logits_message():
    with pytest.raises(ValueError, match=r"\[0, 1\].*-2.*3.*probably passed logits"):
        m.accuracy(Y_HAND, np.linspace(-2, 3, 8), positive_label=1)
    with pytest.raises(ValueError, match="logits.*or class labels"):
        m.roc_auc(np.array([0, 1, 2, 1]) > 0, np.array([0, 1, 2, 1]), positive_label=1)


def test_float32_rounding_above_one_is_accepted():
    p = np.array([1.0000001, 0.2, 0.9, 0.1], dtype=np.float32)
    assert m.accuracy(np.array([1, 0, 1, 0]), p, positive_label=1) == 1.0


def test_nan_probabilities_message():
    p = P_HAND.copy()
    p[0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite.*diverged"):
        m.ppv(Y_HAND, p, positive_label=1)


def test_positive_label_not_in_y_true_message():
    with pytest.raises(ValueError, match=r"positive_label=2 is not among y_true's values \[0, 1\]"):
        m.sensitivity(Y_HAND, P_HAND, positive_label=2)
    with pytest.raises(ValueError, match="positive_label='malignant'"):
        m.sensitivity(Y_HAND, P_HAND, positive_label="malignant")


def test_more_than_two_classes_message():
    y = np.array([0, 1, 2, 1, 0, 2, 1, 0])
    with pytest.raises(ValueError, match=r"at most 2 classes.*3: \[0, 1, 2\].*one class against the rest"):
        m.f1(y, P_HAND, positive_label=1)


def test_y_true_shape_and_type_messages():
    with pytest.raises(ValueError, match=r"1-D integer labels.*\(8, 1\).*ravel"):
        m.accuracy(Y_HAND[:, None], P_HAND, positive_label=1)
    with pytest.raises(ValueError, match="one-hot.*argmax"):
        m.accuracy(np.eye(2)[Y_HAND], P_HAND, positive_label=1)
    with pytest.raises(ValueError, match="swap y_true and p_pos"):
        m.accuracy(P_HAND, Y_HAND, positive_label=1)
    with pytest.raises(ValueError, match="empty"):
        m.accuracy([], [], positive_label=1)
    # integer-valued floats (e.g. from Keras) are fine
    assert m.accuracy(Y_HAND.astype(float), P_HAND, positive_label=1) == pytest.approx(5 / 8)


def test_roc_auc_single_class_message():
    with pytest.raises(ValueError, match="needs both classes"):
        m.roc_auc([1, 1, 1], [0.2, 0.5, 0.9], positive_label=1)


def test_roc_auc_warns_on_hard_labels():
    with pytest.warns(UserWarning, match="hard labels"):
        auc = m.roc_auc(Y_HAND, (P_HAND >= 0.5).astype(float), positive_label=1)
    assert auc == pytest.approx(roc_auc_score(Y_HAND, P_HAND >= 0.5))


def test_bad_threshold_alpha_and_bins_messages():
    with pytest.raises(ValueError, match="threshold must be in"):
        m.sensitivity(Y_HAND, P_HAND, positive_label=1, threshold=50)
    with pytest.raises(ValueError, match="alpha"):
        m.bootstrap_ci(m.accuracy, Y_HAND, P_HAND, positive_label=1, alpha=95)
    with pytest.raises(ValueError, match="n_bins"):
        m.reliability_bins(Y_HAND, P_HAND, positive_label=1, n_bins=0)


def test_paired_bootstrap_validates_both_models():
    with pytest.raises(ValueError, match="different lengths"):
        m.paired_bootstrap(m.roc_auc, Y_HAND, P_HAND, P_HAND[:-1], positive_label=1, n_boot=10)
    with pytest.raises(ValueError, match="logits"):
        m.paired_bootstrap(m.roc_auc, Y_HAND, P_HAND, P_HAND * 10, positive_label=1, n_boot=10)


@pytest.mark.parametrize("positive", [0, 1])
@pytest.mark.parametrize("decimals", [1, 2, 8])
def test_vectorised_resample_auc_equals_sklearn_per_resample(decimals, positive):
    """The bootstrap computes all resampled AUCs at once; each must equal scikit-learn's, ties included."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(decimals)
    y = rng.integers(0, 2, 60)
    p = np.round(rng.random(60), decimals)  # few decimals: many tied scores
    resamples = np.array(list(m.bootstrap_indices(y, n_boot=200, seed=3)))
    fast = m._metric_of_resamples(m.roc_auc, y, p, resamples, positive_label=positive)
    slow = [roc_auc_score(y[idx] == positive, p[idx]) for idx in resamples]
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    est, low, high = m.bootstrap_ci(m.roc_auc, y, p, positive_label=positive, n_boot=200, seed=3)
    np.testing.assert_allclose((low, high), np.percentile(slow, [2.5, 97.5]), atol=1e-12)


# ------------------------------------------------------------- seeds and cases, two levels
def test_seeds_and_cases_bootstrap_pairs_by_seed_and_widens_with_seed_spread():
    from helpers.metrics import roc_auc, seeds_and_cases_bootstrap

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    sig = lambda z: 1 / (1 + np.exp(-z))
    raw = y + rng.normal(0, 1.0, size=(6, 300))
    signal, better = sig(raw), sig(raw + 0.8 * y)      # every seed clearly better
    out = seeds_and_cases_bootstrap(y, better, signal, positive_label=1, n_boot=500)
    per_seed = [roc_auc(y, a, positive_label=1) - roc_auc(y, b, positive_label=1) for a, b in zip(better, signal)]
    assert out["diff"] == pytest.approx(np.mean(per_seed)) and out["per_seed"] == pytest.approx(per_seed)
    assert out["low"] > 0 and out["real"] and out["n_seeds"] == 6
    noisy = better.copy()
    noisy[::2] = sig(raw[::2] - 0.8 * y)               # half the seeds much worse: seed spread
    wide = seeds_and_cases_bootstrap(y, noisy, signal, positive_label=1, n_boot=500)
    assert wide["high"] - wide["low"] > out["high"] - out["low"]
    assert not wide["real"]
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seeds_and_cases_bootstrap(y, better[:1], signal[:1], positive_label=1)
    with pytest.raises(ValueError, match="same shape"):
        seeds_and_cases_bootstrap(y, better, signal[:3], positive_label=1)


def _simulated_coverage(mu_a: float, mu_b: float, n_seeds: int, reps: int = 120, n_cases: int = 150,
                        seed_sd: float = 0.3, case_sd: float = 1.0, noise_sd: float = 0.5) -> tuple[float, float]:
    """How often the 95 % interval holds the true expected AUC difference, and how often it is called real.

    Scores: ``(mu_m + seed_sd * u) * y + z_case + noise``, with a seed effect
    ``u`` per method and seed, a case effect ``z`` shared by both methods and
    every seed (hard images are hard for all) and noise per case, method and
    seed. The expected AUC over seeds and test populations is then
    ``Phi(mu / sqrt(2 * (case_sd**2 + noise_sd**2) + seed_sd**2))``, so the
    true difference is known exactly.
    """
    from scipy.stats import norm
    from helpers.metrics import seeds_and_cases_bootstrap

    scale = np.sqrt(2 * (case_sd ** 2 + noise_sd ** 2) + seed_sd ** 2)
    truth = norm.cdf(mu_a / scale) - norm.cdf(mu_b / scale)
    rng = np.random.default_rng(7)
    covered = real = 0
    for _ in range(reps):
        y = rng.integers(0, 2, n_cases)
        z = rng.normal(0, case_sd, n_cases)
        scores = [norm.cdf((mu + seed_sd * rng.normal(size=(n_seeds, 1))) * y + z
                           + rng.normal(0, noise_sd, (n_seeds, n_cases))) for mu in (mu_a, mu_b)]  # as probabilities
        out = seeds_and_cases_bootstrap(y, *scores, positive_label=1, n_boot=100, seed=int(rng.integers(1 << 30)))
        covered += out["low"] <= truth <= out["high"]
        real += out["real"]
    return covered / reps, real / reps


@pytest.mark.parametrize("n_seeds", [5, 10])
def test_seeds_and_cases_interval_covers_a_known_zero_difference(n_seeds):
    coverage, called_real = _simulated_coverage(1.0, 1.0, n_seeds)
    assert 0.89 <= coverage <= 0.995, f"95 % interval covered a zero difference in {coverage:.0%} of 120 simulations"
    assert called_real <= 0.09, f"a zero difference was called real in {called_real:.0%} of simulations"


def test_seeds_and_cases_interval_covers_a_known_nonzero_difference():
    coverage, called_real = _simulated_coverage(1.6, 1.0, 10)
    assert 0.89 <= coverage <= 0.995, f"95 % interval covered the true difference in {coverage:.0%} of simulations"
    assert called_real >= 0.5, f"a true difference was found real in only {called_real:.0%} of simulations"
