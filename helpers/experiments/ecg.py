"""Lesson 03's cached ECG runs: pretraining on ECG5000, fine-tuning and scratch on ECG200, their report.

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
from helpers.data import Split, draw_labels
from helpers.experiments.stacking import build_stacked_rnn, stack_weights
from helpers.models import build_ecg_rnn
from helpers.signals import augment, ecg200_splits, ecg5000_beats



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
    hold = draw_labels(src.y, fraction=0.2, seed=seed)
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


@cached
def run_ecg200(recipe: RnnRecipe | Mapping[str, Any] | None = None, seeds: tuple[int, ...] | list[int] = (0,),
               pretrained: bool = False, pretrain_seed: int = 0, budget: int | None = None) -> list[dict[str, Any]]:
    """Train the recurrent classifier on ECG200 once per seed; predict each seed's validation beats and the test beats.

    A seed fixes the 20 validation beats cut from the training split, the
    augmentation and the initial weights. ``budget=n`` trains every seed on a
    stratified draw of n of its 80 training beats (:func:`helpers.data.draw_labels`,
    nested and seeded by the seed: the same beats for scratch and transfer at one seed, other
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
    drawn = [np.arange(len(tr.y)) if budget is None else draw_labels(tr.y, int(budget), seed=s)
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
