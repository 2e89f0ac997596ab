"""Cached from-scratch runs on a fraction of the labels (lesson 06's imbalance study builds on them).

Lessons 01 and 04 use :mod:`helpers.curves` (label budgets as counts, seeds
trained in one compiled model); this module keeps the fraction-based runs.

Each run is deterministic for its arguments and goes through the course cache
(:mod:`helpers.cache`), so a lesson executed a second time, an nbgrader pass
or a workshop after ``make prepare`` reads results instead of training.
A run returns plain data: test labels, test probabilities, and how it went.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np

from helpers.cache import cached
from helpers.recipes import with_overrides
from helpers.data import budget_splits, load_dataset, Split

R = TypeVar("R")

# The plain small CNN used when a lesson says "from scratch" without a recipe.
PLAIN_RECIPE: dict[str, Any] = {
    "filters": (16, 32, 64), "batch_norm": False, "dropout": 0.3, "weight_decay": 0.0,
    "augment": False, "lr": 2e-3, "batch_size": 64, "epochs": 10, "patience": 3,
    "min_samples_per_epoch": 1024, "pooling": "gap",
}


def tile_to(split: Split, min_samples: int, seed: int) -> Split:
    """Repeat a small training set (shuffled) until it has at least ``min_samples`` rows.

    With 47 labelled images and batch 64, an epoch is a single gradient step and
    early stopping halts a model that has barely moved; tiling keeps the number
    of steps per epoch sensible without changing what the model sees.
    """
    reps = max(1, math.ceil(min_samples / len(split.y)))
    if reps == 1:
        return split
    idx = np.random.default_rng(seed).permutation(np.tile(np.arange(len(split.y)), reps))
    return Split(split.x[idx], split.y[idx])


@cached
def run_scratch(dataset: str, fraction: float, seed: int, recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train a CNN from scratch on a label budget of ``dataset``; predict its test split.

    ``fraction`` of the training labels and the same fraction of the validation
    labels (stratified, seeded) are used; early stopping watches validation loss.
    """
    import keras
    from helpers.models import build_cnn, predict_proba, train_classifier

    r = with_overrides(PLAIN_RECIPE, recipe, name="the from-scratch CNN recipe (experiments.PLAIN_RECIPE)")
    ds = load_dataset(dataset)
    train, val = budget_splits(ds, fraction, seed)
    keras.utils.set_random_seed(seed)
    model = build_cnn(ds.train.x.shape[1:], len(ds.label_names), filters=r["filters"],
                      batch_norm=r["batch_norm"], dropout=r["dropout"],
                      weight_decay=r["weight_decay"], augment=r["augment"], pooling=r["pooling"])
    fit_on = tile_to(train, r["min_samples_per_epoch"], seed)
    start = time.perf_counter()
    history = train_classifier(model, fit_on.x, fit_on.y, val.x, val.y, epochs=r["epochs"],
                               lr=r["lr"], batch_size=r["batch_size"], patience=r["patience"])
    return {
        "dataset": dataset, "fraction": fraction, "seed": seed, "recipe": r,
        "n_train": int(len(train.y)), "n_val": int(len(val.y)),
        "epochs": len(history.history["loss"]), "seconds": time.perf_counter() - start,
        "history": history.history,
        "y_test": ds.test.y, "proba_test": predict_proba(model, ds.test.x),
        "proba_val": predict_proba(model, val.x), "y_val": val.y,
    }


def run_all(run: Callable[..., R], jobs: Sequence[tuple[Any, ...]], desc: str, progress: bool = True) -> list[R]:
    """``run(*job)`` for every job in order, with one progress bar: the loop behind every sweep.

    Used by :func:`helpers.transfer.tuned_sweep` and :func:`helpers.evaluation.imbalance_study` (lesson 06); ``run`` is a cached run, so a
    second pass only reads the cache.
    """
    from tqdm.auto import tqdm

    return [run(*job) for job in tqdm(jobs, desc=f"{desc} (cached after the first time)", disable=not progress)]


def seed_average(runs: list[dict[str, Any]], column: int) -> np.ndarray:
    """Mean over seeds of each test case's probability for class ``column``."""
    return np.mean([r["proba_test"][:, column] for r in runs], axis=0)

