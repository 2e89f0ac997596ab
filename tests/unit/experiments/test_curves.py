"""Tests of helpers.experiments.curves: label-budget draws, training until it stops improving, seeds trained as one model."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.experiments import curves as C
from helpers.data import load_dataset


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))


def test_steps_and_seeds_follow_the_declared_settings():
    t = C.TRAINING
    assert C.steps_for(10) == t.min_steps
    assert C.steps_for(10**6) == t.max_steps
    assert C.steps_for(1000, t.replace(epochs=1)) == max(t.min_steps, -(-1000 // t.batch_size))
    assert all(C.seeds_for(n) == C.SEEDS for n in C.BUDGETS) and len(C.SEEDS) >= 10, "10 seeds at every budget"


def test_the_simplest_recipe_within_one_standard_error_is_chosen():
    # the leader's mean is 0.9 with a standard error of about 0.007: a recipe 0.005 behind is as good
    assert C.choose({"plain": [0.895] * 10, "fancy": [0.88, 0.92] * 5}) == "plain"
    assert C.choose({"plain": [0.85] * 10, "fancy": [0.88, 0.92] * 5}) == "fancy"
    assert C.choose({"a": [0.8, 0.9], "b": [0.95, 0.97], "c": [0.96, 0.96]}) == "b", "the first within tolerance"
    with pytest.raises(ValueError, match="at least one"):
        C.choose({})


def test_kind_names_what_a_comparison_measures():
    assert C.kind("pneumoniamnist", "simclr_chest").startswith("same-domain self-supervised pretraining")
    assert "not transfer across datasets" in C.kind("pneumoniamnist", "simclr_chest")
    assert C.kind("breastmnist", "simclr_chest").startswith("cross-dataset transfer")
    assert C.kind("breastmnist", "simclr_medmnist").startswith("pooled self-supervised pretraining")
    assert C.kind("retinamnist", "simclr_medmnist").startswith("pooled")
    assert C.recipe("transfer", "linear probe", "simclr_medmnist").source == "simclr_medmnist"
    with pytest.raises(KeyError, match="Known sources"):
        C.recipe("transfer", "linear probe", "imagenet21k")


def test_recipes_are_checked():
    assert C.recipe("scratch", "augmentation").augment is True
    assert C.recipe("transfer", "fine-tune all layers").trainable == "all"
    with pytest.raises(KeyError, match="Known: plain"):
        C.recipe("scratch", "resnet")
    with pytest.raises(ValueError, match="family"):
        C.recipe("ensemble", "plain")


def test_verdict_calls_a_difference_real_only_when_its_interval_excludes_zero():
    assert C.verdict({"low": 0.01, "high": 0.1}) == "helps"
    assert C.verdict({"low": -0.1, "high": -0.01}) == "hurts"
    assert C.verdict({"low": -0.01, "high": 0.1}) == "no difference shown"


@pytest.fixture
def short_training(monkeypatch):
    monkeypatch.setattr(C, "TRAINING", C.TRAINING.replace(min_steps=6, max_steps=6, checkpoints=2))


def test_a_seed_trained_with_others_equals_the_seed_trained_alone(short_training):
    """Seeds train as branches of one model: each branch must train exactly as that seed alone."""
    both = C.run_cell("breastmnist", 10, "scratch", "augmentation", (0, 1))
    alone = C.run_cell("breastmnist", 10, "scratch", "augmentation", (1,))
    assert [r["seed"] for r in both["runs"]] == [0, 1]
    np.testing.assert_allclose(both["runs"][1]["proba_test"], alone["runs"][0]["proba_test"], atol=1e-5)
    assert not np.allclose(both["runs"][0]["proba_test"], both["runs"][1]["proba_test"])
    run = both["runs"][0]
    assert run["n_train"] == 10 and run["steps"] == 6 and run["proba_test"].shape == both["y_test"].shape
    assert 0.0 <= run["val_auc"] <= 1.0 and [c[0] for c in run["checkpoints"]] == [3, 6]
    assert not both["early_stopping"], "two validation images are too few to stop on"


def test_with_a_large_validation_set_each_seed_keeps_its_best_checkpoint(monkeypatch):
    monkeypatch.setattr(C, "TRAINING", C.TRAINING.replace(min_steps=8, max_steps=8, checkpoints=4, patience=10))
    cell = C.run_cell("breastmnist", None, "scratch", "plain", (0, 1))
    assert cell["early_stopping"] and cell["runs"][0]["n_val"] >= C.TRAINING.min_val_to_stop
    for run in cell["runs"]:
        aucs = [auc for _, _, auc in run["checkpoints"]]
        assert len(aucs) == 4 and run["val_auc"] == max(aucs)
        assert run["steps"] == run["checkpoints"][aucs.index(max(aucs))][0] and run["steps_trained"] == 8


def test_training_stops_once_no_seed_improves_for_patience_checkpoints(monkeypatch):
    monkeypatch.setattr(C, "TRAINING", C.TRAINING.replace(min_steps=40, max_steps=40, checkpoints=20, patience=1,
                                                           min_val_to_stop=2))
    cell = C.run_cell("breastmnist", 50, "scratch", "plain", (0,))
    run = cell["runs"][0]
    aucs = [auc for _, _, auc in run["checkpoints"]]
    assert len(aucs) < 20, "with patience 1 a run must stop before its last checkpoint"
    assert aucs[-1] <= max(aucs[:-1]) and run["steps_trained"] == run["checkpoints"][-1][0]


def test_transfer_linear_probe_is_the_frozen_pretrained_base_with_a_trained_head(short_training, monkeypatch):
    """A linear probe trains a head on the frozen base's features: the pretrained base with that head put on
    it (build_finetune_model) predicts exactly what the cell reports, and the head did train."""
    import keras
    from helpers import pretrain as P
    from helpers.models import build_cnn_base, build_finetune_model, freeze, save_weights

    save_weights(build_cnn_base(**P.ARCH), P.weights_path("simclr_chest"))
    heads = []
    real_head = C._head
    monkeypatch.setattr(C, "_head", lambda *a, **k: heads.append(real_head(*a, **k)) or heads[-1])
    cell = C.run_cell("breastmnist", 10, "transfer", "linear probe", (0,))
    run, ds = cell["runs"][0], load_dataset("breastmnist")
    assert run["n_train"] == 10 and run["steps_trained"] == 6 and not cell["early_stopping"]
    full = build_finetune_model(freeze(P.load_pretrained("simclr_chest", pooling="flatten")), len(ds.label_names))
    keras.utils.set_random_seed(0)
    untrained = real_head(heads[0].input_shape[1], len(ds.label_names), 0.3, name="start")
    assert not np.allclose(heads[0].get_layer("head").kernel.numpy(), untrained.get_layer("head").kernel.numpy()), \
        "the head must have trained (else the comparison proves nothing)"
    full.get_layer("head").set_weights(heads[0].get_layer("head").get_weights())
    p_full = full.predict(ds.test.x, verbose=0)[:, ds.positive_label]
    np.testing.assert_allclose(run["proba_test"], p_full, atol=1e-5)


def test_a_cell_reusing_the_compiled_model_equals_a_fresh_one(short_training):
    """Cells of one recipe reuse the traced model (C._compiled): the second cell must train exactly as if fresh."""
    C._COMPILED.clear()
    C.run_cell.__wrapped__("breastmnist", 20, "scratch", "augmentation", (0, 1))
    reused = C.run_cell.__wrapped__("breastmnist", 10, "scratch", "augmentation", (0, 1))
    C._COMPILED.clear()
    fresh = C.run_cell.__wrapped__("breastmnist", 10, "scratch", "augmentation", (0, 1))
    for a, b in zip(reused["runs"], fresh["runs"]):
        np.testing.assert_array_equal(a["proba_test"], b["proba_test"])


def test_seed_aucs_scores_every_seed_alone():
    y = load_dataset("breastmnist").test.y
    pos = load_dataset("breastmnist").positive_label
    perfect, inverted = (y == pos).astype(float), (y != pos).astype(float)
    cell = {"dataset": "breastmnist", "y_test": y, "runs": [{"proba_test": perfect}, {"proba_test": inverted}]}
    np.testing.assert_allclose(C.seed_aucs(cell), [1.0, 0.0])
