"""Label-budget curves: pretraining vs the best from-scratch recipe, paired by seed (lessons 01, 04, 05, 06).

The course's main experiment, under the statistics protocol of ``docs/protocol.md``:

- A budget of ``n`` labels is one seeded, stratified draw of ``n`` labelled
  training images and a validation set scaled the same way
  (:func:`helpers.data.label_splits`, nested: at one seed the 10 labels are among the 20,
  the 20 among the 50, ...). Every method gets the **same draw at the same seed**.
- Budgets are :data:`BUDGETS` (``None`` = every training label), each with the
  same :data:`SEEDS` (10).
- "Scratch" is the best of :data:`SCRATCH_RECIPES`, "pretrained" the best of
  :data:`TRANSFER_RECIPES` on a source model (``simclr_chest`` unless another
  ``source`` is named). Each family's recipe is chosen **once**, on validation
  AUC at :data:`SELECTION_BUDGET` labels, by the rule of :func:`choose`
  (the simplest recipe within one standard error of the best), and used at every budget.
- Every run trains until it stops improving (:func:`steps_for`): the number of
  steps grows with the budget, validation AUC is recorded at
  :data:`Training.checkpoints` points, and where the validation set holds at
  least :data:`Training.min_val_to_stop` images each seed keeps its best
  checkpoint and training ends once no seed has improved for
  :data:`Training.patience` checkpoints (early stopping). Smaller validation
  sets are too small to stop on: those runs keep their last checkpoint.
- What a comparison measures is named by :func:`kind`: pretraining on the
  target's own unlabelled images is same-domain self-supervision, not transfer
  across datasets.

The seeds of one (dataset, budget, recipe) cell train together as **one Keras
model** with one branch per seed (:func:`helpers.experiments.stacking.stacked_model`): each branch is the
model that seed would build alone (its own initial weights, draw and random
augmentation), the losses add up and Adam updates every weight from its own
gradient, so the branches do not interact; one step trains every seed, which
on a CPU is about twice as fast as ten separate models. A cell is cached as a
whole (:func:`run_cell`).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Iterable, Literal, TypedDict

import numpy as np

from helpers.cache import cached
from helpers.data import Dataset, Split, label_splits, load_dataset
from helpers.experiments import stacking
from helpers.recipes import Recipe

BUDGETS: tuple[int | None, ...] = (10, 20, 50, 200, None)
"""Label budgets of the curves: 10, 20, 50 and 200 labelled training images, then all of them (``None``)."""
SEEDS: tuple[int, ...] = tuple(range(10))
"""Every budget runs these 10 seeds (one label draw and one initialisation each)."""
SELECTION_BUDGET = 200
"""The budget at which each family's recipe is chosen on validation AUC (then fixed for every budget)."""


@dataclass(frozen=True)
class Training(Recipe):
    """How long the runs of the curves train: until they stop improving, with a cap.

    A run of ``n`` labelled images takes ``epochs`` passes over them, at least
    ``min_steps`` and at most ``max_steps`` gradient steps of ``batch_size``
    images (:func:`steps_for`). Validation AUC is measured at ``checkpoints``
    evenly spaced points. Where the validation draw holds at least
    ``min_val_to_stop`` images, each seed keeps its best checkpoint and the
    cell stops once no seed has improved for ``patience`` checkpoints.

    No lesson calls it directly (lessons reach it through other helpers).
    """

    WHAT = "the training length of the label-budget curves (curves.Training)"
    batch_size: int = 32
    epochs: int = 20
    min_steps: int = 120
    max_steps: int = 3000
    checkpoints: int = 10
    min_val_to_stop: int = 50
    patience: int = 3


TRAINING = Training()
"""How every run of the curves trains (lessons 01 and 04)."""


@dataclass(frozen=True)
class ScratchRecipe(Recipe):
    """A from-scratch small CNN (:func:`helpers.models.build_cnn`). No lesson calls it directly (lessons reach it through other helpers)."""

    WHAT = "a from-scratch recipe of the curves (curves.ScratchRecipe)"
    batch_norm: bool = False
    augment: bool = False
    weight_decay: float = 0.0
    dropout: float = 0.3
    lr: float = 3e-3
    pooling: Literal["gap", "flatten"] = "gap"


@dataclass(frozen=True)
class TransferRecipe(Recipe):
    """A new head on a pretrained base (lesson 04): ``trainable`` "head" freezes the base, "all" fine-tunes
    every layer. Batch normalisation stays frozen; ``bn_statistics`` "target" first re-estimates its
    statistics on the run's labelled training images (the source's are those of other images).

    No lesson calls it directly (lessons reach it through other helpers).
    """

    WHAT = "a transfer recipe of the curves (curves.TransferRecipe)"
    source: str = "simclr_chest"
    trainable: Literal["head", "all"] = "head"
    dropout: float = 0.3
    lr: float = 3e-3
    pooling: Literal["gap", "flatten"] = "flatten"
    augment: bool = False
    bn_statistics: Literal["source", "target"] = "source"


SCRATCH_RECIPES: dict[str, ScratchRecipe] = {
    "plain": ScratchRecipe(),
    "flatten head": ScratchRecipe(pooling="flatten", lr=2e-3),
    "batch norm": ScratchRecipe(batch_norm=True),
    "weight decay": ScratchRecipe(weight_decay=1e-3),
    "augmentation": ScratchRecipe(augment=True),
}
"""The fixed list of from-scratch recipes, simplest first: the small CNN with global average pooling (lesson
06's model), the same with lesson 01's flatten head, then three regularised variants."""

TRANSFER_RECIPES: dict[str, TransferRecipe] = {
    "linear probe": TransferRecipe(),
    "fine-tune all layers": TransferRecipe(trainable="all", lr=5e-4),
    "fine-tune, target BN": TransferRecipe(trainable="all", lr=5e-4, bn_statistics="target"),
}
"""Transfer recipes, simplest first: train only a new head on the frozen pretrained base, or every layer at a
lower learning rate (batch normalisation frozen at the source's statistics, or re-estimated on the target)."""

FAMILIES = ("scratch", "transfer")


# ------------------------------------------------------------------------------ run results
class Run(TypedDict):
    """One seed of a cell: its draw's sizes, how it trained, and its predictions (positive class).

    No lesson calls it directly (lessons reach it through other helpers).
    """

    seed: int
    n_train: int
    n_val: int
    steps: int
    """Gradient steps of the checkpoint kept (the best one where early stopping applies, else the last)."""
    steps_trained: int
    seconds: float
    """Training seconds of this seed: the cell's stacked training time shared equally among its seeds."""
    y_val: np.ndarray
    proba_val: np.ndarray
    val_auc: float
    checkpoints: list[tuple[int, float, float]]
    """(steps, seconds, validation AUC) at every checkpoint."""
    proba_test: np.ndarray


class BudgetRuns(TypedDict):
    """What :func:`run_cell` returns (and the cache keeps): one recipe at one budget, every seed.

    No lesson calls it directly (lessons reach it through other helpers).
    """

    dataset: str
    n: int | None
    family: str
    recipe: str
    settings: dict[str, Any]
    early_stopping: bool
    y_test: np.ndarray
    runs: list[Run]


class Comparison(TypedDict):
    """One budget of :func:`compare`: both families' test AUC over seeds and pretrained minus scratch.

    No lesson calls it directly (lessons reach it through other helpers).
    """

    dataset: str
    source: str
    kind: str
    budget: int | str
    labels: int
    n_val: int
    seeds: int
    scratch_recipe: str
    transfer_recipe: str
    scratch_mean: float
    scratch_sd: float
    scratch_seconds: float
    transfer_mean: float
    transfer_sd: float
    transfer_seconds: float
    diff: float
    diff_low: float
    diff_high: float
    real: bool
    verdict: str


def steps_for(n_train: int, training: Training = TRAINING) -> int:
    """Gradient steps for ``n_train`` labelled images: ``epochs`` passes, clipped to [min_steps, max_steps].

    No lesson calls it directly (lessons reach it through other helpers).
    """
    steps = math.ceil(training.epochs * n_train / training.batch_size)
    return int(min(training.max_steps, max(training.min_steps, steps)))


def training_order(n_train: int, seed: int, training: Training = TRAINING) -> np.ndarray:
    """Which labelled image each training example of one run is (lessons 01, 04): the draw repeated and
    shuffled (seeded), cut to :func:`steps_for` steps of ``batch_size`` images.

    Taught in lesson 04.
    """
    steps, batch = steps_for(n_train, training), training.batch_size
    order = np.random.default_rng(seed).permutation(np.tile(np.arange(n_train), math.ceil(steps * batch / n_train)))
    return order[: steps * batch]


def seeds_for(n: int | None) -> tuple[int, ...]:
    """The seeds of every budget: :data:`SEEDS`. No lesson calls it directly (lessons reach it through other helpers)."""
    return SEEDS


def recipe(family: str, name: str, source: str | None = None) -> ScratchRecipe | TransferRecipe:
    """The settings of the recipe called ``name`` of ``family`` ("scratch" or "transfer").

    ``source`` replaces a transfer recipe's source model (e.g. ``"simclr_medmnist"``).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    named = {"scratch": SCRATCH_RECIPES, "transfer": TRANSFER_RECIPES}
    if family not in named:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}.")
    if name not in named[family]:
        raise KeyError(f"Unknown {family} recipe {name!r}. Known: {', '.join(named[family])}.")
    r = named[family][name]
    if source is None or family == "scratch":
        return r
    from helpers.pretrain import SOURCES

    if source not in SOURCES:
        raise KeyError(f"Unknown source model {source!r}. Known sources: {', '.join(SOURCES)}.")
    return r.replace(source=source)


def kind(dataset: str, source: str = "simclr_chest") -> str:
    """What pretraining ``source`` and fine-tuning on ``dataset`` is, in plain words (lessons 04, 06).

    Its own unlabelled training images only: same-domain self-supervision. None of
    them: transfer across datasets. Its own plus other datasets' images: pooled.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    from helpers.pretrain import SOURCES

    spec = SOURCES[source]
    names = tuple(spec["datasets"])
    method = "self-supervised" if spec["kind"] in ("contrastive", "dae") else "supervised"
    if names == (dataset,):
        return f"same-domain {method} pretraining (not transfer across datasets)"
    others = "+".join(d for d in names if d != dataset)
    if dataset in names:
        return f"pooled {method} pretraining ({others} with {dataset}'s own unlabelled images)"
    return f"cross-dataset transfer ({method} on {others}, fine-tuned on {dataset})"


# ------------------------------------------------------------------------------------ runs
def _is_probe(r: ScratchRecipe | TransferRecipe) -> bool:
    """A linear probe (frozen base, no augmentation): the base maps each image to the same features at
    every step, so the features are computed once and only the head trains on them (same model, far less work)."""
    return isinstance(r, TransferRecipe) and r.trainable == "head" and not r.augment and r.bn_statistics == "source"


def _features(ds: Dataset, r: TransferRecipe) -> Dataset:
    """``ds`` with every image replaced by the frozen pretrained base's feature vector (a linear probe's input)."""
    import dataclasses

    from helpers.pretrain import load_pretrained

    base = load_pretrained(r.source, progress=False, pooling=r.pooling)
    base.trainable = False
    splits = {k: Split(np.asarray(base.predict(v.x, batch_size=512, verbose=0)), v.y) for k, v in ds.splits.items()}
    return dataclasses.replace(ds, splits=splits)


def _head(n_features: int, n_classes: int, dropout: float, name: str) -> Any:
    """A linear probe's trainable part: dropout and a softmax layer on the base's features."""
    import keras

    inputs = keras.Input((n_features,), name="features")
    x = keras.layers.Dropout(dropout, name="dropout")(inputs)
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax", name="head")(x), name=name)


def _build(family: str, r: ScratchRecipe | TransferRecipe, ds: Dataset, train_x: np.ndarray, name: str) -> Any:
    """A new, uncompiled classifier for one recipe (weights drawn from Keras's current seed)."""
    from helpers.models import build_cnn, build_finetune_model, freeze, unfreeze_top
    from helpers.pretrain import load_pretrained

    n_classes = len(ds.label_names)
    if isinstance(r, ScratchRecipe):
        return build_cnn(ds.train.x.shape[1:], n_classes, batch_norm=r.batch_norm, dropout=r.dropout,
                         weight_decay=r.weight_decay, augment=r.augment, pooling=r.pooling, name=name)
    base = load_pretrained(r.source, progress=False, pooling=r.pooling)
    if r.bn_statistics == "target":
        from helpers.contrastive import clean_batch_norm_statistics

        clean_batch_norm_statistics(base, train_x)
    if r.trainable == "head":
        freeze(base)
    else:
        unfreeze_top(base, n_blocks=3, keep_batch_norm_frozen=True)
    return build_finetune_model(base, n_classes, dropout=r.dropout, augment=r.augment, name=name)


_COMPILED: dict[tuple, tuple[Any, list[np.ndarray]]] = {}
"""The last compiled stacked model of this process (its recipe and shape as key) and its optimizer's start."""


def _compiled(fresh: Any, lr: float, key: tuple) -> Any:
    """``fresh`` (a stacked model just built, uncompiled) ready to train, without tracing its steps twice.

    Tracing a stacked model's training step takes longer than training it for
    a budget of 10 labels. A cell of the same recipe and input shape as the
    previous one reuses that compiled model: every variable (weights,
    batch-norm statistics, random-number states) is set to ``fresh``'s and the
    optimizer to its starting state, so the run is the one ``fresh`` would
    make (a unit test checks this).
    """
    import keras

    key = (*key, len(fresh.outputs))
    if key in _COMPILED:
        model, start = _COMPILED[key]
        for target, value in zip(model.variables, fresh.variables, strict=True):
            target.assign(value)
        for target, value in zip(model.optimizer.variables, start, strict=True):
            target.assign(value)
        return model
    fresh.compile(optimizer=keras.optimizers.Adam(lr), loss=["sparse_categorical_crossentropy"] * len(fresh.outputs))
    fresh.optimizer.build(fresh.trainable_variables)
    _COMPILED.clear()
    _COMPILED[key] = (fresh, [np.array(v.numpy()) for v in fresh.optimizer.variables])
    return fresh


def _source_key(dataset: str, n: int | None, family: str, name: str, seeds: tuple[int, ...] = SEEDS,
                source: str | None = None) -> str:
    """The pretrained weights a transfer cell loads are part of its key."""
    from helpers.pretrain import weights_key

    r = recipe(family, name, source)
    return weights_key(r.source) if isinstance(r, TransferRecipe) else ""


@cached(also=_source_key)
def run_cell(dataset: str, n: int | None, family: str, name: str, seeds: tuple[int, ...] = SEEDS,
             source: str | None = None) -> BudgetRuns:
    """Train recipe ``name`` of ``family`` on the ``n``-label draw of every seed; predict validation and test.

    The seeds train together in one :func:`helpers.experiments.stacking.stacked_model` (compiled once per
    recipe in a process, :func:`_compiled`); a linear probe trains its heads
    on the frozen base's features, computed once (:func:`_features`). Returns a
    :class:`BudgetRuns` (plain data): every seed's :class:`Run` holds its sizes,
    steps, training seconds, validation labels and probabilities, test
    probabilities (positive class) and its validation ``checkpoints``.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    import keras
    from helpers.metrics import roc_auc

    ds = load_dataset(dataset)
    r, t, pos = recipe(family, name, source), TRAINING, ds.positive_label
    probe = _is_probe(r)
    if probe:                                      # the frozen base's features stand in for the images
        ds = _features(ds, r)
    draws = [label_splits(ds, n, seed=seed) for seed in seeds]
    branches = []
    for seed, (train, _) in zip(seeds, draws):
        keras.utils.set_random_seed(seed)          # this seed's initial weights and random states
        branches.append(_head(ds.train.x.shape[1], len(ds.label_names), r.dropout, name=f"seed{seed}") if probe
                        else _build(family, r, ds, train.x, name=f"seed{seed}"))
    model = _compiled(stacking.stacked_model(branches), r.lr, key=(dataset, family, repr(r.as_dict()), ds.train.x.shape[1:]))
    n_train, n_val = len(draws[0][0].y), len(draws[0][1].y)
    steps = steps_for(n_train, t)
    stop_early = n_val >= t.min_val_to_stop
    orders = [training_order(n_train, seed, t) for seed in seeds]
    best = [(-1.0, 0, None, None)] * len(seeds)    # (val AUC, steps, proba_val, proba_test) kept per seed
    checkpoints: list[list[tuple[int, float, float]]] = [[] for _ in seeds]
    seconds, since_best = 0.0, [0] * len(seeds)
    xs = [tr.x for tr, _ in draws]
    ys = [tr.y for tr, _ in draws]
    n_val_rows = len(draws[0][1].y)
    scored = [np.concatenate([va.x, ds.test.x]) for _, va in draws]   # one prediction pass per checkpoint
    for chunk in np.array_split(np.arange(steps), t.checkpoints):
        start = time.perf_counter()
        for step in chunk:                          # one gradient step of every seed (no per-epoch overhead)
            rows = slice(step * t.batch_size, (step + 1) * t.batch_size)
            model.train_on_batch([x[o[rows]] for x, o in zip(xs, orders)], [y[o[rows]] for y, o in zip(ys, orders)])
        seconds += time.perf_counter() - start
        p_all = _per_branch(model.predict(scored, batch_size=1024, verbose=0))
        p_val = [p[:n_val_rows] for p in p_all]
        p_test = [p[n_val_rows:] for p in p_all]
        for i, (_, va) in enumerate(draws):
            auc = roc_auc(va.y, np.asarray(p_val[i])[:, pos], positive_label=pos)
            checkpoints[i].append((int(chunk[-1] + 1), round(seconds / len(seeds), 3), auc))
            if not stop_early or auc > best[i][0]:
                best[i], since_best[i] = (auc, int(chunk[-1] + 1), np.asarray(p_val[i])[:, pos],
                                          np.asarray(p_test[i])[:, pos]), 0
            else:
                since_best[i] += 1
        if stop_early and min(since_best) >= t.patience:
            break
    runs = [Run(seed=seed, n_train=n_train, n_val=n_val, steps=b[1], steps_trained=checkpoints[i][-1][0],
                seconds=seconds / len(seeds), y_val=draws[i][1].y, proba_val=b[2], val_auc=b[0],
                checkpoints=checkpoints[i], proba_test=b[3])
            for i, (seed, b) in enumerate(zip(seeds, best))]
    return BudgetRuns(dataset=dataset, n=n, family=family, recipe=name, settings=r.as_dict(), early_stopping=stop_early,
                y_test=ds.test.y, runs=runs)


def _per_branch(out: Any) -> list[np.ndarray]:
    """A stacked model's predictions as one array per branch (Keras returns a bare array for one branch)."""
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


# ------------------------------------------------------------------ selection and curves
def choose(scores: dict[str, list[float]]) -> str:
    """The recipe a family uses: the first (simplest) whose mean validation AUC is within one standard error of
    the best mean (the one-standard-error rule).

    ``scores`` maps each recipe, simplest first, to its per-seed validation
    AUCs. At 200 labels the validation draws hold a few dozen images and most
    recipes score near the ceiling, so a third-decimal lead is noise: the rule
    only leaves the simplest recipe when another is better by more than the
    noise of the best one's mean.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    if not scores:
        raise ValueError("choose needs at least one recipe's scores.")
    means = {name: float(np.mean(v)) for name, v in scores.items()}
    top = max(means, key=lambda k: means[k])
    vals = np.asarray(scores[top], dtype=float)
    se = float(np.std(vals, ddof=1) / np.sqrt(len(vals))) if len(vals) > 1 else 0.0
    return next(name for name in scores if means[name] >= means[top] - se)


def select(dataset: str, family: str, progress: bool = True, source: str | None = None) -> tuple[str, dict[str, float]]:
    """The recipe of ``family`` chosen by :func:`choose` at :data:`SELECTION_BUDGET`, and every mean validation AUC.

    Taught in lesson 04.
    """
    names = list(SCRATCH_RECIPES if family == "scratch" else TRANSFER_RECIPES)
    per_seed = {}
    for name in _progress(names, f"{dataset}: choosing the {family} recipe at {SELECTION_BUDGET} labels", progress):
        cell = run_cell(dataset, SELECTION_BUDGET, family, name, seeds_for(SELECTION_BUDGET), _src(family, source))
        per_seed[name] = [run["val_auc"] for run in cell["runs"]]
    return choose(per_seed), {name: float(np.mean(v)) for name, v in per_seed.items()}


def _src(family: str, source: str | None) -> str | None:
    """The source argument of a cell: only transfer cells have one; the default source is ``None``."""
    return None if family == "scratch" or source in (None, TransferRecipe.source) else source


def curve(dataset: str, family: str, budgets: Iterable[int | None] = BUDGETS,
          progress: bool = True, source: str | None = None) -> dict[int | None, BudgetRuns]:
    """The chosen recipe of ``family`` at every budget: ``{budget: cell}`` (all cached).

    Taught in lesson 01.
    """
    name, _ = select(dataset, family, progress, source)
    budgets = list(budgets)
    return {n: run_cell(dataset, n, family, name, seeds_for(n), _src(family, source))
            for n in _progress(budgets, f"{dataset}: {family} ({name}) at {len(budgets)} budgets", progress)}


def best_run(dataset: str, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Lesson 04's chosen model with every label of ``dataset``: one seed's run, not an ensemble (lessons 05, 06).

    The family (scratch or transfer) is chosen by :func:`choose` on the per-seed
    validation AUCs with every label (the full validation split; scratch, the
    simpler, first); the test split plays no part in the choice. Returns that
    run (validation and test probabilities of the positive class) plus
    ``family``, ``recipe``, ``val_auc_by_family`` and ``y_test``.

    Taught in lesson 05.
    """
    cells = {f: curve(dataset, f, [None], progress)[None] for f in FAMILIES}
    family = choose({f: [r["val_auc"] for r in c["runs"]] for f, c in cells.items()})
    scores = {f: float(np.mean([r["val_auc"] for r in c["runs"]])) for f, c in cells.items()}
    run = next((r for r in cells[family]["runs"] if r["seed"] == seed), None)
    if run is None:
        raise ValueError(f"seed {seed} was not run with every label; seeds: {[r['seed'] for r in cells[family]['runs']]}.")
    return {**run, "family": family, "recipe": cells[family]["recipe"], "val_auc_by_family": scores,
            "y_test": cells[family]["y_test"]}


def _progress(items: list, desc: str, enabled: bool) -> Any:
    from helpers.progress import bar

    return bar(items, desc, enabled=enabled, leave=False)


def seed_aucs(cell: BudgetRuns) -> np.ndarray:
    """Test AUC of every seed of a cell (one model per seed, never their average). Taught in lesson 01."""
    from helpers.metrics import roc_auc

    pos = load_dataset(cell["dataset"]).positive_label
    return np.array([roc_auc(cell["y_test"], run["proba_test"], positive_label=pos) for run in cell["runs"]])


def compare(dataset: str, budgets: Iterable[int | None] = BUDGETS, n_boot: int = 1000,
            progress: bool = True, source: str | None = None) -> list[Comparison]:
    """One row per budget: each family's mean ± sd test AUC over seeds, and pretrained minus scratch.

    The difference is the mean over seeds of the paired (same draw) difference,
    with a 95 % interval over seeds and test images
    (:func:`helpers.metrics.seeds_and_cases_bootstrap`). ``source`` names the
    pretrained source (default ``simclr_chest``); ``kind`` says what the
    comparison is (:func:`kind`) and ``verdict`` is "helps", "hurts" or
    "no difference shown".

    Taught in lesson 04.
    """
    from helpers.metrics import seeds_and_cases_bootstrap

    budgets = list(budgets)
    source_name = source or TransferRecipe.source
    cells = {f: curve(dataset, f, budgets, progress, source) for f in FAMILIES}
    pos = load_dataset(dataset).positive_label
    rows = []
    for n in budgets:
        s, tr = cells["scratch"][n], cells["transfer"][n]
        d = seeds_and_cases_bootstrap(s["y_test"], [r["proba_test"] for r in tr["runs"]],
                                      [r["proba_test"] for r in s["runs"]], positive_label=pos, n_boot=n_boot)
        row: dict[str, Any] = {"dataset": dataset, "source": source_name, "kind": kind(dataset, source_name),
                               "budget": "all" if n is None else n, "labels": tr["runs"][0]["n_train"],
                               "n_val": tr["runs"][0]["n_val"], "seeds": len(tr["runs"]),
                               "scratch_recipe": s["recipe"], "transfer_recipe": tr["recipe"]}
        for fam, cell in (("scratch", s), ("transfer", tr)):
            aucs = seed_aucs(cell)
            row.update({f"{fam}_mean": float(aucs.mean()), f"{fam}_sd": float(aucs.std(ddof=1)),
                        f"{fam}_seconds": float(np.mean([r["seconds"] for r in cell["runs"]]))})
        row.update(diff=d["diff"], diff_low=d["low"], diff_high=d["high"], real=d["real"], verdict=verdict(d))
        rows.append(Comparison(**row))
    return rows


def verdict(d: dict[str, Any]) -> str:
    """Plain words for a difference and its interval: only an interval that excludes 0 is called real.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    if d["low"] > 0:
        return "helps"
    if d["high"] < 0:
        return "hurts"
    return "no difference shown"


def format_table(rows: list[Comparison]) -> str:
    """The comparison as a plain-text table, headed by what it compares (lessons 01, 04, 06). Taught in lesson 04."""
    lines = []
    if rows:
        lines.append(f"{rows[0]['dataset']}, source {rows[0]['source']}: {rows[0]['kind']}")
    lines.append(f"{'labels':>7} {'seeds':>5}  {'scratch AUC':<14}{'pretrained AUC':<16}"
                 f"{'pretrained - scratch [95% CI]':<32}verdict")
    for r in rows:
        lines.append(f"{r['labels']:>7} {r['seeds']:>5}  {r['scratch_mean']:.3f}±{r['scratch_sd']:.3f}   "
                     f"{r['transfer_mean']:.3f}±{r['transfer_sd']:.3f}     "
                     f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]       {r['verdict']}")
    return "\n".join(lines)


def compute_table(dataset: str, progress: bool = True) -> list[dict[str, Any]]:
    """With every label: steps and seconds until each family first reaches scratch's final validation AUC.

    The target is the mean over seeds of the chosen scratch recipe's kept
    validation AUC. Each family's row gives how many seeds reached it, the mean
    steps and seconds to reach it over those seeds, and ``seeds_never`` (the
    seeds that never did: their steps are not in the mean, so read the mean
    together with that count).

    Taught in lesson 04.
    """
    cells = {f: curve(dataset, f, [None], progress)[None] for f in FAMILIES}
    target = float(np.mean([r["val_auc"] for r in cells["scratch"]["runs"]]))
    rows = []
    for fam, cell in cells.items():
        reach = [next(((s, sec) for s, sec, auc in run["checkpoints"] if auc >= target), None) for run in cell["runs"]]
        got = [h for h in reach if h is not None]
        rows.append({"family": fam, "recipe": cell["recipe"], "target_val_auc": target,
                     "seeds_reaching": len(got), "seeds_never": len(reach) - len(got), "seeds": len(reach),
                     "steps_to_target": float(np.mean([h[0] for h in got])) if got else None,
                     "seconds_to_target": float(np.mean([h[1] for h in got])) if got else None,
                     "total_steps": float(np.mean([r["steps_trained"] for r in cell["runs"]])),
                     "total_seconds": float(np.mean([r["seconds"] for r in cell["runs"]])),
                     "final_val_auc": float(np.mean([r["val_auc"] for r in cell["runs"]]))})
    return rows


REPORTED: tuple[tuple[str, str | None], ...] = (("pneumoniamnist", None), ("breastmnist", None),
                                                  ("breastmnist", "simclr_medmnist"))
"""The comparisons lesson 04 can print and ``reports/transfer_curves.json`` keeps: (dataset, source). The
pooled source ``simclr_medmnist`` is an extra: lesson 04 and :func:`report` include it only where its weights
are in the course cache (``python -m helpers.pretrain simclr_medmnist``)."""


def report(progress: bool = False) -> dict[str, Any]:
    """Every comparison of :data:`REPORTED` and the compute table, as plain data (from the cache once lesson 04 ran).

    Keys: the dataset name for the default source, ``<dataset>_<source>`` for
    another source, and ``compute_pneumoniamnist``. ``python -m tools.course``
    writes it after lesson 04 executes; no lesson cell writes files.

    No lesson uses it: tools.course calls it.
    """
    from helpers.pretrain import weights_path

    out: dict[str, Any] = {}
    for dataset, source in REPORTED:
        if source is not None and not weights_path(source).is_file():
            continue                                   # an extra source nobody built here
        out[dataset if source is None else f"{dataset}_{source}"] = compare(dataset, progress=progress, source=source)
    out["compute_pneumoniamnist"] = compute_table("pneumoniamnist", progress=progress)
    return out


def write_report(results: dict[str, Any], path: str | Path) -> Path:
    """Write the curve tables (plain JSON) that ``reports/transfer_curves.json`` commits (:func:`report`).

    No lesson uses it: tools.course calls it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True, default=float) + "\n")
    return path
