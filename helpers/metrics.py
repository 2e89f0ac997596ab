"""Metrics for binary medical classifiers (lessons 01 and 03-06): a thin layer on scikit-learn.

Conventions shared by every function here:

- ``y_true``: integer class labels, shape (N,), with the dataset's own codes.
- ``p_pos``: the predicted probability of the *positive* class, shape (N,).
- ``positive_label``: which code in ``y_true`` is the positive class. It is
  always required, because it is not always 1: BreastMNIST's positive class
  (malignant) is label 0.
- ``threshold``: a case is predicted positive when ``p_pos >= threshold``.

Confidence intervals come from a percentile bootstrap over test cases
(:func:`bootstrap_ci`); two models are compared with a paired bootstrap on the
same resampled cases (:func:`paired_bootstrap`), and a difference is called
real only when its 95 % CI excludes 0 (see the course's statistics protocol).
"""
from __future__ import annotations

import helpers  # noqa: F401  (sets TensorFlow's environment variables first)

import warnings
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

__all__ = [
    "confusion_counts",
    "accuracy",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "roc_auc",
    "binary_report",
    "bootstrap_indices",
    "bootstrap_ci",
    "paired_bootstrap",
    "reliability_bins",
    "expected_calibration_error",
    "brier_score",
]

# Probabilities computed in float32 (Keras outputs) may overshoot [0, 1] by a
# rounding error; anything further out is a mistake, not rounding.
_PROB_TOLERANCE = 1e-6


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------

def check_inputs(y_true, p_pos, positive_label) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and positive-class probabilities; return them as 1-D numpy arrays.

    Every metric here starts with it; lessons 05-06's recalibration
    (:func:`helpers.calibration.fit_temperature`, ``fit_platt``) too.

    Every error says what is wrong and what to do about it, because these
    mistakes (wrong column, logits, swapped arguments) are the usual ones.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    y = np.asarray(y_true)
    p = np.asarray(p_pos)

    if y.ndim != 1:
        if y.ndim == 2 and y.shape[1] == 1:
            hint = "use y_true.ravel() to drop the trailing axis"
        elif y.ndim == 2:
            hint = "if these are one-hot labels, use y_true.argmax(axis=1)"
        else:
            hint = "pass one integer label per case"
        raise ValueError(
            f"y_true must be 1-D integer labels of shape (N,), got shape {y.shape}: {hint}."
        )
    if y.size == 0:
        raise ValueError("y_true is empty: there are no test cases to score.")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(
                "y_true must hold integer class labels, but it has non-integer values "
                f"such as {y[y != np.round(y)][:3].tolist()}: did you swap y_true and p_pos?"
            )
    elif y.dtype.kind not in "iub":
        raise ValueError(
            f"y_true must hold integer class labels, got dtype {y.dtype}: "
            "convert names to codes first (see the dataset's label_names)."
        )

    if p.ndim != 1:
        if p.ndim == 2 and p.shape[1] == 1:
            hint = (
                "a sigmoid output of shape (N, 1) is the probability of label 1: "
                "pass probs[:, 0] when positive_label is 1, or 1 - probs[:, 0] "
                "when positive_label is 0"
            )
        elif p.ndim == 2:
            hint = (
                f"for a softmax output of shape {p.shape}, take the positive "
                f"column: probs[:, positive_label], here probs[:, {positive_label!r}]"
            )
        else:
            hint = "pass one probability per case"
        raise ValueError(
            f"p_pos must be 1-D (one probability of the positive class per case), "
            f"got shape {p.shape}: {hint}."
        )
    if len(p) != len(y):
        raise ValueError(
            f"y_true and p_pos have different lengths ({len(y)} and {len(p)}): "
            "pass the labels and the predictions of the same test cases, in the same order."
        )
    if p.dtype.kind not in "fiub":
        raise ValueError(f"p_pos must be numeric probabilities, got dtype {p.dtype}.")
    p = p.astype(np.float64)
    if not np.all(np.isfinite(p)):
        raise ValueError(
            f"p_pos contains {int(np.sum(~np.isfinite(p)))} NaN or infinite values: "
            "check the model's output (a diverged training run gives NaN)."
        )
    if p.min() < -_PROB_TOLERANCE or p.max() > 1 + _PROB_TOLERANCE:
        raise ValueError(
            f"p_pos must be probabilities in [0, 1], got values from {p.min():.3g} "
            f"to {p.max():.3g}: you probably passed logits (apply a sigmoid or "
            "softmax, or give the model a probability output) or class labels."
        )
    p = np.clip(p, 0.0, 1.0)

    labels = np.unique(y)
    if positive_label not in labels.tolist():
        raise ValueError(
            f"positive_label={positive_label!r} is not among y_true's values "
            f"{labels.tolist()}: pass the code of the positive class as it appears "
            "in y_true (the dataset's positive_label)."
        )
    if len(labels) > 2:
        raise ValueError(
            f"binary metrics need at most 2 classes, but y_true has {len(labels)}: "
            f"{labels.tolist()}. For one class against the rest, pass "
            "(y_true == k).astype(int) with positive_label=1."
        )
    return y, p


def _binarise(y_true, p_pos, positive_label, threshold) -> tuple[np.ndarray, np.ndarray]:
    """Return (is the case positive, is it predicted positive) as bool arrays."""
    y, p = check_inputs(y_true, p_pos, positive_label)
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}.")
    return y == positive_label, p >= threshold


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator, or nan when the denominator is 0."""
    return numerator / denominator if denominator else float("nan")


# ---------------------------------------------------------------------------
# Threshold metrics
# ---------------------------------------------------------------------------

def confusion_counts(y_true, p_pos, *, positive_label, threshold: float = 0.5) -> dict:
    """Counts of true/false positives/negatives at ``threshold``.

    Returns a dict with int values ``tp``, ``fp``, ``tn``, ``fn``.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    is_pos, pred_pos = _binarise(y_true, p_pos, positive_label, threshold)
    return {
        "tp": int(np.sum(is_pos & pred_pos)),
        "fp": int(np.sum(~is_pos & pred_pos)),
        "tn": int(np.sum(~is_pos & ~pred_pos)),
        "fn": int(np.sum(is_pos & ~pred_pos)),
    }


def accuracy(y_true, p_pos, *, positive_label, threshold: float = 0.5) -> float:
    """Fraction of cases classified correctly. Taught in lesson 03."""
    is_pos, pred_pos = _binarise(y_true, p_pos, positive_label, threshold)
    return float(accuracy_score(is_pos, pred_pos))


def sensitivity(y_true, p_pos, *, positive_label, threshold: float = 0.5) -> float:
    """Recall of the positive class: of the sick patients, the fraction found. Taught in lesson 05."""
    is_pos, pred_pos = _binarise(y_true, p_pos, positive_label, threshold)
    return float(recall_score(is_pos, pred_pos, pos_label=True, zero_division=np.nan))


def specificity(y_true, p_pos, *, positive_label, threshold: float = 0.5) -> float:
    """Of the healthy patients, the fraction correctly left alone (nan if none). Taught in lesson 05."""
    c = confusion_counts(y_true, p_pos, positive_label=positive_label, threshold=threshold)
    return _ratio(c["tn"], c["tn"] + c["fp"])


def ppv(y_true, p_pos, *, positive_label, threshold: float = 0.5) -> float:
    """Positive predictive value (precision): of the positive calls, the fraction sick.

    nan when nothing is predicted positive.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    is_pos, pred_pos = _binarise(y_true, p_pos, positive_label, threshold)
    return float(precision_score(is_pos, pred_pos, pos_label=True, zero_division=np.nan))


def npv(y_true, p_pos, *, positive_label, threshold: float = 0.5) -> float:
    """Negative predictive value: of the negative calls, the fraction healthy.

    nan when nothing is predicted negative.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    c = confusion_counts(y_true, p_pos, positive_label=positive_label, threshold=threshold)
    return _ratio(c["tn"], c["tn"] + c["fn"])


def f1(y_true, p_pos, *, positive_label, threshold: float = 0.5) -> float:
    """Harmonic mean of sensitivity and PPV (nan when there is nothing to score). No lesson calls it directly (lessons reach it through other helpers)."""
    is_pos, pred_pos = _binarise(y_true, p_pos, positive_label, threshold)
    return float(f1_score(is_pos, pred_pos, pos_label=True, zero_division=np.nan))


# ---------------------------------------------------------------------------
# Ranking metric
# ---------------------------------------------------------------------------

def roc_auc(y_true, p_pos, *, positive_label) -> float:
    """Area under the ROC curve: the chance that a random positive case gets a
    higher ``p_pos`` than a random negative one. Needs both classes.

    Warns when ``p_pos`` holds only 0s and 1s: hard predictions give the AUC
    of a single threshold, not of the model's ranking.

    Taught in lesson 01.
    """
    y, p = check_inputs(y_true, p_pos, positive_label)
    is_pos = y == positive_label
    if is_pos.all():
        raise ValueError(
            "roc_auc needs both classes in y_true, but every case is positive: "
            "AUC compares positive cases with negative ones."
        )
    if np.all((p == 0) | (p == 1)):
        warnings.warn(
            "p_pos holds only 0s and 1s, which looks like hard labels rather than "
            "probabilities: the AUC then describes one threshold only. Pass the "
            "predicted probability of the positive class.",
            UserWarning,
            stacklevel=2,
        )
    return float(roc_auc_score(is_pos, p))


def binary_report(y_true, p_pos, *, positive_label, threshold: float = 0.5) -> dict:
    """Every metric above in one dict.

    Keys: ``n``, ``tp``, ``fp``, ``tn``, ``fn``, ``accuracy``, ``sensitivity``,
    ``specificity``, ``ppv``, ``npv``, ``f1``, ``auc`` (nan when y_true has a
    single class).

    Taught in lesson 05.
    """
    kw = {"positive_label": positive_label, "threshold": threshold}
    y, p = check_inputs(y_true, p_pos, positive_label)
    report: dict = {"n": int(len(y))}
    report.update(confusion_counts(y, p, **kw))
    for name, metric in [
        ("accuracy", accuracy),
        ("sensitivity", sensitivity),
        ("specificity", specificity),
        ("ppv", ppv),
        ("npv", npv),
        ("f1", f1),
    ]:
        report[name] = metric(y, p, **kw)
    two_classes = len(np.unique(y)) == 2
    report["auc"] = roc_auc(y, p, positive_label=positive_label) if two_classes else float("nan")
    return report


# ---------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------

def bootstrap_indices(y_true, *, n_boot: int = 1000, seed: int = 0) -> Iterator[np.ndarray]:
    """Yield ``n_boot`` bootstrap resamples (arrays of case indices) of the test set.

    Cases are drawn with replacement, N from N, by ``np.random.default_rng(seed)``.
    A resample that lacks a class present in ``y_true`` (e.g. no positive case,
    so no sensitivity or AUC) is **redrawn**, so every yielded resample has both
    classes and every metric is defined on it. The same seed gives the same
    resamples, which is what makes :func:`paired_bootstrap` paired.

    Taught in lesson 04.
    """
    y = np.asarray(y_true)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}.")
    n_classes = len(np.unique(y))
    rng = np.random.default_rng(seed)
    max_draws = 100 * n_boot
    draws = 0
    yielded = 0
    while yielded < n_boot:
        draws += 1
        if draws > max_draws:
            raise ValueError(
                "almost every bootstrap resample misses a class: the test set has "
                "too few cases of one class for a bootstrap CI."
            )
        idx = rng.integers(0, len(y), size=len(y))
        if len(np.unique(y[idx])) < n_classes:
            continue  # redraw: this resample lacks one of the classes
        yielded += 1
        yield idx


def _roc_auc_of_resamples(is_pos: np.ndarray, p: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    """ROC-AUC of every resample at once, equal to :func:`roc_auc` on ``(y[idx], p[idx])``.

    A resample counts each case some number of times; the AUC is the weighted
    share of (positive, negative) pairs ranked correctly, ties counting one
    half, computed per distinct score with cumulative sums instead of a
    scikit-learn call per resample (about 1000x faster, for the same numbers).
    """
    n_boot, n = resamples.shape
    flat = (resamples + n * np.arange(n_boot)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(float)
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])  # first case of each distinct score
    counts, pos = counts[:, order], is_pos[order]
    pos_at = np.add.reduceat(counts * pos, starts, axis=1)  # (n_boot, distinct scores), ascending
    neg_at = np.add.reduceat(counts * ~pos, starts, axis=1)
    neg_below = np.cumsum(neg_at, axis=1) - neg_at
    pairs = pos_at.sum(axis=1) * neg_at.sum(axis=1)
    return np.sum(pos_at * (neg_below + 0.5 * neg_at), axis=1) / pairs


def _metric_of_resamples(metric: Callable[..., float], y: np.ndarray, p: np.ndarray,
                         resamples: np.ndarray, **kw) -> np.ndarray:
    """``metric`` on every resample (rows of case indices); ROC-AUC vectorised, others one by one."""
    if metric is roc_auc:
        return _roc_auc_of_resamples(y == kw["positive_label"], p, resamples)
    with warnings.catch_warnings():
        # the hard-labels warning of roc_auc was already shown once, on all cases
        warnings.simplefilter("ignore", UserWarning)
        return np.array([metric(y[idx], p[idx], **kw) for idx in resamples], dtype=float)


def _percentile_ci(values: np.ndarray, alpha: float) -> tuple[float, float]:
    """The (alpha/2, 1 - alpha/2) percentiles, ignoring nan; (nan, nan) if all nan."""
    values = np.asarray(values, dtype=float)
    if np.all(np.isnan(values)):
        return float("nan"), float("nan")
    low, high = np.nanpercentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (0.05 for a 95 % CI), got {alpha!r}.")


def bootstrap_ci(
    metric: Callable[..., float],
    y_true,
    p_pos,
    *,
    positive_label,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    **kwargs,
) -> tuple[float, float, float]:
    """Point estimate and percentile-bootstrap CI of ``metric`` over test cases.

    ``metric`` is one of this module's functions (e.g. ``roc_auc``,
    ``sensitivity``); it is called as ``metric(y, p, positive_label=...,
    **kwargs)``, so pass ``threshold=`` here for threshold metrics.

    Returns ``(estimate on all cases, low, high)`` for a ``1 - alpha`` CI.
    Resamples lacking one of the two classes are redrawn (see
    :func:`bootstrap_indices`); a resample whose metric is still undefined
    (e.g. PPV when nothing is predicted positive) is left out of the
    percentiles.

    Taught in lesson 04.
    """
    _check_alpha(alpha)
    y, p = check_inputs(y_true, p_pos, positive_label)
    estimate = float(metric(y, p, positive_label=positive_label, **kwargs))
    resamples = np.array(list(bootstrap_indices(y, n_boot=n_boot, seed=seed)))
    values = _metric_of_resamples(metric, y, p, resamples, positive_label=positive_label, **kwargs)
    low, high = _percentile_ci(values, alpha)
    return estimate, low, high


def paired_bootstrap(
    metric: Callable[..., float],
    y_true,
    p_a,
    p_b,
    *,
    positive_label,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    **kwargs,
) -> dict:
    """Compare models A and B on the same test cases with a paired bootstrap.

    Both models are scored on the *same* resampled cases each time, so the
    case-to-case difficulty cancels out of the difference. ``**kwargs`` go to
    ``metric`` (e.g. ``threshold=``).

    Returns a dict:

    - ``diff``: ``metric(A) - metric(B)`` on all cases;
    - ``low``, ``high``: the percentile ``1 - alpha`` CI of the difference;
    - ``p_value``: two-sided, from the fraction of resampled differences on
      each side of 0: ``min(1, 2 * min(k_le + 1, k_ge + 1) / (n_boot + 1))``,
      where ``k_le`` counts resamples with difference <= 0 and ``k_ge`` those
      with difference >= 0 (the +1 keeps it above 0: with 1000 resamples the
      smallest p-value it can give is about 0.002);
    - ``real``: True when the CI excludes 0 (the course's rule for calling a
      difference real);
    - ``metric_a``, ``metric_b``: each model's metric on all cases.

    Taught in lesson 05.
    """
    _check_alpha(alpha)
    y, pa = check_inputs(y_true, p_a, positive_label)
    _, pb = check_inputs(y_true, p_b, positive_label)
    kw = {"positive_label": positive_label, **kwargs}
    metric_a = float(metric(y, pa, **kw))
    metric_b = float(metric(y, pb, **kw))
    resamples = np.array(list(bootstrap_indices(y, n_boot=n_boot, seed=seed)))
    diffs = _metric_of_resamples(metric, y, pa, resamples, **kw) - _metric_of_resamples(metric, y, pb, resamples, **kw)
    low, high = _percentile_ci(diffs, alpha)
    valid = diffs[~np.isnan(diffs)]
    k_le, k_ge = int(np.sum(valid <= 0)), int(np.sum(valid >= 0))
    p_value = min(1.0, 2 * min(k_le + 1, k_ge + 1) / (len(valid) + 1))
    return {
        "diff": metric_a - metric_b,
        "low": low,
        "high": high,
        "p_value": float(p_value),
        "real": bool(low > 0 or high < 0),
        "metric_a": metric_a,
        "metric_b": metric_b,
    }


def seeds_and_cases_bootstrap(
    y_true,
    p_a,
    p_b,
    *,
    positive_label,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict:
    """Mean over seeds of the paired AUC difference A - B, with a CI over seeds *and* test images.

    ``p_a`` and ``p_b`` are (n_seeds, n_cases): row ``s`` holds the test
    probabilities of the two methods trained on seed ``s``'s label draw (the
    same draw for both: the difference is paired by seed). The difference has
    two sources of uncertainty, and the interval adds both variances:

    - **seeds** (which labels were drawn, the initialisation): the variance of
      the per-seed differences over ``n_seeds``, as in a paired t-test;
    - **test images**: ``n_boot`` bootstrap resamples of the test cases (one
      draw of images shared by every seed and both methods) give the variance
      of the mean difference over the images that happened to be in the test set.

    The 95 % interval is ``diff ± t(n_seeds - 1) * sqrt(var_seeds + var_images)``.
    The t quantile, not a percentile of resampled seeds, is what keeps the
    coverage near 95 % with 5 to 10 seeds: a percentile bootstrap over so few
    seeds under-covers. ``tests/unit/test_metrics.py`` checks the coverage by
    simulation, for a known zero and a known non-zero difference.

    Returns ``diff`` (on all seeds and cases), ``low``, ``high``, ``real``
    (the CI excludes 0), ``per_seed`` (each seed's difference), ``mean_a``,
    ``mean_b`` (each method's mean AUC over seeds), ``n_seeds``, ``se``,
    ``se_seeds`` and ``se_images`` (the two parts of the standard error).

    Taught in lesson 03.
    """
    from scipy import stats

    _check_alpha(alpha)
    pa, pb = np.atleast_2d(np.asarray(p_a, dtype=float)), np.atleast_2d(np.asarray(p_b, dtype=float))
    if pa.shape != pb.shape:
        raise ValueError(f"p_a and p_b must have the same shape (seeds, cases), got {pa.shape} and {pb.shape}.")
    y, _ = check_inputs(y_true, pa[0], positive_label)
    if pa.shape[1] != len(y):
        raise ValueError(f"each row of p_a must hold one probability per test case ({len(y)}), got {pa.shape[1]}.")
    n_seeds = pa.shape[0]
    if n_seeds < 2:
        raise ValueError("a CI over seeds needs at least 2 seeds (the protocol asks for 10).")
    is_pos = y == positive_label
    every_case = np.arange(len(y))[None]  # the full test set, as one "resample"
    auc_a = np.array([_roc_auc_of_resamples(is_pos, row, every_case)[0] for row in pa])
    auc_b = np.array([_roc_auc_of_resamples(is_pos, row, every_case)[0] for row in pb])
    per_seed = auc_a - auc_b
    cases = np.array(list(bootstrap_indices(y, n_boot=n_boot, seed=seed)))
    boot = np.mean([_roc_auc_of_resamples(is_pos, ra, cases) - _roc_auc_of_resamples(is_pos, rb, cases)
                    for ra, rb in zip(pa, pb)], axis=0)  # (n_boot,): mean difference on each resample
    se_seeds = float(np.std(per_seed, ddof=1) / np.sqrt(n_seeds))
    se_images = float(np.std(boot, ddof=1)) if n_boot > 1 else 0.0
    se = float(np.hypot(se_seeds, se_images))
    diff = float(per_seed.mean())
    half = float(stats.t.ppf(1 - alpha / 2, n_seeds - 1)) * se
    low, high = diff - half, diff + half
    return {
        "diff": diff, "low": low, "high": high, "real": bool(low > 0 or high < 0),
        "per_seed": per_seed.tolist(), "mean_a": float(auc_a.mean()), "mean_b": float(auc_b.mean()),
        "n_seeds": int(n_seeds), "se": se, "se_seeds": se_seeds, "se_images": se_images,
    }


# ---------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------

def reliability_bins(y_true, p_pos, *, positive_label, n_bins: int = 10) -> dict:
    """Group cases into ``n_bins`` equal-width bins of ``p_pos`` on [0, 1].

    Bins are ``[e_i, e_{i+1})``, the last one closed at 1. Returns a dict of
    arrays: ``bin_edges`` (n_bins + 1), and per bin ``mean_predicted`` (mean
    ``p_pos``), ``fraction_positive`` (observed fraction of positive cases) and
    ``count``; empty bins have nan means and count 0. A calibrated model has
    fraction_positive close to mean_predicted in every bin.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins!r}.")
    y, p = check_inputs(y_true, p_pos, positive_label)
    is_pos = y == positive_label
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    which = np.searchsorted(edges[1:-1], p, side="right")  # bin index 0..n_bins-1
    count = np.bincount(which, minlength=n_bins)
    sum_p = np.bincount(which, weights=p, minlength=n_bins)
    sum_pos = np.bincount(which, weights=is_pos.astype(float), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.where(count > 0, sum_p / count, np.nan)
        fraction_positive = np.where(count > 0, sum_pos / count, np.nan)
    return {
        "bin_edges": edges,
        "mean_predicted": mean_predicted,
        "fraction_positive": fraction_positive,
        "count": count.astype(np.int64),
    }


def expected_calibration_error(y_true, p_pos, *, positive_label, n_bins: int = 10) -> float:
    """Expected calibration error: the count-weighted mean over bins of
    ``|fraction_positive - mean_predicted|`` (0 = perfectly calibrated).

    Taught in lesson 05.
    """
    bins = reliability_bins(y_true, p_pos, positive_label=positive_label, n_bins=n_bins)
    filled = bins["count"] > 0
    gaps = np.abs(bins["fraction_positive"][filled] - bins["mean_predicted"][filled])
    weights = bins["count"][filled] / bins["count"].sum()
    return float(np.sum(weights * gaps))


def brier_score(y_true, p_pos, *, positive_label) -> float:
    """Mean squared difference between ``p_pos`` and the outcome (1 = positive).

    0 is perfect; always answering 0.5 scores 0.25.

    Taught in lesson 05.
    """
    y, p = check_inputs(y_true, p_pos, positive_label)
    if len(np.unique(y)) == 2:
        return float(brier_score_loss(y, p, pos_label=positive_label))
    # a single-class test set: scikit-learn cannot tell which label is the other
    return float(np.mean(((y == positive_label).astype(float) - p) ** 2))
