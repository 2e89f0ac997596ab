"""Evaluation and open problems (lessons 05 and 06): trained models, recalibration,
class-imbalance runs, the heat-map sanity check, a simulated scanner shift, threshold tables.

- :func:`trained_classifier` is the one place a lesson gets "the" classifier of a
  dataset: its weights are cached as a ``.npz`` file named by the code, the
  dataset and the recipe, so the model is the same whether or not another lesson
  ran before (the seed is set inside; the cache only saves time).
- ``method=`` of :func:`trained_classifier` / :func:`predictions` picks plain
  training, class weights or resampling (the class-imbalance study of lesson 06);
  predictions are cached (plain data).
- Lesson 06 writes its saliency map, Grad-CAM and domain classifier in the
  notebook; :func:`randomisation_check` takes such a map function and runs the
  model-randomisation sanity check of Adebayo et al. (2018): a faithful map
  must change when the weights do.
"""
from __future__ import annotations

import helpers  # noqa: F401  (quiet TensorFlow before it loads)

import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np

from helpers import metrics
from helpers.cache import cache_dir, cache_key, cached
from helpers.recipes import Recipe
from helpers.data import Split, budget_splits, load_dataset

# The recipe of lessons 05-06: the plain small CNN (no batch norm, no augmentation),
# tiled epochs of at least 512 images, so that 30 runs (2 datasets x 3 imbalance
# methods x 5 seeds) stay within a few minutes on a laptop CPU. The epoch cap is a
# compute budget: most runs still improve slowly when they reach it (early stopping
# rarely fires), and every method gets the same budget.
@dataclass(frozen=True)
class EvalRecipe(Recipe):
    """How the classifiers of lessons 05-06 are built (:func:`helpers.models.build_cnn`) and trained.

    Used in lesson 06.
    """

    WHAT = "the recipe of lessons 05-06 (evaluation.EvalRecipe)"
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


EVAL_RECIPE = EvalRecipe()

IMBALANCE_METHODS = ("plain", "class weights", "resampling")

# Labels used for each dataset: all of BreastMNIST (546 training images), 10 % of
# PneumoniaMNIST (471), so both lessons train on a few hundred images.
DEFAULT_FRACTION = {"breastmnist": 1.0, "pneumoniamnist": 0.1}


# ------------------------------------------------------------ trained classifier
def tile_to(split: Split, min_samples: int, seed: int) -> Split:
    """Repeat a small training set (shuffled) until it has at least ``min_samples`` rows.

    With 47 labelled images and batch 64, an epoch is a single gradient step and
    early stopping halts a model that has barely moved; tiling keeps the number
    of steps per epoch sensible without changing what the model sees.

    Used in lesson 06.
    """
    reps = max(1, math.ceil(min_samples / len(split.y)))
    if reps == 1:
        return split
    idx = np.random.default_rng(seed).permutation(np.tile(np.arange(len(split.y)), reps))
    return Split(split.x[idx], split.y[idx])


def _recipe(recipe: EvalRecipe | Mapping[str, Any] | None) -> EvalRecipe:
    return EVAL_RECIPE.with_overrides(recipe)


def _fraction(dataset: str, fraction: float | None) -> float:
    return DEFAULT_FRACTION.get(dataset, 1.0) if fraction is None else float(fraction)


def _build(input_shape: Sequence[int], n_classes: int, r: EvalRecipe):
    from helpers.models import build_cnn

    return build_cnn(tuple(input_shape), n_classes, filters=r.filters, batch_norm=r.batch_norm,
                     dropout=r.dropout, weight_decay=r.weight_decay, augment=r.augment, pooling=r.pooling)


def classifier_weights_path(dataset: str, seed: int = 0, method: str = "plain", fraction: float | None = None,
                            recipe: EvalRecipe | Mapping[str, Any] | None = None):
    """Where :func:`trained_classifier` keeps the weights of these arguments (a ``.npz`` file).

    Keyed like a cached run: by the code :func:`trained_classifier` executes and its full arguments.

    Used in lesson 06.
    """
    key = cache_key(trained_classifier, dataset, seed, method, _fraction(dataset, fraction), _recipe(recipe))
    return cache_dir() / "helpers.evaluation.trained_classifier" / f"{key}.npz"


def trained_classifier(dataset: str, seed: int = 0, method: str = "plain", fraction: float | None = None,
                       recipe: EvalRecipe | Mapping[str, Any] | None = None):
    """The course CNN for ``dataset``, trained on ``fraction`` of its labels (validation scaled alike).

    ``method`` is one of :data:`IMBALANCE_METHODS`: ``"plain"`` training,
    ``"class weights"`` (loss weighted by :func:`balanced_class_weights`) or
    ``"resampling"`` (training set balanced by :func:`oversample`); validation
    keeps the natural class balance. The first call trains (seeded, early
    stopping on validation loss) and saves the weights in the course cache;
    later calls, in any lesson or process, rebuild the model and load them.
    Returns a Keras model.

    Used in lesson 06.
    """
    import keras
    from helpers.models import WeightsMismatchError, load_weights, save_weights, train_classifier

    if method not in IMBALANCE_METHODS:
        raise ValueError(f"method must be one of {IMBALANCE_METHODS}, got {method!r}.")
    r, fraction = _recipe(recipe), _fraction(dataset, fraction)
    ds = load_dataset(dataset)
    path = classifier_weights_path(dataset, seed, method, fraction, recipe)
    keras.utils.set_random_seed(seed)
    model = _build(ds.train.x.shape[1:], len(ds.label_names), r)
    if path.is_file():
        try:
            load_weights(model, path)
            return model
        except WeightsMismatchError:  # a stale or damaged file: train again
            path.unlink(missing_ok=True)
    train, val = budget_splits(ds, fraction, seed)
    weights = balanced_class_weights(train.y) if method == "class weights" else None
    if method == "resampling":
        train = oversample(train, seed)
    fit_on = tile_to(train, r.min_samples_per_epoch, seed)
    train_classifier(model, fit_on.x, fit_on.y, val.x, val.y, epochs=r.epochs, lr=r.lr,
                     batch_size=r.batch_size, patience=r.patience, class_weight=weights)
    save_weights(model, path)
    return model


@cached
def predictions(dataset: str, seed: int = 0, method: str = "plain", fraction: float | None = None,
                recipe: EvalRecipe | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validation and test predictions of :func:`trained_classifier` (plain data, cached).

    Keys: ``y_val``, ``y_test`` (labels), ``proba_val``, ``proba_test`` (every
    class), ``p_val``, ``p_test`` (the positive class's column), ``n_train``,
    ``seconds`` (prediction plus any training done by this call). The
    validation cases are the budgeted subset the model early-stopped on.

    Used in lesson 06.
    """
    from helpers.models import predict_proba

    start = time.perf_counter()
    fraction = _fraction(dataset, fraction)
    ds = load_dataset(dataset)
    model = trained_classifier(dataset, seed, method, fraction, recipe)
    train, val = budget_splits(ds, fraction, seed)
    proba_val, proba_test = predict_proba(model, val.x), predict_proba(model, ds.test.x)
    pos = ds.positive_label
    return {"dataset": dataset, "seed": seed, "method": method, "fraction": fraction,
            "n_train": int(len(train.y)), "y_val": val.y, "proba_val": proba_val, "p_val": proba_val[:, pos],
            "y_test": ds.test.y, "proba_test": proba_test, "p_test": proba_test[:, pos],
            "seconds": time.perf_counter() - start}


# ------------------------------------------------------------- recalibration
def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def fit_temperature(y_val, p_val, *, positive_label) -> float:
    """Temperature ``T`` minimising the validation log-loss of ``sigmoid(logit(p) / T)``.

    ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens them;
    the ranking (and so the AUC) never changes.

    Used in lesson 05.
    """
    from scipy.optimize import minimize_scalar

    y, p = metrics.check_inputs(y_val, p_val, positive_label)
    target, z = (y == positive_label).astype(float), _logit(p)

    def nll(log_t: float) -> float:
        q = np.clip(_sigmoid(z / np.exp(log_t)), 1e-12, 1 - 1e-12)
        return float(-np.mean(target * np.log(q) + (1 - target) * np.log(1 - q)))

    return float(np.exp(minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded").x))


def apply_temperature(p_pos, temperature: float) -> np.ndarray:
    """Probabilities ``sigmoid(logit(p_pos) / temperature)``. Used in lesson 05."""
    return _sigmoid(_logit(p_pos) / float(temperature))


def fit_platt(y_val, p_val, *, positive_label) -> tuple[float, float]:
    """Platt scaling: ``(a, b)`` of a logistic regression of the outcome on ``logit(p_val)``. Used in lesson 05."""
    from sklearn.linear_model import LogisticRegression

    y, p = metrics.check_inputs(y_val, p_val, positive_label)
    lr = LogisticRegression(C=1e6).fit(_logit(p)[:, None], (y == positive_label).astype(int))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def apply_platt(p_pos, a: float, b: float) -> np.ndarray:
    """Probabilities ``sigmoid(a * logit(p_pos) + b)``. Used in lesson 05."""
    return _sigmoid(a * _logit(p_pos) + b)


# ------------------------------------------------------------ threshold table
def threshold_table(y_true, p_pos, *, positive_label, thresholds: Iterable[float]) -> list[dict[str, float]]:
    """Counts, sensitivity, specificity, PPV and NPV at each threshold (one dict per row). Used in lesson 05."""
    rows = []
    for t in thresholds:
        kw = {"positive_label": positive_label, "threshold": float(t)}
        row = {"threshold": float(t), **metrics.confusion_counts(y_true, p_pos, **kw)}
        for name in ("sensitivity", "specificity", "ppv", "npv"):
            row[name] = getattr(metrics, name)(y_true, p_pos, **kw)
        rows.append(row)
    return rows


def format_threshold_table(rows: list[dict[str, float]]) -> str:
    """The rows of :func:`threshold_table` as a fixed-width text table. Used in lesson 05."""
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

    Used in lesson 05.
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


# ---------------------------------------------------------------- imbalance
def balanced_class_weights(y) -> dict[int, float]:
    """``n / (k * n_c)`` for each of the ``k`` classes (scikit-learn's "balanced"). Used in lesson 06."""
    y = np.asarray(y).reshape(-1)
    labels, counts = np.unique(y, return_counts=True)
    return {int(c): float(len(y) / (len(labels) * n)) for c, n in zip(labels, counts)}


def oversample(split: Split, seed: int) -> Split:
    """Random oversampling: repeat cases of the smaller classes (with replacement) up to the largest.

    Used in lesson 06.
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

    Used in lesson 06.
    """
    from tqdm.auto import tqdm

    jobs = [(d, s, m) for d in datasets for m in methods for s in seeds]
    return [predictions(*job) for job in tqdm(jobs, desc="imbalance runs (cached after the first time)",
                                              disable=not progress)]


@cached
def summarise_runs(runs: list[dict[str, Any]], positive_label: int, baseline: str = "plain",
                   n_boot: int = 500, threshold: float = 0.5) -> list[dict[str, Any]]:
    """Per method: seed-averaged test probabilities scored with bootstrap CIs, and the
    paired-bootstrap difference from ``baseline`` for each metric.

    Each row: ``method``, ``seeds``, and for ``sensitivity``, ``specificity``,
    ``auc``: ``(estimate, low, high)``, the seed spread ``<metric>_seeds`` (min, max)
    and ``<metric>_diff`` (the :func:`helpers.metrics.paired_bootstrap` dict).
    Cached: thousands of bootstrap resamples take a while on a laptop.

    Used in lesson 06.
    """
    methods = list(dict.fromkeys(r["method"] for r in runs))
    y = runs[0]["y_test"]
    avg = {m: np.mean([r["p_test"] for r in runs if r["method"] == m], axis=0) for m in methods}
    scorers = {"sensitivity": (metrics.sensitivity, {"threshold": threshold}),
               "specificity": (metrics.specificity, {"threshold": threshold}),
               "auc": (metrics.roc_auc, {})}
    rows = []
    for m in methods:
        row: dict[str, Any] = {"method": m, "seeds": sum(r["method"] == m for r in runs)}
        for name, (fn, kw) in scorers.items():
            row[name] = metrics.bootstrap_ci(fn, y, avg[m], positive_label=positive_label,
                                             n_boot=n_boot, seed=0, **kw)
            per_seed = [fn(y, r["p_test"], positive_label=positive_label, **kw)
                        for r in runs if r["method"] == m]
            row[f"{name}_seeds"] = (float(np.min(per_seed)), float(np.max(per_seed)))
            if m != baseline and baseline in avg:
                row[f"{name}_diff"] = metrics.paired_bootstrap(fn, y, avg[m], avg[baseline],
                                                               positive_label=positive_label,
                                                               n_boot=n_boot, seed=0, **kw)
        rows.append(row)
    return rows


# ------------------------------------------------------- saliency and Grad-CAM
# Lesson 06 writes the saliency map and Grad-CAM itself (tf.GradientTape on the
# class score); these are the plumbing around them and the sanity check.
def last_conv_layer(model) -> str:
    """Name of the base's last ReLU (the last convolutional feature maps before pooling). Used in lesson 06."""
    return [lyr.name for lyr in model.get_layer("base").layers if lyr.name.endswith("_relu")][-1]


def last_conv_split(model):
    """The base of a :func:`helpers.models.build_cnn` model cut after :func:`last_conv_layer`.

    Returns two functions: ``to_maps(x)``, images -> the last convolutional
    feature maps (N, h, w, channels), and ``to_features(maps)``, those maps ->
    the pooled features the head reads; ``to_features(to_maps(x))`` is the
    base's output. Grad-CAM (lesson 06) differentiates the class score with
    respect to the maps between the two.

    Used in lesson 06.
    """
    import tensorflow as tf

    layers = model.get_layer("base").layers
    cut = [lyr.name for lyr in layers].index(last_conv_layer(model)) + 1

    def run(stack, h):
        for lyr in stack:
            h = lyr(h, training=False)
        return h

    def to_maps(x):
        return run(layers[:cut], tf.convert_to_tensor(np.asarray(x, dtype=np.float32)))

    def to_features(maps):
        return run(layers[cut:], maps)

    return to_maps, to_features


def randomised_copy(model, seed: int = 0):
    """The same architecture with freshly initialised (random) weights. Used in lesson 06."""
    import keras

    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)
    return clone


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between maps ``a[i]`` and ``b[i]`` (one value per image).

    nan where either map is constant (a blank map has no ranking to compare).
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(a).reshape(len(a), -1), np.asarray(b).reshape(len(b), -1)
    out = []
    for u, v in zip(a, b):
        if np.ptp(u) == 0 or np.ptp(v) == 0:
            out.append(float("nan"))
        else:
            out.append(float(spearmanr(u, v).statistic))
    return np.array(out)


def randomisation_check(model, x, class_index: int, explain, compare=None, seed: int = 0) -> dict[str, Any]:
    """Model-randomisation sanity check (Adebayo et al. 2018): maps of the trained model vs a
    randomly initialised copy (:func:`randomised_copy` with ``seed``).

    ``explain(model, x, class_index)`` returns one heat map per image, (N, H, W)
    (lesson 06 passes its own saliency map or Grad-CAM). Returns the ``trained``
    and ``random`` maps, ``rank_correlation`` per image and ``blank`` (the random
    model's maps that are constant). The correlation is computed on the maps of
    ``compare`` (default: ``explain``): Grad-CAM is compared *before* its final
    ReLU, since a random model's evidence is often negative everywhere and its
    ReLU map blank. A map that barely changes (correlation near 1) shows the
    input's edges, not what the model learned.

    Used in lesson 06.
    """
    if not callable(explain) or (compare is not None and not callable(compare)):
        raise TypeError("explain (and compare) must be functions (model, x, class_index) -> maps (N, H, W).")
    compare = compare or explain
    rand_model = randomised_copy(model, seed)
    trained, rand = np.asarray(explain(model, x, class_index)), np.asarray(explain(rand_model, x, class_index))
    if trained.shape != (len(x), *np.shape(x)[1:3]):
        raise ValueError(f"explain must return one (H, W) map per image, shape {(len(x), *np.shape(x)[1:3])}; "
                         f"got {trained.shape}.")
    if compare is explain:
        rho = _rank_correlation(trained, rand)
    else:
        rho = _rank_correlation(compare(model, x, class_index), compare(rand_model, x, class_index))
    blank = np.ptp(rand.reshape(len(rand), -1), axis=1) == 0
    return {"trained": trained, "random": rand, "rank_correlation": rho, "blank": blank}


# ------------------------------------------------------------- dataset shift
def scanner_shift(x: np.ndarray, gamma: float = 0.6, contrast: float = 0.7, noise: float = 0.03,
                  seed: int = 0) -> np.ndarray:
    """Simulate images from another scanner: gamma and contrast change plus sensor noise. Used in lesson 06."""
    rng = np.random.default_rng(seed)
    y = np.power(np.clip(x, 0, 1), gamma)
    y = 0.5 + contrast * (y - y.mean(axis=(1, 2, 3), keepdims=True))
    return np.clip(y + rng.normal(0, noise, y.shape), 0, 1).astype(np.float32)


# ------------------------------------------------------ exercise diagnostics
def diagnose_sens_spec(got, y_true, p_pos, positive_label, threshold: float) -> str:
    """Explain a wrong ``(sensitivity, specificity)`` answer by the usual mistakes.

    Compares ``got`` with what each classic slip would produce (sensitivity and
    specificity swapped, the other class taken as positive, ``>`` for ``>=``,
    labels and predictions swapped) and names the first that matches.

    Used in lesson 05.
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


# ------------------------------------------------------------------- figures
def plot_method_comparison(summaries: dict[str, list[dict[str, Any]]],
                           names: Sequence[str] = ("sensitivity", "specificity", "auc")):
    """One row per dataset, one panel per metric: each method's seed-averaged value
    with its bootstrap 95 % CI (bar), and the range over seeds (grey).

    ``summaries``: ``{dataset: summarise_runs(...)}``. Returns a Figure.

    Used in lesson 06.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(summaries), len(names), figsize=(3.6 * len(names), 2.6 * len(summaries)),
                             squeeze=False)
    for row, (dataset, rows) in zip(axes, summaries.items()):
        for ax, name in zip(row, names):
            for k, r in enumerate(rows):
                est, lo, hi = r[name]
                smin, smax = r[f"{name}_seeds"]
                ax.plot([smin, smax], [k, k], color="0.75", linewidth=6, solid_capstyle="butt",
                        label="range over seeds" if k == 0 else None)
                ax.errorbar(est, k, xerr=[[est - lo], [hi - est]], fmt="o", color=f"C{k}", capsize=4,
                            label="seed-averaged, 95 % CI" if k == 0 else None)
            ax.set_yticks(range(len(rows)), [r["method"] for r in rows])
            ax.set_xlim(-0.02, 1.02)
            ax.invert_yaxis()
            ax.grid(axis="x", alpha=0.3)
            ax.set_title(f"{dataset}: {'AUC' if name == 'auc' else name}", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_maps(images: np.ndarray, columns: dict[str, np.ndarray], titles: Sequence[str] | None = None):
    """Images (first column) and heat maps overlaid on them (one column per entry of ``columns``).

    ``images``: (N, H, W, 1) in [0, 1]; each map: (N, H, W) in [0, 1]. Returns a Figure.

    Used in lesson 06.
    """
    import matplotlib.pyplot as plt

    n, ncols = len(images), 1 + len(columns)
    fig, axes = plt.subplots(n, ncols, figsize=(2.1 * ncols, 2.1 * n + 0.3), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(images[i, ..., 0], cmap="gray", vmin=0, vmax=1)
        axes[i, 0].set_title(titles[i] if titles is not None else "image", fontsize=8)
        for j, (name, maps) in enumerate(columns.items(), start=1):
            axes[i, j].imshow(images[i, ..., 0], cmap="gray", vmin=0, vmax=1)
            axes[i, j].imshow(maps[i], cmap="jet", alpha=0.45, vmin=0, vmax=1)
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.tight_layout()
    return fig
