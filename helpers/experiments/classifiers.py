"""The trained classifiers and the class-imbalance study of lesson 06 (cached runs).

- :func:`trained_classifier` is the one place a lesson gets "the" classifier of a
  dataset: its weights are cached as a ``.npz`` file named by the code, the
  dataset and the recipe, so the model is the same whether or not another lesson
  ran before (the seed is set inside; the cache only saves time).
- ``method=`` of :func:`trained_classifier` / :func:`predictions` picks plain
  training, class weights or resampling (the class-imbalance study of lesson 06);
  predictions are cached (plain data). :func:`oversample` is the few lines of
  resampling the lesson points to.
"""
from __future__ import annotations

import helpers  # noqa: F401  (quiet TensorFlow before it loads)

import math
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from helpers import metrics
from helpers.cache import cache_file, cache_key, cached
from helpers.recipes import Recipe
from helpers.data import Split, label_splits, load_dataset

# The recipe of lesson 06: the plain small CNN (no batch norm, no augmentation),
# tiled epochs of at least 512 images, so that 30 runs (2 datasets x 3 imbalance
# methods x 5 seeds) stay within a few minutes on a laptop CPU. The epoch cap is a
# compute budget: most runs still improve slowly when they reach it (early stopping
# rarely fires), and every method gets the same budget.
@dataclass(frozen=True)
class ClassifierRecipe(Recipe):
    """How the classifiers of lesson 06 are built (:func:`helpers.models.build_cnn`) and trained.

    No lesson calls it directly (lessons reach it through other helpers).
    """

    WHAT = "the recipe of the classifiers of lesson 06 (classifiers.ClassifierRecipe)"
    filters: tuple[int, ...] = (16, 32, 64)
    batch_norm: bool = False
    dropout: float = 0.3
    weight_decay: float = 0.0
    augment: bool = False
    pooling: Literal["gap", "flatten"] = "gap"
    lr: float = 3e-3
    batch_size: int = 64
    epochs: int = 20
    patience: int = 5
    min_samples_per_epoch: int = 512


CLASSIFIER_RECIPE = ClassifierRecipe()

IMBALANCE_METHODS = ("plain", "class weights", "resampling")

# Labels used for each dataset: all of BreastMNIST (546 training images), 10 % of
# PneumoniaMNIST (471), so every classifier trains on a few hundred images.
DEFAULT_FRACTION = {"breastmnist": 1.0, "pneumoniamnist": 0.1}


# ------------------------------------------------------------ trained classifier
def tile_to(split: Split, min_samples: int, seed: int) -> Split:
    """Repeat a small training set (shuffled) until it has at least ``min_samples`` rows.

    With 47 labelled images and batch 64, an epoch is a single gradient step and
    early stopping halts a model that has barely moved; tiling keeps the number
    of steps per epoch sensible without changing what the model sees.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    reps = max(1, math.ceil(min_samples / len(split.y)))
    if reps == 1:
        return split
    idx = np.random.default_rng(seed).permutation(np.tile(np.arange(len(split.y)), reps))
    return Split(split.x[idx], split.y[idx])


def _recipe(recipe: ClassifierRecipe | Mapping[str, Any] | None) -> ClassifierRecipe:
    return CLASSIFIER_RECIPE.with_overrides(recipe)


def _fraction(dataset: str, fraction: float | None) -> float:
    return DEFAULT_FRACTION.get(dataset, 1.0) if fraction is None else float(fraction)


def _build(input_shape: Sequence[int], n_classes: int, r: ClassifierRecipe):
    from helpers.models import build_cnn

    return build_cnn(tuple(input_shape), n_classes, filters=r.filters, batch_norm=r.batch_norm,
                     dropout=r.dropout, weight_decay=r.weight_decay, augment=r.augment, pooling=r.pooling)


def classifier_weights_path(dataset: str, seed: int = 0, method: str = "plain", fraction: float | None = None,
                            recipe: ClassifierRecipe | Mapping[str, Any] | None = None):
    """Where :func:`trained_classifier` keeps the weights of these arguments (a ``.npz`` file).

    Keyed like a cached run: by the code :func:`trained_classifier` executes and its full arguments. In a
    read-only course cache a missing file goes to the learner's own folder (:func:`helpers.cache.cache_file`).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    key = cache_key(trained_classifier, dataset, seed, method, _fraction(dataset, fraction), _recipe(recipe))
    return cache_file(Path(f"{__name__}.trained_classifier") / f"{key}.npz")


def trained_classifier(dataset: str, seed: int = 0, method: str = "plain", fraction: float | None = None,
                       recipe: ClassifierRecipe | Mapping[str, Any] | None = None):
    """The course CNN for ``dataset``, trained on ``fraction`` of its labels (validation scaled alike).

    ``method`` is one of :data:`IMBALANCE_METHODS`: ``"plain"`` training,
    ``"class weights"`` (loss weighted by :func:`balanced_class_weights`) or
    ``"resampling"`` (training set balanced by :func:`oversample`); validation
    keeps the natural class balance. The first call trains (seeded, early
    stopping on validation loss) and saves the weights in the course cache;
    later calls, in any lesson or process, rebuild the model and load them.
    Returns a Keras model.

    Taught in lesson 06.
    """
    import keras
    from helpers.models import WeightsMismatchError, load_weights, save_weights, train_classifier

    if method not in IMBALANCE_METHODS:
        raise ValueError(f"method must be one of {IMBALANCE_METHODS}, got {method!r}.")
    r, fraction = _recipe(recipe), _fraction(dataset, fraction)
    ds = load_dataset(dataset)
    shape, n_classes = ds.train.x.shape[1:], len(ds.label_names)
    path = classifier_weights_path(dataset, seed, method, fraction, recipe)
    if path.is_file():
        model = _build(shape, n_classes, r)
        try:
            load_weights(model, path)
            return model
        except WeightsMismatchError:  # a stale or damaged file: train again
            path.unlink(missing_ok=True)
    worker = _worker(shape, n_classes, r)          # before the seed: it draws no number this run uses
    keras.utils.set_random_seed(seed)
    model = _build(shape, n_classes, r)            # this seed's initial weights
    train, val = label_splits(ds, fraction=fraction, seed=seed)
    weights = balanced_class_weights(train.y) if method == "class weights" else None
    if method == "resampling":
        train = oversample(train, seed)
    fit_on = tile_to(train, r.min_samples_per_epoch, seed)
    _assign(worker.variables, model.variables)     # train the compiled worker from this seed's start
    _assign(worker.optimizer.variables, _WORKER[_worker_key(shape, n_classes, r)][1])
    train_classifier(worker, fit_on.x, fit_on.y, val.x, val.y, epochs=r.epochs, lr=r.lr,
                     batch_size=r.batch_size, patience=r.patience, class_weight=weights, compile=False)
    _assign(model.variables, worker.variables)
    save_weights(model, path)
    return model


_WORKER: dict[tuple, tuple[Any, list[np.ndarray]]] = {}
"""The compiled model that trains every classifier of one recipe and shape in this process, and its optimizer's
start: tracing a new model's training step costs about as much as a few of its epochs."""


def _worker_key(shape: Sequence[int], n_classes: int, r: ClassifierRecipe) -> tuple:
    return (tuple(shape), n_classes, repr(r.as_dict()))


def _worker(shape: Sequence[int], n_classes: int, r: ClassifierRecipe) -> Any:
    """The compiled worker of this recipe and shape (built and compiled on first use, then reused).

    Each run copies its freshly built model's variables (weights, random-number
    states) into it and resets its optimizer to the starting state, trains it,
    and copies the result back: the run a fresh model would make, without
    tracing its steps again (a unit test checks this exactly).
    """
    from helpers.models import _compile_classifier

    key = _worker_key(shape, n_classes, r)
    if key not in _WORKER:
        worker = _compile_classifier(_build(shape, n_classes, r), r.lr)
        worker.optimizer.build(worker.trainable_variables)
        _WORKER.clear()
        _WORKER[key] = (worker, [np.array(v.numpy()) for v in worker.optimizer.variables])
    return _WORKER[key][0]


def _assign(targets: Sequence[Any], values: Sequence[Any]) -> None:
    for target, value in zip(targets, values, strict=True):
        target.assign(value)


@cached
def predictions(dataset: str, seed: int = 0, method: str = "plain", fraction: float | None = None,
                recipe: ClassifierRecipe | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validation and test predictions of :func:`trained_classifier` (plain data, cached).

    Keys: ``y_val``, ``y_test`` (labels), ``proba_val``, ``proba_test`` (every
    class), ``p_val``, ``p_test`` (the positive class's column), ``n_train``,
    ``seconds`` (prediction plus any training done by this call). The
    validation cases are the budgeted subset the model early-stopped on.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    from helpers.models import predict_proba

    start = time.perf_counter()
    fraction = _fraction(dataset, fraction)
    ds = load_dataset(dataset)
    model = trained_classifier(dataset, seed, method, fraction, recipe)
    train, val = label_splits(ds, fraction=fraction, seed=seed)
    proba_val, proba_test = predict_proba(model, val.x), predict_proba(model, ds.test.x)
    pos = ds.positive_label
    return {"dataset": dataset, "seed": seed, "method": method, "fraction": fraction,
            "n_train": int(len(train.y)), "y_val": val.y, "proba_val": proba_val, "p_val": proba_val[:, pos],
            "y_test": ds.test.y, "proba_test": proba_test, "p_test": proba_test[:, pos],
            "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------- imbalance
def balanced_class_weights(y) -> dict[int, float]:
    """``n / (k * n_c)`` for each of the ``k`` classes (scikit-learn's "balanced"). No lesson calls it directly (lessons reach it through other helpers)."""
    y = np.asarray(y).reshape(-1)
    labels, counts = np.unique(y, return_counts=True)
    return {int(c): float(len(y) / (len(labels) * n)) for c, n in zip(labels, counts)}


def oversample(split: Split, seed: int) -> Split:
    """Random oversampling: repeat cases of the smaller classes (with replacement) up to the largest.

    Taught in lesson 06.
    """
    rng = np.random.default_rng(seed)
    labels, counts = np.unique(split.y, return_counts=True)
    idx = []
    for c, n in zip(labels, counts):
        members = np.flatnonzero(split.y == c)
        extra = rng.choice(members, size=counts.max() - n, replace=True)
        idx.append(np.concatenate([members, extra]))
    idx = rng.permutation(np.concatenate(idx))
    return Split(split.x[idx], split.y[idx])


def imbalance_study(datasets: Sequence[str], seeds: Sequence[int],
                    methods: Sequence[str] = IMBALANCE_METHODS, progress: bool = True) -> list[dict[str, Any]]:
    """:func:`predictions` for every (dataset, method, seed), cached, with a progress bar (lesson 06).

    Taught in lesson 06.
    """
    from helpers.progress import bar

    jobs = [(d, s, m) for d in datasets for m in methods for s in seeds]
    return [predictions(*job) for job in bar(jobs, "imbalance runs (cached after the first time)",
                                             unit="run", enabled=progress)]


@cached
def summarise_runs(runs: list[dict[str, Any]], positive_label: int, baseline: str = "plain",
                   n_boot: int = 2000, threshold: float = 0.5) -> list[dict[str, Any]]:
    """Per method: each single-seed model's scores, their mean and spread over seeds, and the paired
    difference from ``baseline`` with a 95 % interval over seeds *and* test images.

    ``runs`` are :func:`predictions` results; every method must have run the
    same seeds (a seed is one label draw shared by every method, so the
    difference is paired by seed). No prediction is averaged over seeds: a
    seed-averaged prediction is an ensemble of several models that saw several
    label draws, not a model trained on one budget.

    Each row: ``method``, ``seeds`` (how many), and for each of :data:`SCORES`
    (sensitivity and specificity at ``threshold``, AUC, ECE):
    ``<metric>_per_seed`` (one value per seed), ``<metric>_mean`` and
    ``<metric>_sd`` (over seeds, ddof=1); for the methods other than
    ``baseline`` also ``<metric>_diff``, a dict with ``diff`` (mean over seeds
    of the paired difference), ``low``, ``high`` (95 % interval) and ``real``
    (the interval excludes 0). The AUC's interval is
    :func:`helpers.metrics.seeds_and_cases_bootstrap`; the others come from
    :func:`seeds_and_cases_difference`, the same two-level resampling.
    Cached: the resamples take a few seconds.

    Taught in lesson 06.
    """
    methods = list(dict.fromkeys(r["method"] for r in runs))
    y = np.asarray(runs[0]["y_test"])
    by_method = {m: sorted((r for r in runs if r["method"] == m), key=lambda r: r["seed"]) for m in methods}
    seeds = {m: [r["seed"] for r in rs] for m, rs in by_method.items()}
    if baseline in seeds and any(s != seeds[baseline] for s in seeds.values()):
        raise ValueError(f"every method must run the same seeds to be paired by seed; got {seeds}.")
    proba = {m: np.stack([r["p_test"] for r in rs]) for m, rs in by_method.items()}   # (seeds, test images)
    rows = []
    for m in methods:
        row: dict[str, Any] = {"method": m, "seeds": len(seeds[m])}
        for name in SCORES:
            per_seed = np.array([score(name, y, p, positive_label=positive_label, threshold=threshold)
                                 for p in proba[m]])
            row.update({f"{name}_per_seed": per_seed.tolist(), f"{name}_mean": float(per_seed.mean()),
                        f"{name}_sd": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else float("nan")})
            if m == baseline or baseline not in proba:
                continue
            if name == "auc":
                d = metrics.seeds_and_cases_bootstrap(y, proba[m], proba[baseline], positive_label=positive_label,
                                                      n_boot=n_boot, seed=0)
            else:
                d = seeds_and_cases_difference(name, y, proba[m], proba[baseline], positive_label=positive_label,
                                               threshold=threshold, n_boot=n_boot, seed=0)
            row[f"{name}_diff"] = {k: d[k] for k in ("diff", "low", "high", "real")}
        rows.append(row)
    return rows


SCORES = ("sensitivity", "specificity", "auc", "ece")
"""What :func:`summarise_runs` scores for every single-seed model (ECE: expected calibration error)."""


def score(name: str, y_true, p_pos, *, positive_label, threshold: float = 0.5) -> float:
    """One of :data:`SCORES` for one model's test probabilities (``threshold`` for the two rates).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    if name in ("sensitivity", "specificity"):
        return getattr(metrics, name)(y_true, p_pos, positive_label=positive_label, threshold=threshold)
    if name == "auc":
        return metrics.roc_auc(y_true, p_pos, positive_label=positive_label)
    if name == "ece":
        return metrics.expected_calibration_error(y_true, p_pos, positive_label=positive_label)
    raise ValueError(f"name must be one of {SCORES}, got {name!r}.")


def _score_of_resamples(name: str, is_pos: np.ndarray, p: np.ndarray, counts: np.ndarray,
                        threshold: float) -> np.ndarray:
    """:func:`score` on every resample at once; ``counts[b, i]`` is how often resample ``b`` holds image ``i``."""
    if name == "sensitivity":
        return counts @ (is_pos & (p >= threshold)) / (counts @ is_pos)
    if name == "specificity":
        return counts @ (~is_pos & (p < threshold)) / (counts @ ~is_pos)
    if name == "ece":   # sum over 10 equal-width bins of |positives - predicted|, over the images
        which = np.searchsorted(np.linspace(0.0, 1.0, 11)[1:-1], p, side="right")
        gaps = np.zeros((len(p), 10))
        gaps[np.arange(len(p)), which] = is_pos - p
        return np.abs(counts @ gaps).sum(axis=1) / counts.sum(axis=1)
    raise ValueError(f"no resampled version of {name!r}.")


def seeds_and_cases_difference(name: str, y_true, p_a, p_b, *, positive_label, threshold: float = 0.5,
                               n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> dict[str, Any]:
    """Mean over seeds of the paired difference A - B of a :func:`score`, with a two-level bootstrap interval.

    ``p_a`` and ``p_b`` are (seeds, test images): row ``s`` holds the two
    methods' single-seed models trained on seed ``s``'s label draw. Each of
    ``n_boot`` resamples draws the test images with replacement (one draw shared
    by every seed and both methods), then the seeds with replacement, and
    recomputes the mean paired difference: the scheme of
    :func:`helpers.metrics.seeds_and_cases_bootstrap` (the AUC's), for the
    threshold rates and the ECE. Returns ``diff``, ``low``, ``high``, ``real``
    (the interval excludes 0) and ``per_seed``.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    pa, pb = np.atleast_2d(np.asarray(p_a, dtype=float)), np.atleast_2d(np.asarray(p_b, dtype=float))
    if pa.shape != pb.shape or pa.shape[0] < 2:
        raise ValueError(f"p_a and p_b must have the same shape (at least 2 seeds, images), "
                         f"got {pa.shape} and {pb.shape}.")
    y = np.asarray(y_true)
    kw = {"positive_label": positive_label, "threshold": threshold}
    per_seed = np.array([score(name, y, a, **kw) - score(name, y, b, **kw) for a, b in zip(pa, pb)])
    resamples = np.array(list(metrics.bootstrap_indices(y, n_boot=n_boot, seed=seed)))
    counts = np.zeros((n_boot, len(y)))
    np.add.at(counts, (np.arange(n_boot)[:, None], resamples), 1.0)
    is_pos = y == positive_label
    boot = np.stack([_score_of_resamples(name, is_pos, a, counts, threshold)
                     - _score_of_resamples(name, is_pos, b, counts, threshold) for a, b in zip(pa, pb)])
    picks = np.random.default_rng(seed + 1).integers(0, len(pa), size=(n_boot, len(pa)))
    diffs = np.take_along_axis(boot.T, picks, axis=1).mean(axis=1)          # (n_boot,)
    low, high = (float(v) for v in np.nanpercentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    return {"diff": float(per_seed.mean()), "low": low, "high": high, "real": bool(low > 0 or high < 0),
            "per_seed": per_seed.tolist()}


# ------------------------------------------------------------------- figures
def plot_method_comparison(summaries: dict[str, list[dict[str, Any]]],
                           names: Sequence[str] = ("sensitivity", "specificity", "auc")):
    """One row per dataset, one panel per metric: every single-seed model as a dot, each method's
    mean over seeds as a bar with its ± sd over seeds.

    Each panel's axis is fitted to its values (not to [0, 1]), so that changes
    of a few points stay visible; compare the methods *within* a panel.
    ``summaries``: ``{dataset: summarise_runs(...)}``. Returns a Figure.

    Taught in lesson 06.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(summaries), len(names), figsize=(3.6 * len(names), 2.6 * len(summaries)),
                             squeeze=False)
    jitter = np.random.default_rng(0)
    for row, (dataset, rows) in zip(axes, summaries.items()):
        for ax, name in zip(row, names):
            values = []
            for k, r in enumerate(rows):
                per_seed = np.asarray(r[f"{name}_per_seed"], dtype=float)
                values.extend(per_seed.tolist())
                ax.plot(per_seed, k + jitter.uniform(-0.18, 0.18, len(per_seed)), "o", color=f"C{k}",
                        alpha=0.35, markersize=4, label="one seed's model" if k == 0 else None)
                ax.errorbar(r[f"{name}_mean"], k, xerr=r[f"{name}_sd"], fmt="D", color=f"C{k}", markersize=7,
                            capsize=5, markeredgecolor="black", label="mean ± sd over seeds" if k == 0 else None)
            low, high = np.nanmin(values), np.nanmax(values)
            pad = max(0.02, 0.08 * (high - low))
            ax.set_xlim(max(-0.02, low - pad), min(1.02, high + pad))
            ax.set_yticks(range(len(rows)), [r["method"] for r in rows])
            ax.set_ylim(len(rows) - 0.5, -0.5)
            ax.grid(axis="x", alpha=0.3)
            ax.set_title(f"{dataset}: {'AUC' if name == 'auc' else name}", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
