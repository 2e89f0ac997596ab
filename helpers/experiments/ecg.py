"""ECG beats for lesson 03: resampling, splits, augmentation, cached pretraining and fine-tuning.

ECG200 (100 train / 100 test beats of length 96, myocardial infarction vs
normal) is the target task; ECG5000's 500 training beats (length 140, five
beat classes) are the source task, resampled to 96 samples so one recurrent
encoder reads both. Every training run goes through the course cache, so a
lesson executed a second time reads results instead of training.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import numpy as np

from helpers import progress
from helpers.cache import cached
from helpers.recipes import Recipe
from helpers.data import EcgRecord, Split, load_dataset, stratified_budget

LENGTH = 96
"""Common beat length: ECG200's own length; ECG5000's 140 samples are resampled to it."""



@dataclass(frozen=True)
class RnnRecipe(Recipe):
    """The recurrent classifier of lesson 03 (its architecture, :meth:`arch`) and how it trains on ECG200.

    Settings are chosen on the validation beats cut from ECG200's training split, never on its test split.

    No lesson calls it directly (lessons reach it through other helpers).
    """

    WHAT = "the ECG200 recipe (ecg.RnnRecipe)"
    cell: Literal["simple", "gru", "lstm"] = "gru"
    units: int = 32
    n_layers: int = 1
    conv_front: bool = True
    filters: int = 32
    pool: int = 4
    readout: Literal["last", "mean", "all"] = "all"
    dropout: float = 0.5
    lr: float = 2e-3
    batch_size: int = 64
    epochs: int = 60
    augment: int = 8

    def arch(self) -> dict[str, Any]:
        """The architecture settings, as keyword arguments of :func:`build_ecg_rnn`."""
        return {k: getattr(self, k) for k in ("cell", "units", "n_layers", "conv_front", "filters", "pool", "readout")}


RNN_RECIPE = RnnRecipe()
"""Lesson 03's recurrent classifier: a Conv1D front end, one GRU layer, every state to the head."""


@dataclass(frozen=True)
class PretrainRecipe(Recipe):
    """How the encoder is pretrained on ECG5000's five beat classes (early stopping on a held-out fifth).

    No lesson calls it directly (lessons reach it through other helpers).
    """

    WHAT = "the ECG5000 pretraining recipe (ecg.PretrainRecipe)"
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 30
    patience: int = 6
    augment: int = 0


PRETRAIN_RECIPE = PretrainRecipe()


# ----------------------------------------------------------------- preprocessing
def resample(x: np.ndarray, length: int = LENGTH) -> np.ndarray:
    """Linearly resample beats of shape (N, T) or (N, T, 1) to ``length`` samples (float32, (N, length, 1)).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        if x.shape[2] != 1:
            raise ValueError(f"expected one lead, (N, T, 1); got {x.shape}")
        x = x[..., 0]
    if x.ndim != 2:
        raise ValueError(f"beats must be (N, T) or (N, T, 1); got {x.shape}")
    old = np.linspace(0.0, 1.0, x.shape[1])
    new = np.linspace(0.0, 1.0, length)
    out = np.stack([np.interp(new, old, row) for row in x]) if len(x) else np.zeros((0, length))
    return out.astype(np.float32)[..., None]


def znorm(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Z-normalise every beat on its own (mean 0, std 1 along time), as the UCR archive does. No lesson calls it directly (lessons reach it through other helpers)."""
    x = np.asarray(x, dtype=np.float32)
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    return (x - mean) / (std + eps)


def ecg200_splits(seed: int = 0, n_val: int = 20) -> tuple[Split, Split, Split]:
    """ECG200 as (train, val, test): ``n_val`` validation beats cut, stratified and seeded, from the 100 training beats.

    Taught in lesson 03.
    """
    ds = load_dataset("ecg200")
    n = len(ds.train.y)
    if not 0 < n_val < n:
        raise ValueError(f"n_val must be between 1 and {n - 1}, got {n_val}")
    val_idx = stratified_budget(ds.train.y, fraction=n_val / n, seed=seed)
    mask = np.zeros(n, dtype=bool)
    mask[val_idx] = True
    return (Split(ds.train.x[~mask], ds.train.y[~mask]), Split(ds.train.x[mask], ds.train.y[mask]), ds.test)


def budget_draw(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded, stratified draw of exactly ``n`` of the beats labelled ``y`` (lesson 03's budgets).

    Each class gets its share of ``n`` in proportion to its count (largest
    remainders round, every class at least one beat); the beats within a class
    are the first of a permutation seeded by ``seed``, so at one seed a smaller
    budget's beats are among a larger one's. The draw depends on ``y``,
    ``n`` and ``seed`` only: scratch and transfer at one seed get the same beats.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    y = np.asarray(y).reshape(-1)
    classes, counts = np.unique(y, return_counts=True)
    if not len(classes) <= n <= len(y):
        raise ValueError(f"a budget must hold between {len(classes)} beats (one per class) and all {len(y)}; got {n}")
    share = n * counts / counts.sum()
    k = np.maximum(1, np.floor(share).astype(int))
    for c in np.argsort(-(share - np.floor(share)), kind="stable"):  # largest remainders first
        if k.sum() >= n:
            break
        if k[c] < counts[c]:
            k[c] += 1
    while k.sum() > n:  # only when the one-per-class floor overshot: take from the largest class
        k[np.argmax(k)] -= 1
    rng = np.random.default_rng([int(seed), 7919])  # a stream apart from the validation cut's
    chosen = [rng.permutation(np.flatnonzero(y == c))[:kc] for c, kc in zip(classes, k)]
    return np.sort(np.concatenate(chosen))


def ecg5000_beats(length: int = LENGTH) -> Split:
    """ECG5000's 500 training beats resampled to ``length`` and z-normalised; labels 0-4. Taught in lesson 03."""
    ds = load_dataset("ecg5000")
    return Split(znorm(resample(ds.train.x, length)), ds.train.y - ds.train.y.min())


def augment(x: np.ndarray, y: np.ndarray, copies: int, seed: int,
            scale: float = 0.1, shift: int = 3, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The beats plus ``copies`` randomly perturbed copies of each.

    A perturbed copy is scaled in amplitude by up to ``scale``, shifted in
    time by up to ``shift`` samples (edge values repeated) and gets Gaussian
    noise of standard deviation ``noise``: changes that do not alter the diagnosis.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    x = np.asarray(x, dtype=np.float32)
    if copies <= 0:
        return x, np.asarray(y)
    rng = np.random.default_rng(seed)
    out_x, out_y = [x], [np.asarray(y)]
    t = np.arange(x.shape[1])
    for _ in range(copies):
        s = rng.integers(-shift, shift + 1, size=len(x))
        idx = np.clip(t[None, :] - s[:, None], 0, x.shape[1] - 1)
        shifted = np.take_along_axis(x, idx[..., None], axis=1)
        amp = 1.0 + rng.uniform(-scale, scale, size=(len(x), 1, 1))
        out_x.append((shifted * amp + rng.normal(0, noise, size=x.shape)).astype(np.float32))
        out_y.append(np.asarray(y))
    return np.concatenate(out_x), np.concatenate(out_y)


# ------------------------------------------------------------------ MIT-BIH beats
def beat_windows(record: EcgRecord, before: float = 0.25, after: float = 0.45, lead: int = 0,
                 symbols: tuple[str, ...] = ("N", "L", "R", "A", "a", "J", "S", "V", "F", "e", "j", "E", "/", "f", "Q"),
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut one window per annotated beat around its R peak: (windows, symbols, R-peak samples).

    Windows run from ``before`` seconds before to ``after`` seconds after the
    peak; beats too close to the record's ends and non-beat annotations
    (rhythm changes, noise marks) are skipped.

    Taught in lesson 03.
    """
    b, a = int(round(before * record.fs)), int(round(after * record.fs))
    sig = record.signal[:, lead]
    keep = [i for i, (s, sym) in enumerate(zip(record.beat_samples, record.beat_symbols))
            if sym in symbols and s - b >= 0 and s + a <= len(sig)]
    peaks = record.beat_samples[keep]
    windows = np.stack([sig[p - b:p + a] for p in peaks]) if keep else np.zeros((0, a + b), np.float32)
    return windows.astype(np.float32), record.beat_symbols[keep], peaks


# ----------------------------------------------------------------- cached training
def _encoder(copies: int, cell: str, units: int, n_layers: int, conv_front: bool, filters: int, pool: int,
             readout: str, length: int):
    """The ``encoder`` sub-model of :func:`build_ecg_rnn`; ``copies`` > 1 makes every layer that many times
    wider, with one input channel per copy (:func:`build_stacked_rnn` keeps the copies apart)."""
    import keras
    from keras import layers

    cells = {"simple": layers.SimpleRNN, "gru": layers.GRU, "lstm": layers.LSTM}
    if cell not in cells:
        raise ValueError(f"cell must be one of {sorted(cells)}, got {cell!r}.")
    if readout not in ("last", "mean", "all"):
        raise ValueError(f"readout must be 'last', 'mean' or 'all', got {readout!r}.")
    stack = [keras.Input((length, copies))]
    if conv_front:
        stack += [layers.Conv1D(copies * filters, 7, padding="same", activation="relu", name="front_conv"),
                  layers.MaxPooling1D(pool, name="front_pool")]
    for i in range(1, n_layers + 1):
        stack.append(cells[cell](copies * units, return_sequences=i < n_layers or readout != "last", name=f"rnn{i}"))
    if readout == "mean":
        stack.append(layers.GlobalAveragePooling1D(name="mean_state"))
    elif readout == "all":
        stack.append(layers.Flatten(name="all_states"))
    return keras.Sequential(stack, name="encoder")


def build_ecg_rnn(n_classes: int = 2, cell: str = "gru", units: int = 32, n_layers: int = 1,
                  conv_front: bool = True, filters: int = 32, pool: int = 4, readout: str = "last",
                  dropout: float = 0.2, length: int = LENGTH, name: str = "ecg_rnn"):
    """Recurrent beat classifier: [Conv1D(7) -> ReLU -> MaxPool(pool)] -> stacked RNN -> dropout -> softmax.

    ``readout="last"`` feeds the head the last hidden state; ``"mean"`` the
    average of the top layer's hidden states over all steps; ``"all"`` every
    step's hidden state side by side (24 x 32 numbers), so the head can see
    *when* in the beat something happened, as the nearest-neighbour baseline does.

    The part before the head is a sub-model named ``encoder`` (what is pretrained
    and transferred). The convolutional front end shortens the sequence the
    RNN has to read by ``pool`` (96 -> 24 steps), which makes it faster and
    easier to train on 80 beats.

    Taught in lesson 03.
    """
    import keras
    from keras import layers

    encoder = _encoder(1, cell, units, n_layers, conv_front, filters, pool, readout, length)
    inputs = keras.Input((length, 1), name="beat")
    x = layers.Dropout(dropout, name="dropout")(encoder(inputs))
    outputs = layers.Dense(n_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


@cached
def pretrain_encoder(arch: dict[str, Any], seed: int = 0,
                     recipe: PretrainRecipe | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Pretrain a recurrent classifier on ECG5000's five beat classes; return its encoder weights.

    A stratified fifth of the 500 beats is held out for early stopping. The
    result is plain data: ``encoder_weights`` (list of arrays, in the order of
    ``encoder.get_weights()``), the held-out accuracy and the training history.

    Taught in lesson 03.
    """
    import keras
    from helpers.models import train_classifier

    r = PRETRAIN_RECIPE.with_overrides(recipe)
    src = ecg5000_beats()
    hold = stratified_budget(src.y, fraction=0.2, seed=seed)
    mask = np.zeros(len(src.y), dtype=bool)
    mask[hold] = True
    x, y = augment(src.x[~mask], src.y[~mask], r.augment, seed)
    keras.utils.set_random_seed(seed)
    model = build_ecg_rnn(n_classes=5, dropout=0.2, name="source", **arch)
    start = time.perf_counter()
    history = train_classifier(model, x, y, src.x[mask], src.y[mask], epochs=r.epochs, lr=r.lr,
                               batch_size=r.batch_size, patience=r.patience)
    proba = model.predict(src.x[mask], verbose=0)
    return {
        "encoder_weights": [np.asarray(w) for w in model.get_layer("encoder").get_weights()],
        "holdout_accuracy": float(np.mean(proba.argmax(1) == src.y[mask])),
        "n_train": int(len(y)), "n_holdout": int(mask.sum()), "epochs": len(history.history["loss"]),
        "seconds": time.perf_counter() - start, "history": history.history,
    }


# ------------------------------------------------- several seeds trained as one model
def _seed_index(n_seeds: int, width: int, groups: int, s: int) -> np.ndarray:
    """Where entry j of seed s goes in a layer ``n_seeds`` times wider: block g = j // width of
    ``groups`` (gates, or time steps) holds all seeds side by side, ``width`` entries each."""
    j = np.arange(groups * width)
    return (j // width) * n_seeds * width + s * width + j % width


def _weight_layouts(single) -> list[tuple[tuple[int, int] | None, tuple[int, int]]]:
    """For each array of ``single.get_weights()``: (rows, columns) as (width, groups); rows None for biases."""
    layouts: list[tuple[tuple[int, int] | None, tuple[int, int]]] = []
    units = 1
    for layer in single.get_layer("encoder").layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if hasattr(layer, "cell"):  # recurrent: kernel (in, G*H), recurrent kernel (H, G*H), bias (..., G*H)
            units = layer.units
            gates = ws[1].shape[1] // units
            layouts += [((ws[0].shape[0], 1), (units, gates)), ((units, 1), (units, gates)), (None, (units, gates))]
        else:  # Conv1D: kernel (k, in, out), bias (out,)
            layouts += [((ws[0].shape[1], 1), (ws[0].shape[2], 1)), (None, (ws[0].shape[2], 1))]
    kernel = single.get_layer("head").get_weights()[0]  # (steps * H, classes): every step's H states
    layouts += [((units, kernel.shape[0] // units), (kernel.shape[1], 1)), (None, (kernel.shape[1], 1))]
    return layouts


def _stack_array(arrays: list[np.ndarray], layout) -> np.ndarray:
    rows, cols = layout
    n = len(arrays)
    shape = list(arrays[0].shape)
    shape[-1] *= n
    if rows is not None:
        shape[-2] *= n
    out = np.zeros(shape, np.float32)
    for s, a in enumerate(arrays):
        c = _seed_index(n, *cols, s)
        if rows is None:
            out[..., c] = a
        else:
            out[..., _seed_index(n, *rows, s)[:, None], c] = a
    return out


def _unstack_array(array: np.ndarray, layout, n_seeds: int, s: int) -> np.ndarray:
    rows, cols = layout
    c = _seed_index(n_seeds, *cols, s)
    return array[..., c] if rows is None else array[..., _seed_index(n_seeds, *rows, s)[:, None], c]


def build_stacked_rnn(n_seeds: int, n_classes: int = 2, cell: str = "gru", units: int = 32, n_layers: int = 1,
                      conv_front: bool = True, filters: int = 32, pool: int = 4, readout: str = "last",
                      dropout: float = 0.2, length: int = LENGTH):
    """``n_seeds`` independent copies of :func:`build_ecg_rnn` side by side in one Keras model.

    Input ``(N, length, n_seeds)``: channel s is seed s's beat; output
    ``(N, n_seeds, n_classes)``. Every layer is ``n_seeds`` times wider with
    block-diagonal weights (a constraint zeroes the rest after every update),
    so seed s's output depends on seed s's weights and input only: fitting it
    trains ``n_seeds`` separate models in one graph, about 2x faster on a
    2-core CPU than one after the other. Move weights in and out with
    :func:`stack_weights` and :func:`unstack_weights`.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    import keras
    from keras import layers

    single = build_ecg_rnn(n_classes, cell, units, n_layers, conv_front, filters, pool, readout, dropout, length)
    # (one copy's weight shapes give the block layout of every weight array)
    encoder = _encoder(n_seeds, cell, units, n_layers, conv_front, filters, pool, readout, length)
    inputs = keras.Input((length, n_seeds), name="beats")
    x = layers.Dropout(dropout, name="dropout")(encoder(inputs))
    x = layers.Reshape((n_seeds, n_classes), name="per_seed")(layers.Dense(n_seeds * n_classes, name="head")(x))
    model = keras.Model(inputs, layers.Softmax(name="softmax")(x), name=f"{n_seeds}_seeds_stacked")
    model.seed_layouts = _weight_layouts(single)
    for var, w, layout in zip(model.weights, single.get_weights(), model.seed_layouts):
        if layout[0] is not None:  # kernels: keep them block-diagonal
            mask = _stack_array([np.ones_like(w)] * n_seeds, layout)
            var.constraint = lambda v, m=mask: v * m
            var.assign(var.constraint(var))
    return model


def stack_weights(model, per_seed: list[list[np.ndarray]]) -> None:
    """Load one :func:`build_ecg_rnn` model's ``get_weights()`` per seed into a :func:`build_stacked_rnn` model.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    model.set_weights([_stack_array([w[i] for w in per_seed], layout) for i, layout in enumerate(model.seed_layouts)])


def unstack_weights(model, n_seeds: int, s: int) -> list[np.ndarray]:
    """Seed s's weights from a :func:`build_stacked_rnn` model, ready for ``build_ecg_rnn(...).set_weights``.

    No lesson uses it: it takes one seed out of lesson 03's stacked model, and its test checks
    that the stacked seeds are the separate models they stand for.
    """
    return [_unstack_array(w, layout, n_seeds, s) for w, layout in zip(model.get_weights(), model.seed_layouts)]


@cached
def run_ecg200(recipe: RnnRecipe | Mapping[str, Any] | None = None, seeds: tuple[int, ...] | list[int] = (0,),
               pretrained: bool = False, pretrain_seed: int = 0, budget: int | None = None) -> list[dict[str, Any]]:
    """Train the recurrent classifier on ECG200 once per seed; predict each seed's validation beats and the test beats.

    A seed fixes the 20 validation beats cut from the training split, the
    augmentation and the initial weights. ``budget=n`` trains every seed on a
    stratified draw of n of its 80 training beats (:func:`budget_draw`, seeded
    by the seed: the same beats for scratch and transfer at one seed, other
    beats at another seed); ``None`` uses all 80. ``pretrained=True`` starts every
    seed's encoder from :func:`pretrain_encoder` (ECG5000, same architecture)
    and fine-tunes every weight; otherwise from random weights. Each seed's
    model starts exactly where ``build_ecg_rnn`` seeded with it would; all
    seeds then train side by side as one :func:`build_stacked_rnn` model for a
    fixed number of epochs. Returns one result per seed.

    Taught in lesson 03.
    """
    import keras

    r = RNN_RECIPE.with_overrides(recipe)
    seeds = [int(s) for s in seeds]
    n = len(seeds)
    splits = [ecg200_splits(s) for s in seeds]
    drawn = [np.arange(len(tr.y)) if budget is None else budget_draw(tr.y, int(budget), s)
             for s, (tr, _, _) in zip(seeds, splits)]
    splits = [(Split(tr.x[d], tr.y[d]), va, te) for d, (tr, va, te) in zip(drawn, splits)]
    source = pretrain_encoder(r.arch(), pretrain_seed) if pretrained else None
    xs, ys, start_weights = [], [], []
    for s, (train, _, _) in zip(seeds, splits):
        x, y = augment(train.x, train.y, r.augment, s)
        order = np.random.default_rng(s).permutation(len(y))  # own order per seed; fit shuffles all alike
        xs.append(x[order, :, 0])
        ys.append(y[order])
        keras.utils.set_random_seed(s)
        model = build_ecg_rnn(n_classes=2, dropout=r.dropout, **r.arch())
        if source is not None:
            model.get_layer("encoder").set_weights(source["encoder_weights"])
        start_weights.append(model.get_weights())
    if len({len(y) for y in ys}) != 1:
        raise ValueError("every seed must have the same number of training beats to train side by side")
    keras.utils.set_random_seed(seeds[0])
    stacked = build_stacked_rnn(n, n_classes=2, dropout=r.dropout, **r.arch())
    stack_weights(stacked, start_weights)
    stacked.compile(optimizer=keras.optimizers.Adam(r.lr), loss="sparse_categorical_crossentropy",
                    steps_per_execution=4)  # 4 batches per call into TensorFlow: about 20 % faster on a CPU
    start = time.perf_counter()
    family = "transfer" if pretrained else "scratch"
    bar = progress.epochs(r.epochs, f"{n} seeds side by side, {family}, {len(drawn[0])} beats")
    history = stacked.fit(np.stack(xs, axis=-1), np.stack(ys, axis=-1), epochs=r.epochs,
                          batch_size=r.batch_size, shuffle=True, verbose=0, callbacks=[bar])
    seconds = time.perf_counter() - start
    test = splits[0][2]
    x_val = np.stack([v.x[..., 0] for _, v, _ in splits], axis=-1)  # each seed's own validation beats
    proba = stacked.predict(np.concatenate([x_val, np.repeat(test.x, n, axis=-1)]), verbose=0)
    proba_val, proba_test = proba[:len(x_val)], proba[len(x_val):]
    return [{
        "recipe": r.as_dict(), "seed": s, "pretrained": pretrained, "budget": budget, "n_train": int(len(train.y)),
        "train_index": drawn[i],
        "source_holdout_accuracy": None if source is None else source["holdout_accuracy"],
        "epochs": r.epochs, "seconds": seconds / n, "train_loss": history.history["loss"],
        "y_val": val.y, "proba_val": proba_val[:, i], "y_test": test.y, "proba_test": proba_test[:, i],
    } for i, (s, (train, val, _)) in enumerate(zip(seeds, splits))]


@cached
def bootstrap_report(y_true: np.ndarray, scores: dict[str, np.ndarray], pairs: list[tuple[str, str]],
                     positive_label: int = 1, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Accuracy and ROC-AUC with bootstrap CIs for each model, and paired bootstraps of model pairs.

    ``scores`` maps a model name to its scores for the positive class on the
    test cases; ``pairs`` lists (A, B) names to compare as A - B. Cached,
    because thousands of resampled AUCs take a while on a CPU.

    Taught in lesson 03.
    """
    from helpers import metrics

    chosen = (metrics.accuracy, metrics.roc_auc)
    ci = {name: {m.__name__: metrics.bootstrap_ci(m, y_true, p, positive_label=positive_label,
                                                   n_boot=n_boot, seed=seed) for m in chosen}
          for name, p in scores.items()}
    paired = [{"a": a, "b": b, "metric": m.__name__,
               **metrics.paired_bootstrap(m, y_true, scores[a], scores[b], positive_label=positive_label,
                                          n_boot=n_boot, seed=seed)}
              for a, b in pairs for m in chosen]
    return {"ci": ci, "paired": paired}
