"""Tests of helpers.experiments.curves: label-budget draws, fixed-length training, seeds trained in one compiled model."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.experiments import curves as C
from helpers.data import load_dataset


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))


def test_draw_budget_is_stratified_seeded_and_exact():
    y = np.array([0] * 30 + [1] * 70)
    idx = C.draw_budget(y, 10, seed=3)
    assert len(idx) == 10 and len(set(idx)) == 10
    assert np.sum(y[idx] == 0) == 3 and np.sum(y[idx] == 1) == 7
    assert np.array_equal(idx, C.draw_budget(y, 10, seed=3)), "the same seed must give the same draw"
    assert not np.array_equal(idx, C.draw_budget(y, 10, seed=4))
    assert np.array_equal(C.draw_budget(y, None, seed=0), np.arange(100))
    rare = np.array([0] * 2 + [1] * 98)
    assert np.sum(rare[C.draw_budget(rare, 10, seed=0)] == 0) == 1, "every class keeps at least one case"
    with pytest.raises(ValueError, match="cannot hold one case of each"):
        C.draw_budget(y, 1, seed=0)


def test_budget_splits_scale_validation_and_depend_only_on_the_seed():
    ds = load_dataset("pneumoniamnist")
    train, val = C.budget_splits(ds, 20, seed=0)
    assert len(train.y) == 20 and set(np.unique(val.y)) == {0, 1}
    assert len(val.y) == max(2, round(20 * len(ds.val.y) / len(ds.train.y)))
    again, _ = C.budget_splits(ds, 20, seed=0)
    assert np.array_equal(train.x, again.x), "every method must get the same draw at the same seed"
    big, big_val = C.budget_splits(ds, 200, seed=0)
    assert len(big_val.y) == round(200 * len(ds.val.y) / len(ds.train.y))
    full, full_val = C.budget_splits(ds, None, seed=1)
    assert len(full.y) == len(ds.train.y) and len(full_val.y) == len(ds.val.y)


def test_steps_and_seeds_follow_the_declared_settings():
    t = C.TRAINING
    assert C.steps_for(10) == t.min_steps
    assert C.steps_for(10**6) == t.max_steps
    assert C.steps_for(1000, t.replace(epochs=1)) == max(t.min_steps, -(-1000 // t.batch_size))
    assert C.seeds_for(10) == C.TINY_SEEDS and len(C.TINY_SEEDS) >= 10
    assert C.seeds_for(200) == C.SEEDS and len(C.SEEDS) >= 5 and C.seeds_for(None) == C.SEEDS


def test_recipes_are_checked():
    assert C.recipe("scratch", "augmentation").augment is True
    assert C.recipe("transfer", "fine-tune all layers").trainable == "all"
    with pytest.raises(KeyError, match="Known: plain"):
        C.recipe("scratch", "resnet")
    with pytest.raises(ValueError, match="family"):
        C.recipe("ensemble", "plain")


def test_verdict_calls_a_difference_real_only_when_its_interval_excludes_zero():
    assert C.verdict({"low": 0.01, "high": 0.1}) == "transfer helps"
    assert C.verdict({"low": -0.1, "high": -0.01}) == "transfer hurts"
    assert C.verdict({"low": -0.01, "high": 0.1}) == "no difference shown"


@pytest.fixture
def short_training(monkeypatch):
    monkeypatch.setattr(C, "TRAINING", C.TRAINING.replace(min_steps=6, max_steps=6, checkpoints=2))


def test_a_seed_trained_after_others_equals_the_seed_trained_alone(short_training):
    """The compiled model is reused across seeds: weights, optimizer and random states must be reset."""
    both = C.run_cell("breastmnist", 10, "scratch", "augmentation", (0, 1))
    alone = C.run_cell("breastmnist", 10, "scratch", "augmentation", (1,))
    assert [r["seed"] for r in both["runs"]] == [0, 1]
    np.testing.assert_allclose(both["runs"][1]["proba_test"], alone["runs"][0]["proba_test"], atol=1e-5)
    assert not np.allclose(both["runs"][0]["proba_test"], both["runs"][1]["proba_test"])
    run = both["runs"][0]
    assert run["n_train"] == 10 and run["steps"] == 6 and run["proba_test"].shape == both["y_test"].shape
    assert 0.0 <= run["val_auc"] <= 1.0 and run["checkpoints"] == []


def test_transfer_linear_probe_keeps_the_pretrained_base(short_training, monkeypatch):
    """A linear probe trains the head only: after training, the base holds exactly the pretrained weights."""
    from helpers import pretrain as P
    from helpers.models import build_cnn_base, save_weights

    path = save_weights(build_cnn_base(**P.ARCH), P.weights_path("simclr_chest"))
    pretrained = dict(np.load(path))
    built = []
    real_build = C._build
    monkeypatch.setattr(C, "_build", lambda *a: built.append(real_build(*a)) or built[-1])
    cell = C.run_cell("breastmnist", None, "transfer", "linear probe", (0,))
    run = cell["runs"][0]
    assert run["n_train"] == len(load_dataset("breastmnist").train.y)
    assert len(run["checkpoints"]) == 2 and run["checkpoints"][-1][0] == 6
    assert run["proba_test"].min() >= 0 and run["proba_test"].max() <= 1
    trained, start = built[0], built[-1]  # the compiled model fit() trained; the seed's starting weights
    base = trained.get_layer("base")
    assert {v.path for v in base.weights} == set(pretrained)
    for v in base.weights:
        np.testing.assert_array_equal(v.numpy(), pretrained[v.path],
                                      err_msg=f"the linear probe changed the pretrained base's {v.path}")
    assert not np.array_equal(trained.get_layer("head").kernel.numpy(), start.get_layer("head").kernel.numpy()), \
        "the head must have trained (else the base check proves nothing)"
