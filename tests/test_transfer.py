"""Tests of helpers.transfer: a real (tiny) cached fine-tuning run, recipe selection on
validation only, and the comparison table with paired bootstrap differences."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import pretrain as P
from helpers import transfer as T
from helpers.cache import is_cached
from helpers.models import build_cnn_base, save_weights

FAST = {"head_epochs": 1, "ft_epochs": 1, "min_samples_per_epoch": 64, "batch_size": 32}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))


def test_run_finetune_is_real_cached_and_leaves_test_labels_alone():
    base = build_cnn_base(**P.ARCH)  # stands in for the pretrained source (no 60 s pretraining in a test)
    save_weights(base, P.weights_path("dae_target"))
    recipe = T.transfer_recipe("head, then top block", "dae_target") | FAST
    run = T.run_finetune("breastmnist", 0.1, 0, recipe)
    assert run["n_train"] == 55 and run["n_val"] == 8
    assert run["proba_test"].shape == (156, 2) and run["y_test"].shape == (156,)
    np.testing.assert_allclose(run["proba_test"].sum(axis=1), 1, atol=1e-5)
    assert run["proba_val"].shape == (8, 2)
    assert run["head_epochs"] == 1 and run["epochs"] == 2, "head phase then fine-tune phase"
    assert is_cached(T.run_finetune, "breastmnist", 0.1, 0, recipe)
    again = T.run_finetune("breastmnist", 0.1, 0, recipe)
    np.testing.assert_array_equal(again["proba_test"], run["proba_test"])


def test_all_blocks_recipe_unfreezes_every_block_on_flattened_features():
    save_weights(build_cnn_base(**P.ARCH), P.weights_path("dae_target"))
    recipe = T.transfer_recipe("head, then all blocks", "dae_target") | FAST
    assert recipe["pooling"] == "flatten" and recipe["unfreeze_blocks"] == 3
    run = T.run_finetune("breastmnist", 0.1, 0, recipe)
    assert run["head_epochs"] == 1 and run["epochs"] == 2
    assert run["proba_test"].shape == (156, 2)


def test_scratch_and_transfer_recipes_share_the_feature_vector_and_budget():
    for name in T.SCRATCH_RECIPES:
        r = T.scratch_recipe(name)
        assert r["pooling"] == "flatten" and r["epochs"] == T.FINETUNE_RECIPE["ft_epochs"]
    assert set(T.TRANSFER_RECIPES) == {"head, then top block", "head, then all blocks"}


def test_run_finetune_without_weights_and_without_build_is_explained(monkeypatch):
    original = P.load_pretrained

    def no_build(source, build=True, progress=True, pooling=None):
        return original(source, build=False, pooling=pooling)

    monkeypatch.setattr(P, "load_pretrained", no_build)
    with pytest.raises(P.PretrainedWeightsMissing, match="helpers.pretrain"):
        T.run_finetune("breastmnist", 0.1, 0, T.transfer_recipe("head, then top block", "dae_cross") | FAST)


def _fake_run(fraction, seed, val_quality, test_quality, rng):
    """A run whose positive-class (label 0) probabilities separate the classes as well as asked."""
    labels = np.random.default_rng(42)  # the same validation and test patients in every run
    y_val, y_test = labels.integers(0, 2, 40), labels.integers(0, 2, 120)

    def proba(y, q):
        p0 = np.clip(q * (y == 0) + (1 - q) * rng.random(len(y)), 0, 1)
        return np.stack([p0, 1 - p0], axis=1)

    return {"fraction": fraction, "seed": seed, "n_train": int(100 * fraction), "n_val": 40,
            "y_val": y_val, "proba_val": proba(y_val, val_quality),
            "y_test": y_test, "proba_test": proba(y_test, test_quality)}


def test_recipe_is_chosen_on_validation_not_test():
    rng = np.random.default_rng(0)
    runs = {"good on val": [_fake_run(0.5, s, 0.8, 0.1, rng) for s in range(5)],
            "good on test": [_fake_run(0.5, s, 0.1, 0.8, rng) for s in range(5)]}
    name, scores = T.select_recipe(runs, 0.5, positive_label=0)
    assert name == "good on val" and scores["good on val"] > scores["good on test"]


def test_tuned_sweep_runs_candidates_on_selection_seeds_and_the_winner_on_all(monkeypatch):
    calls = []

    def fake_runner(dataset, fraction, seed, recipe):
        calls.append((recipe["name"], fraction, seed))
        return _fake_run(fraction, seed, recipe["val"], 0.5, np.random.default_rng(seed))

    monkeypatch.setattr(T, "run_scratch", fake_runner)
    recipes = {"weak": {"name": "weak", "val": 0.1}, "strong": {"name": "strong", "val": 0.8}}
    runs = T.tuned_sweep("scratch", "breastmnist", recipes, positive_label=0, fractions=(0.5, 1.0),
                         selection_seeds=(0, 1), seeds=(0, 1, 2, 3, 4), progress=False)
    assert len(calls) == 2 * 2 * 2 + 2 * 3, "candidates x budgets x selection seeds, then 3 more seeds per budget"
    assert sorted(r["seed"] for r in runs["strong"] if r["fraction"] == 0.5) == [0, 1, 2, 3, 4]
    assert sorted(r["seed"] for r in runs["weak"] if r["fraction"] == 0.5) == [0, 1]
    rows = T.compare({"scratch": runs}, positive_label=0, n_boot=50, selection_seeds=(0, 1))
    assert {r["recipe"] for r in rows} == {"strong"} and all(r["n_seeds"] == 5 for r in rows)


def test_selection_counts_only_the_selection_seeds():
    rng = np.random.default_rng(3)
    # "late bloomer" is worse on seeds 0-1 but great on extra seeds it should never have been given
    runs = {"steady": [_fake_run(0.5, s, 0.2, 0.5, rng) for s in range(2)],
            "late bloomer": [_fake_run(0.5, s, 0.0 if s < 2 else 1.0, 0.5, rng) for s in range(5)]}
    assert T.select_recipe(runs, 0.5, positive_label=0, seeds=(0, 1))[0] == "steady"
    assert T.select_recipe(runs, 0.5, positive_label=0)[0] == "late bloomer"


def test_compare_rows_have_cis_and_paired_differences():
    rng = np.random.default_rng(1)
    # same test labels across families, as in the real comparison
    scratch = [_fake_run(f, s, 0.3, 0.0, np.random.default_rng(s)) for f in (0.5, 1.0) for s in range(5)]
    better = []
    for r in scratch:
        q = dict(r)
        p0 = np.clip(0.9 * (r["y_test"] == 0) + 0.1 * rng.random(len(r["y_test"])), 0, 1)
        q["proba_test"] = np.stack([p0, 1 - p0], axis=1)
        better.append(q)
    rows = T.compare({"scratch": {"plain": scratch}, "fine-tuned": {"ft": better}}, positive_label=0, n_boot=200)
    assert len(rows) == 4
    for row in rows:
        assert row["low"] <= row["auc"] <= row["high"] and row["n_seeds"] == 5
    ft = [r for r in rows if r["family"] == "fine-tuned"]
    assert all("diff" in r and r["diff_low"] <= r["diff"] <= r["diff_high"] for r in ft)
    assert all(r["real"] and r["diff"] > 0 for r in ft), "a much better model must come out as really better"
    assert "diff" not in [r for r in rows if r["family"] == "scratch"][0]
    table = T.format_table(rows)
    assert "fine-tuned" in table and "*" in table
    curves = T.curves(rows)
    assert set(curves) == {"scratch", "fine-tuned"} and len(curves["scratch"]) == 2


def test_finetune_cache_key_follows_the_source_model(monkeypatch):
    recipe = T.transfer_recipe("head, then top block", "dae_target")
    before = T.run_finetune.cache_path("breastmnist", 0.25, 0, recipe)
    assert before == T.run_finetune.cache_path("breastmnist", 0.25, 0, dict(recipe))
    monkeypatch.setattr(P, "TRAINING", {**P.TRAINING, "epochs": P.TRAINING["epochs"] + 1})
    assert T.run_finetune.cache_path("breastmnist", 0.25, 0, recipe) != before, \
        "pretraining differently must not reuse cached fine-tuning runs"
