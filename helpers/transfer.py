"""Cached fine-tuning runs and the fine-tuned vs from-scratch comparison of lesson 04.

:func:`run_finetune` mirrors :func:`helpers.experiments.run_scratch`: one seeded
run on a label budget, cached on disk, returning plain data (test and
validation probabilities, history, timings). The comparison follows the
course's statistics protocol (``DESIGN.md``): every method family is a fixed
list of recipes, the recipe is chosen per budget on **validation AUC only**
(mean over seeds), and the test split is scored once, on seed-averaged
predictions, with bootstrap CIs and a paired bootstrap on the difference.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import numpy as np

from helpers.cache import cached
from helpers.recipes import with_overrides
from helpers.data import budget_splits, load_dataset
from helpers.experiments import PLAIN_RECIPE, run_all, run_scratch, seed_average, tile_to

SCRATCH_BASE: dict[str, Any] = with_overrides(PLAIN_RECIPE, {"pooling": "flatten", "epochs": 30, "patience": 5},
                                              name="lesson 04's from-scratch base recipe")
"""What every from-scratch recipe of lesson 04 starts from: lesson 01's plain CNN with a flattened
feature map (every position kept) and up to 30 tiled epochs, stopped early on validation loss.
Chosen on BreastMNIST's validation AUC: lesson 01's 10-epoch, global-average-pooled setting
is still improving when it stops, and averaging away where a lesion sits costs AUC."""

FINETUNE_RECIPE: dict[str, Any] = {
    "source": "dae_target", "dropout": 0.3, "augment": False, "pooling": "flatten",
    "head_lr": 3e-3, "head_epochs": 8, "unfreeze_blocks": 1, "ft_lr": 5e-4, "ft_epochs": 30,
    "batch_size": 64, "patience": 5, "min_samples_per_epoch": 1024,
}
"""Two phases: train the new head on a frozen base, then unfreeze the top block(s) at a low learning rate."""

SCRATCH_RECIPES: dict[str, dict[str, Any]] = {
    "plain": {},
    "batch norm": {"batch_norm": True},
    "augmentation": {"augment": True},
    "weight decay": {"weight_decay": 1e-3},
}
"""The fixed list of from-scratch recipes (overrides of :data:`SCRATCH_BASE`)."""

TRANSFER_RECIPES: dict[str, dict[str, Any]] = {
    "head, then top block": {},
    "head, then all blocks": {"unfreeze_blocks": 3},
}
"""The fine-tuning recipes (overrides of FINETUNE_RECIPE), chosen per budget on validation like scratch's.
Batch normalisation stays frozen in both; they differ in how much of the pretrained base may move."""

FRACTIONS: tuple[float, ...] = (0.25, 1.0)
"""Label budgets of the comparison. Lesson 01 covers smaller ones; every budget here costs dozens of runs."""
SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
"""Seeds of the reported comparison: the chosen recipe of each family runs with all of them."""
SELECTION_SEEDS: tuple[int, ...] = (0, 1)
"""Seeds every candidate recipe runs with to be chosen on validation (the tuning budget); the other
seeds of :data:`SEEDS` run only for the chosen recipe, so tuning does not multiply the evaluation cost."""


def _finetune_recipe(recipe: dict[str, Any] | None) -> dict[str, Any]:
    return with_overrides(FINETUNE_RECIPE, recipe, name="the fine-tuning recipe (transfer.FINETUNE_RECIPE)")


def _source_weights_key(dataset: str, fraction: float, seed: int, recipe: dict[str, Any] | None = None) -> str:
    """The key of the pretrained weights a fine-tuning run loads (part of the run's cache key)."""
    from helpers.pretrain import weights_key

    return weights_key(_finetune_recipe(recipe)["source"])


@cached(also=_source_weights_key)
def run_finetune(dataset: str, fraction: float, seed: int, recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fine-tune a pretrained base on a label budget of ``dataset``; predict its test split (cached).

    Phase 1 freezes the base (batch norm in inference mode) and trains a new
    head; phase 2 unfreezes the top ``unfreeze_blocks`` convolutional blocks
    (batch norm stays frozen) and trains on at the low learning rate ``ft_lr``.
    ``fraction`` of the training and of the validation labels are used
    (:func:`helpers.data.budget_splits`); early stopping watches validation loss.
    The cache key includes the source model's weights key, so pretraining
    differently never returns a stale run.
    """
    import keras
    from helpers.models import build_finetune_model, freeze, predict_proba, train_classifier, unfreeze_top
    from helpers.pretrain import load_pretrained

    r = _finetune_recipe(recipe)
    ds = load_dataset(dataset)
    train, val = budget_splits(ds, fraction, seed)
    base = load_pretrained(r["source"], progress=False, pooling=r["pooling"])
    keras.utils.set_random_seed(seed)
    freeze(base)
    model = build_finetune_model(base, len(ds.label_names), dropout=r["dropout"], augment=r["augment"])
    fit_on = tile_to(train, r["min_samples_per_epoch"], seed)
    start = time.perf_counter()
    fit = dict(batch_size=r["batch_size"], patience=r["patience"])
    h1 = train_classifier(model, fit_on.x, fit_on.y, val.x, val.y, epochs=r["head_epochs"], lr=r["head_lr"], **fit)
    history = {k: list(v) for k, v in h1.history.items()}
    if r["unfreeze_blocks"] > 0 and r["ft_epochs"] > 0:
        unfreeze_top(base, r["unfreeze_blocks"])
        h2 = train_classifier(model, fit_on.x, fit_on.y, val.x, val.y, epochs=r["ft_epochs"], lr=r["ft_lr"], **fit)
        for k, v in h2.history.items():
            history.setdefault(k, []).extend(v)
    return {
        "dataset": dataset, "fraction": fraction, "seed": seed, "recipe": r,
        "n_train": int(len(train.y)), "n_val": int(len(val.y)),
        "epochs": len(history["loss"]), "head_epochs": len(h1.history["loss"]),
        "seconds": time.perf_counter() - start, "history": history,
        "y_test": ds.test.y, "proba_test": predict_proba(model, ds.test.x),
        "proba_val": predict_proba(model, val.x), "y_val": val.y,
    }


def scratch_recipe(name: str) -> dict[str, Any]:
    """The full recipe dict of a named from-scratch recipe."""
    return with_overrides(SCRATCH_BASE, SCRATCH_RECIPES[name], name=f"scratch recipe {name!r}")


def transfer_recipe(name: str, source: str) -> dict[str, Any]:
    """The full recipe dict of a named fine-tuning recipe from ``source``."""
    return with_overrides(FINETUNE_RECIPE, {**TRANSFER_RECIPES[name], "source": source}, name=f"fine-tuning recipe {name!r}")


def _sweep(kind: str, dataset: str, recipes: dict[str, dict[str, Any]], fractions: Iterable[float] = FRACTIONS,
          seeds: Iterable[int] = SEEDS, progress: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Every (recipe, fraction, seed) run of ``kind`` ('scratch' or 'finetune'), cached, with a progress bar.

    Returns ``{recipe name: [runs]}``; ``recipes`` maps names to full recipe dicts.
    """
    runner: Callable[..., dict[str, Any]] = {"scratch": run_scratch, "finetune": run_finetune}[kind]
    fractions, seeds = list(fractions), list(seeds)
    names = [name for name in recipes for f in fractions for s in seeds]
    jobs = [(dataset, f, s, recipes[name]) for name in recipes for f in fractions for s in seeds]
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in recipes}
    for name, run in zip(names, run_all(runner, jobs, f"{kind} runs", progress)):
        out[name].append(run)
    return out


def tuned_sweep(kind: str, dataset: str, recipes: dict[str, dict[str, Any]], positive_label: int,
                fractions: Iterable[float] = FRACTIONS, selection_seeds: Iterable[int] = SELECTION_SEEDS,
                seeds: Iterable[int] = SEEDS, progress: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Choose a recipe per budget on validation, then run the chosen one on every seed (all cached).

    Every candidate runs with ``selection_seeds``; :func:`select_recipe` picks
    the best mean validation AUC over those seeds at each budget; the chosen
    recipe then also runs with the remaining ``seeds``. The result has the same
    form as :func:`_sweep` (the losing candidates keep only their selection runs).
    """
    selection_seeds, seeds = tuple(selection_seeds), tuple(seeds)
    out = _sweep(kind, dataset, recipes, fractions, selection_seeds, progress)
    extra = [s for s in seeds if s not in selection_seeds]
    for f in fractions:
        name, _ = select_recipe(out, f, positive_label, selection_seeds)
        more = _sweep(kind, dataset, {name: recipes[name]}, [f], extra, progress)
        out[name].extend(more[name])
    return out


def _val_auc(run: dict[str, Any], positive_label: int) -> float:
    """Validation ROC-AUC of one run (the only score used to choose a recipe)."""
    from helpers.metrics import roc_auc

    col = positive_label
    return roc_auc(run["y_val"], run["proba_val"][:, col], positive_label=positive_label)


def select_recipe(runs: dict[str, list[dict[str, Any]]], fraction: float, positive_label: int,
                  seeds: Iterable[int] | None = None) -> tuple[str, dict[str, float]]:
    """The recipe with the best mean validation AUC at ``fraction``, and every recipe's score.

    With ``seeds``, only those seeds' runs count, so every candidate is scored on
    the same seeds even when the chosen one has run with more.
    """
    keep = None if seeds is None else set(seeds)
    scores = {name: float(np.mean([_val_auc(r, positive_label) for r in rs if r["fraction"] == fraction
                                   and (keep is None or r["seed"] in keep)]))
              for name, rs in runs.items()}
    return max(scores, key=lambda k: (scores[k], -list(scores).index(k))), scores


def compare(families: dict[str, dict[str, list[dict[str, Any]]]], positive_label: int, baseline: str = "scratch",
            n_boot: int = 1000, selection_seeds: Iterable[int] | None = SELECTION_SEEDS) -> list[dict[str, Any]]:
    """Per family and budget: chosen recipe, test AUC (seed-averaged) with CI, seed spread, difference to baseline.

    ``families`` maps a family name (e.g. 'scratch', 'fine-tuned, dae_target') to
    its :func:`tuned_sweep` (or :func:`_sweep`) result; the recipe is chosen on the
    validation AUC of ``selection_seeds`` (None: every seed), and the chosen
    recipe's runs on every seed are scored. Each row is a dict; the difference to ``baseline``
    is a paired bootstrap over test cases on the seed-averaged probabilities.
    """
    from helpers.metrics import bootstrap_ci, paired_bootstrap, roc_auc

    fractions = sorted({r["fraction"] for rs in families[baseline].values() for r in rs})
    rows, chosen = [], {}
    for fam, runs in families.items():
        for f in fractions:
            name, scores = select_recipe(runs, f, positive_label, selection_seeds)
            group = [r for r in runs[name] if r["fraction"] == f]
            p = seed_average(group, column=positive_label)
            y = group[0]["y_test"]
            est, lo, hi = bootstrap_ci(roc_auc, y, p, positive_label=positive_label, n_boot=n_boot, seed=0)
            seed_aucs = [roc_auc(y, r["proba_test"][:, positive_label], positive_label=positive_label) for r in group]
            chosen[fam, f] = p
            rows.append({"family": fam, "fraction": f, "n_train": group[0]["n_train"], "n_val": group[0]["n_val"],
                         "recipe": name, "val_auc": scores[name], "auc": est, "low": lo, "high": hi,
                         "seed_mean": float(np.mean(seed_aucs)), "seed_sd": float(np.std(seed_aucs, ddof=1)),
                         "seed_min": float(np.min(seed_aucs)), "seed_max": float(np.max(seed_aucs)),
                         "n_seeds": len(group), "y_test": y})
    for row in rows:
        if row["family"] != baseline:
            d = paired_bootstrap(roc_auc, row["y_test"], chosen[row["family"], row["fraction"]],
                                 chosen[baseline, row["fraction"]], positive_label=positive_label,
                                 n_boot=n_boot, seed=0)
            row.update(diff=d["diff"], diff_low=d["low"], diff_high=d["high"], real=d["real"])
    for row in rows:
        del row["y_test"]
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The comparison as a plain-text table (one line per family and budget)."""
    lines = [f"{'method':<28}{'labels':>7}  {'chosen recipe (on validation)':<32}{'test AUC [95% CI]':<24}"
             f"{'seeds mean±sd':<15}{'minus scratch [95% CI]':<24}"]
    for r in rows:
        diff = (f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]{' *' if r['real'] else ''}"
                if "diff" in r else "")
        lines.append(f"{r['family']:<28}{r['n_train']:>7}  {r['recipe']:<32}"
                     f"{r['auc']:.3f} [{r['low']:.3f}, {r['high']:.3f}]    "
                     f"{r['seed_mean']:.3f}±{r['seed_sd']:.3f}  {diff}")
    return "\n".join(lines)


def curves(rows: list[dict[str, Any]]) -> dict[str, list[tuple[int, float, float, float]]]:
    """``{family: [(labels, auc, low, high), ...]}`` for :func:`helpers.plots.metric_vs_labels`."""
    out: dict[str, list[tuple[int, float, float, float]]] = {}
    for r in rows:
        out.setdefault(r["family"], []).append((r["n_train"], r["auc"], r["low"], r["high"]))
    return out
