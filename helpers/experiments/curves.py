"""Label-budget curves: transfer vs the best from-scratch recipe, paired by seed (lessons 01, 04, 05, 06).

The course's main experiment, under the statistics protocol of ``DESIGN.md``:

- A budget of ``n`` labels is one seeded, stratified draw of ``n`` labelled
  training images and a validation set scaled the same way
  (:func:`budget_splits`). Every method gets the **same draw at the same seed**.
- Budgets are :data:`BUDGETS` (``None`` = every training label); budgets up to
  :data:`TINY_BUDGET` run :data:`TINY_SEEDS`, larger ones :data:`SEEDS`.
- "Scratch" is the best of :data:`SCRATCH_RECIPES`, "transfer" the best of
  :data:`TRANSFER_RECIPES` (from the contrastive source ``simclr_chest``). Each
  family's recipe is chosen **once**, on mean validation AUC at
  :data:`SELECTION_BUDGET` labels, and used at every budget: at 10 labels the
  scaled validation set holds two images, too few to choose anything on.
- Every run trains for a fixed number of steps (:func:`steps_for`), with no
  early stopping (again: no validation set worth the name at small budgets).

The seeds of one (dataset, budget, recipe) cell train one after another in the
same compiled Keras model: its weights and optimizer are reset to the seed's
own initial values before each seed, so Keras traces the training step once per
cell instead of once per run. A cell is cached as a whole (:func:`run_cell`).
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
from helpers.data import Dataset, Split, load_dataset
from helpers.recipes import Recipe

BUDGETS: tuple[int | None, ...] = (10, 20, 50, 200, None)
"""Label budgets of the curves: 10, 20, 50 and 200 labelled training images, then all of them (``None``)."""
TINY_BUDGET = 50
"""Budgets up to this many labels are cheap and noisy: they run 10 seeds."""
TINY_SEEDS: tuple[int, ...] = tuple(range(10))
SEEDS: tuple[int, ...] = tuple(range(5))
SELECTION_BUDGET = 200
"""The budget at which each family's recipe is chosen on validation AUC (then fixed for every budget)."""

@dataclass(frozen=True)
class Training(Recipe):
    """Fixed-length training: ``epochs`` passes over the labelled images, at least ``min_steps`` and at most
    ``max_steps`` gradient steps of ``batch_size`` images. With every label, validation AUC is also recorded at
    ``checkpoints`` evenly spaced points (the compute comparison of lesson 04).

    Used in lessons 01, 04, 05, 06.
    """

    WHAT = "the training length of the label-budget curves (curves.Training)"
    batch_size: int = 32
    epochs: int = 20
    min_steps: int = 150
    max_steps: int = 800
    checkpoints: int = 8


TRAINING = Training()
"""How every run of the curves trains (lessons 01 and 04)."""


@dataclass(frozen=True)
class ScratchRecipe(Recipe):
    """A from-scratch small CNN (lesson 01's, :func:`helpers.models.build_cnn`). Used in lessons 01, 04, 05, 06."""

    WHAT = "a from-scratch recipe of the curves (curves.ScratchRecipe)"
    batch_norm: bool = False
    augment: bool = False
    weight_decay: float = 0.0
    dropout: float = 0.3
    lr: float = 2e-3
    pooling: Literal["gap", "flatten"] = "flatten"


@dataclass(frozen=True)
class TransferRecipe(Recipe):
    """A new head on a pretrained base (lesson 04): ``trainable`` "head" freezes the base, "all" fine-tunes
    every layer (batch normalisation keeps its pretrained statistics).

    Used in lessons 01, 04, 05, 06.
    """

    WHAT = "a transfer recipe of the curves (curves.TransferRecipe)"
    source: str = "simclr_chest"
    trainable: Literal["head", "all"] = "head"
    dropout: float = 0.3
    lr: float = 3e-3
    pooling: Literal["gap", "flatten"] = "flatten"
    augment: bool = False


SCRATCH_RECIPES: dict[str, ScratchRecipe] = {
    "plain": ScratchRecipe(), "batch norm": ScratchRecipe(batch_norm=True), "augmentation": ScratchRecipe(augment=True),
    "weight decay": ScratchRecipe(weight_decay=1e-3),
}
"""The fixed list of from-scratch recipes: lesson 01's small CNN and three regularised variants."""

TRANSFER_RECIPES: dict[str, TransferRecipe] = {
    "linear probe": TransferRecipe(),
    "fine-tune all layers": TransferRecipe(trainable="all", lr=5e-4),
}
"""Transfer recipes: train only a new head on the frozen pretrained base, or every layer at a lower
learning rate (batch normalisation keeps its pretrained statistics)."""

FAMILIES = ("scratch", "transfer")


# ------------------------------------------------------------------------------ run results
class Run(TypedDict):
    """One seed of a cell: its draw's sizes, how it trained, and its predictions (positive class).

    Used in lessons 01, 04, 05, 06.
    """

    seed: int
    n_train: int
    n_val: int
    steps: int
    seconds: float
    y_val: np.ndarray
    proba_val: np.ndarray
    val_auc: float
    checkpoints: list[tuple[int, float, float]]
    """With every label: (steps, seconds, validation AUC) at evenly spaced points; else empty."""
    proba_test: np.ndarray


class Cell(TypedDict):
    """What :func:`run_cell` returns (and the cache keeps): one recipe at one budget, every seed.

    Used in lessons 01, 04, 05, 06.
    """

    dataset: str
    n: int | None
    family: str
    recipe: str
    settings: dict[str, Any]
    y_test: np.ndarray
    runs: list[Run]


class Comparison(TypedDict):
    """One budget of :func:`compare`: both families' test AUC over seeds and transfer minus scratch.

    Used in lessons 04, 06.
    """

    dataset: str
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


# ------------------------------------------------------------------------------ label budgets
def draw_budget(y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` labelled cases drawn from ``y``, stratified, seeded (``None``: all).

    Each class gets its share of ``n`` (largest remainders), at least one case.

    Used in lessons 01, 04, 05, 06.
    """
    y = np.asarray(y).reshape(-1)
    if n is None or n >= len(y):
        return np.arange(len(y))
    labels, counts = np.unique(y, return_counts=True)
    if n < len(labels):
        raise ValueError(f"a budget of {n} labels cannot hold one case of each of the {len(labels)} classes.")
    share = n * counts / counts.sum()
    k = np.maximum(1, np.floor(share).astype(int))
    while k.sum() < n:
        k[np.argmax(share - k)] += 1
    while k.sum() > n:
        k[np.argmax(np.where(k > 1, k - share, -np.inf))] -= 1
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(y == lab), size=int(kk), replace=False)
                                   for lab, kk in zip(labels, k)]))


def budget_splits(ds: Dataset, n: int | None, seed: int) -> tuple[Split, Split]:
    """The training draw of ``n`` labels and a validation draw scaled the same way (lessons 01, 04).

    The validation set gets ``n`` times (validation size / training size)
    images, at least one per class: no free validation labels.

    Used in lessons 01, 04, 05, 06.
    """
    train_idx = draw_budget(ds.train.y, n, seed)
    n_val = None if n is None else max(len(np.unique(ds.val.y)), round(n * len(ds.val.y) / len(ds.train.y)))
    val_idx = draw_budget(ds.val.y, n_val, seed + 10_000)
    return Split(ds.train.x[train_idx], ds.train.y[train_idx]), Split(ds.val.x[val_idx], ds.val.y[val_idx])


def steps_for(n_train: int, training: Training = TRAINING) -> int:
    """Gradient steps for ``n_train`` labelled images: ``epochs`` passes, clipped to [min_steps, max_steps].

    Used in lessons 01, 04, 05, 06.
    """
    steps = math.ceil(training.epochs * n_train / training.batch_size)
    return int(min(training.max_steps, max(training.min_steps, steps)))


def training_order(n_train: int, seed: int, training: Training = TRAINING) -> np.ndarray:
    """Which labelled image each training example of one run is (lessons 01, 04): the draw repeated and
    shuffled (seeded), cut to :func:`steps_for` steps of ``batch_size`` images.

    Used in lessons 01, 04, 05, 06.
    """
    steps, batch = steps_for(n_train, training), training.batch_size
    order = np.random.default_rng(seed).permutation(np.tile(np.arange(n_train), math.ceil(steps * batch / n_train)))
    return order[: steps * batch]


def seeds_for(n: int | None) -> tuple[int, ...]:
    """10 seeds for tiny budgets, 5 otherwise. Used in lessons 01, 04, 05, 06."""
    return TINY_SEEDS if n is not None and n <= TINY_BUDGET else SEEDS


def recipe(family: str, name: str) -> ScratchRecipe | TransferRecipe:
    """The settings of the recipe called ``name`` of ``family`` ("scratch" or "transfer").

    Used in lessons 01, 04, 05, 06.
    """
    named = {"scratch": SCRATCH_RECIPES, "transfer": TRANSFER_RECIPES}
    if family not in named:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}.")
    if name not in named[family]:
        raise KeyError(f"Unknown {family} recipe {name!r}. Known: {', '.join(named[family])}.")
    return named[family][name]


# ------------------------------------------------------------------------------------ runs
def _build(family: str, r: ScratchRecipe | TransferRecipe, ds: Dataset) -> Any:
    """A new, uncompiled classifier for one recipe (weights drawn from Keras's current seed)."""
    from helpers.models import build_cnn, build_finetune_model, freeze, unfreeze_top
    from helpers.pretrain import load_pretrained

    n_classes = len(ds.label_names)
    if isinstance(r, ScratchRecipe):
        return build_cnn(ds.train.x.shape[1:], n_classes, batch_norm=r.batch_norm, dropout=r.dropout,
                         weight_decay=r.weight_decay, augment=r.augment, pooling=r.pooling)
    base = load_pretrained(r.source, progress=False, pooling=r.pooling)
    if r.trainable == "head":
        freeze(base)
    else:
        unfreeze_top(base, n_blocks=3, keep_batch_norm_frozen=True)
    return build_finetune_model(base, n_classes, dropout=r.dropout, augment=r.augment)


def _source_key(dataset: str, n: int | None, family: str, name: str, seeds: tuple[int, ...]) -> str:
    """The pretrained weights a transfer cell loads are part of its key."""
    from helpers.pretrain import weights_key

    r = recipe(family, name)
    return weights_key(r.source) if isinstance(r, TransferRecipe) else ""


@cached(also=_source_key)
def run_cell(dataset: str, n: int | None, family: str, name: str, seeds: tuple[int, ...]) -> Cell:
    """Train recipe ``name`` of ``family`` on the ``n``-label draw of every seed; predict validation and test.

    Returns a :class:`Cell` (plain data): every seed's :class:`Run` holds its
    sizes, steps, training seconds, validation labels and probabilities, test
    probabilities (positive class) and, with every label, ``checkpoints``.

    Used in lessons 01, 04, 05, 06.
    """
    import keras
    from helpers.metrics import roc_auc

    ds = load_dataset(dataset)
    r, t, pos = recipe(family, name), TRAINING, ds.positive_label
    keras.utils.set_random_seed(seeds[0])
    model = _build(family, r, ds)
    model.compile(optimizer=keras.optimizers.Adam(r.lr), loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    if len(model.variables) != len(_build(family, r, ds).variables):
        raise RuntimeError("a rebuilt model must have the same variables as the compiled one")
    optimizer_start = [v.numpy() for v in model.optimizer.variables]
    runs: list[Run] = []
    for seed in seeds:
        train, val = budget_splits(ds, n, seed)
        keras.utils.set_random_seed(seed)
        fresh = _build(family, r, ds)                             # this seed's initial weights and
        for v, start in zip(model.variables, fresh.variables):   # random-number states (dropout,
            v.assign(start)                                      # augmentation): as if built anew
        for v, start in zip(model.optimizer.variables, optimizer_start):
            v.assign(start)                                      # and a fresh optimizer
        steps = steps_for(len(train.y), t)
        order = training_order(len(train.y), seed, t)
        chunks = np.array_split(np.arange(steps), t.checkpoints if n is None else 1)
        checkpoints, seconds = [], 0.0
        for chunk in chunks:
            idx = order[chunk[0] * t.batch_size: (chunk[-1] + 1) * t.batch_size]
            start = time.perf_counter()
            model.fit(train.x[idx], train.y[idx], batch_size=t.batch_size, epochs=1, shuffle=False, verbose=0)
            seconds += time.perf_counter() - start
            p_val = np.asarray(model.predict(val.x, batch_size=512, verbose=0))[:, pos]
            checkpoints.append((int(chunk[-1] + 1), round(seconds, 3), roc_auc(val.y, p_val, positive_label=pos)))
        runs.append(Run(seed=seed, n_train=int(len(train.y)), n_val=int(len(val.y)), steps=steps,
                        seconds=seconds, y_val=val.y, proba_val=p_val, val_auc=checkpoints[-1][2],
                        checkpoints=checkpoints if n is None else [],
                        proba_test=np.asarray(model.predict(ds.test.x, batch_size=512, verbose=0))[:, pos]))
    return Cell(dataset=dataset, n=n, family=family, recipe=name, settings=r.as_dict(), y_test=ds.test.y, runs=runs)


# ------------------------------------------------------------------ selection and curves
def select(dataset: str, family: str, progress: bool = True) -> tuple[str, dict[str, float]]:
    """The recipe of ``family`` with the best mean validation AUC at :data:`SELECTION_BUDGET`, and every score.

    Used in lessons 01, 04, 05, 06.
    """
    names = list(SCRATCH_RECIPES if family == "scratch" else TRANSFER_RECIPES)
    scores = {}
    for name in _progress(names, f"{dataset}: choosing the {family} recipe at {SELECTION_BUDGET} labels", progress):
        cell = run_cell(dataset, SELECTION_BUDGET, family, name, seeds_for(SELECTION_BUDGET))
        scores[name] = float(np.mean([run["val_auc"] for run in cell["runs"]]))
    return max(scores, key=lambda k: (scores[k], -names.index(k))), scores


def curve(dataset: str, family: str, budgets: Iterable[int | None] = BUDGETS,
          progress: bool = True) -> dict[int | None, Cell]:
    """The chosen recipe of ``family`` at every budget: ``{budget: cell}`` (all cached).

    Used in lessons 01, 04, 05, 06.
    """
    name, _ = select(dataset, family, progress)
    budgets = list(budgets)
    return {n: run_cell(dataset, n, family, name, seeds_for(n))
            for n in _progress(budgets, f"{dataset}: {family} ({name}) at {len(budgets)} budgets", progress)}


def best_run(dataset: str, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Lesson 04's chosen model with every label of ``dataset``: one seed's run, not an ensemble (lessons 05, 06).

    The family (scratch or transfer) is the one whose chosen recipe has the
    higher mean validation AUC with every label (the full validation split);
    the test split plays no part in the choice. Returns that run (validation
    and test probabilities of the positive class) plus ``family``, ``recipe``,
    ``val_auc_by_family`` and ``y_test``.

    Used in lessons 05, 06.
    """
    cells = {f: curve(dataset, f, [None], progress)[None] for f in FAMILIES}
    scores = {f: float(np.mean([r["val_auc"] for r in c["runs"]])) for f, c in cells.items()}
    family = max(scores, key=lambda f: (scores[f], -FAMILIES.index(f)))
    run = next((r for r in cells[family]["runs"] if r["seed"] == seed), None)
    if run is None:
        raise ValueError(f"seed {seed} was not run with every label; seeds: {[r['seed'] for r in cells[family]['runs']]}.")
    return {**run, "family": family, "recipe": cells[family]["recipe"], "val_auc_by_family": scores,
            "y_test": cells[family]["y_test"]}


def _progress(items: list, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=not enabled, leave=False)


def test_aucs(cell: Cell) -> np.ndarray:
    """Test AUC of every seed of a cell (one model per seed, never their average). Used in lessons 01, 04, 06."""
    from helpers.metrics import roc_auc

    pos = load_dataset(cell["dataset"]).positive_label
    return np.array([roc_auc(cell["y_test"], run["proba_test"], positive_label=pos) for run in cell["runs"]])


def compare(dataset: str, budgets: Iterable[int | None] = BUDGETS, n_boot: int = 2000,
            progress: bool = True) -> list[Comparison]:
    """One row per budget: each family's mean ± sd test AUC over seeds, and transfer minus scratch.

    The difference is the mean over seeds of the paired (same draw) difference,
    with a two-level bootstrap 95 % interval over seeds and test patients
    (:func:`helpers.metrics.seeds_and_cases_bootstrap`).

    Used in lessons 04, 06.
    """
    from helpers.metrics import seeds_and_cases_bootstrap

    budgets = list(budgets)
    cells = {f: curve(dataset, f, budgets, progress) for f in FAMILIES}
    pos = load_dataset(dataset).positive_label
    rows = []
    for n in budgets:
        s, tr = cells["scratch"][n], cells["transfer"][n]
        d = seeds_and_cases_bootstrap(s["y_test"], [r["proba_test"] for r in tr["runs"]],
                                      [r["proba_test"] for r in s["runs"]], positive_label=pos, n_boot=n_boot)
        row: dict[str, Any] = {"dataset": dataset, "budget": "all" if n is None else n, "labels": tr["runs"][0]["n_train"],
               "n_val": tr["runs"][0]["n_val"], "seeds": len(tr["runs"]),
               "scratch_recipe": s["recipe"], "transfer_recipe": tr["recipe"]}
        for fam, cell in (("scratch", s), ("transfer", tr)):
            aucs = test_aucs(cell)
            row.update({f"{fam}_mean": float(aucs.mean()), f"{fam}_sd": float(aucs.std(ddof=1)),
                        f"{fam}_seconds": float(np.mean([r["seconds"] for r in cell["runs"]]))})
        row.update(diff=d["diff"], diff_low=d["low"], diff_high=d["high"], real=d["real"], verdict=verdict(d))
        rows.append(Comparison(**row))
    return rows


def verdict(d: dict[str, Any]) -> str:
    """Plain words for a difference and its interval: only an interval that excludes 0 is called real.

    Used in lessons 04, 06.
    """
    if d["low"] > 0:
        return "transfer helps"
    if d["high"] < 0:
        return "transfer hurts"
    return "no difference shown"


def format_table(rows: list[Comparison]) -> str:
    """The comparison as a plain-text table (lessons 01, 04, 06). Used in lesson 04."""
    lines = [f"{'labels':>7} {'seeds':>5}  {'scratch AUC':<14}{'transfer AUC':<14}"
             f"{'transfer - scratch [95% CI]':<30}verdict"]
    for r in rows:
        lines.append(f"{r['labels']:>7} {r['seeds']:>5}  {r['scratch_mean']:.3f}±{r['scratch_sd']:.3f}   "
                     f"{r['transfer_mean']:.3f}±{r['transfer_sd']:.3f}   "
                     f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]     {r['verdict']}")
    return "\n".join(lines)


def compute_table(dataset: str, progress: bool = True) -> list[dict[str, Any]]:
    """With every label: steps and seconds until each family first reaches scratch's final validation AUC.

    The target is the mean over seeds of the chosen scratch recipe's validation
    AUC at the end of training; each family's row gives, per seed averaged,
    the first checkpoint at or above it (None when never reached) and the total.

    Used in lesson 04.
    """
    cells = {f: curve(dataset, f, [None], progress)[None] for f in FAMILIES}
    target = float(np.mean([r["val_auc"] for r in cells["scratch"]["runs"]]))
    rows = []
    for fam, cell in cells.items():
        reach = []
        for run in cell["runs"]:
            hit = next(((s, sec) for s, sec, auc in run["checkpoints"] if auc >= target), None)
            reach.append(hit)
        got = [h for h in reach if h is not None]
        rows.append({"family": fam, "recipe": cell["recipe"], "target_val_auc": target,
                     "seeds_reaching": len(got), "seeds": len(reach),
                     "steps_to_target": float(np.mean([h[0] for h in got])) if got else None,
                     "seconds_to_target": float(np.mean([h[1] for h in got])) if got else None,
                     "total_steps": cell["runs"][0]["steps"],
                     "total_seconds": float(np.mean([r["seconds"] for r in cell["runs"]])),
                     "final_val_auc": float(np.mean([r["val_auc"] for r in cell["runs"]]))})
    return rows


def write_report(results: dict[str, Any], path: str | Path) -> Path:
    """Write the curve tables (plain JSON) that ``reports/transfer_curves.json`` commits (lesson 04).

    Used in lesson 04.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True, default=float) + "\n")
    return path
