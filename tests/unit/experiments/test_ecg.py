"""Tests of helpers.experiments.ecg: lesson 03's cached runs and their report (tiny settings)."""
from __future__ import annotations

import numpy as np

from helpers import data, signals
from helpers.experiments import ecg

TINY = {"units": 4, "filters": 4, "epochs": 1, "augment": 1, "batch_size": 64}


def test_bootstrap_report(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    scores = {"good": np.clip(0.6 * y + 0.4 * rng.random(60), 0, 1), "random": rng.random(60)}
    rep = ecg.bootstrap_report(y, scores, pairs=[("good", "random")], n_boot=50, seed=1)
    for name in scores:
        for metric in ("accuracy", "roc_auc"):
            est, low, high = rep["ci"][name][metric]
            assert low <= est <= high
    assert rep["ci"]["good"]["roc_auc"][0] > rep["ci"]["random"]["roc_auc"][0]
    assert [(d["a"], d["b"], d["metric"]) for d in rep["paired"]] == [("good", "random", "accuracy"),
                                                                        ("good", "random", "roc_auc")]
    assert rep["paired"][1]["real"] and rep["paired"][1]["diff"] > 0


def test_cached_runs_tiny(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    arch = ecg.RNN_RECIPE.replace(**TINY).arch()
    monkeypatch.setattr(ecg, "PRETRAIN_RECIPE", ecg.PRETRAIN_RECIPE.replace(epochs=1))  # the tmp cache holds only this run
    src = ecg.pretrain_encoder(arch, 0)
    assert 0 <= src["holdout_accuracy"] <= 1 and src["n_holdout"] == 100
    assert isinstance(src["encoder_weights"], list) and src["encoder_weights"][0].shape == (7, 1, 4)
    runs = ecg.run_ecg200(TINY, seeds=[0, 1], pretrained=False)
    assert [r["seed"] for r in runs] == [0, 1]
    for run in runs:
        assert run["proba_test"].shape == (100, 2) and run["proba_val"].shape == (20, 2)
        np.testing.assert_allclose(run["proba_test"].sum(axis=1), 1, atol=1e-5)
        assert run["epochs"] == 1 and run["source_holdout_accuracy"] is None
    assert not np.array_equal(runs[0]["y_val"], runs[1]["y_val"]), "each seed cuts its own validation beats"
    assert ecg.run_ecg200.cache_path(TINY, seeds=[0, 1], pretrained=False).is_file()
    again = ecg.run_ecg200(TINY, seeds=[0, 1], pretrained=False)  # read back from the cache
    assert np.array_equal(again[1]["proba_test"], runs[1]["proba_test"])
    fixed = ecg.run_ecg200({**TINY, "epochs": 3}, seeds=[0])
    assert len(fixed[0]["train_loss"]) == 3, "a fixed number of epochs, no early stopping"
    moved = ecg.run_ecg200(TINY, seeds=[0], pretrained=True, pretrain_seed=0)[0]
    assert moved["source_holdout_accuracy"] == src["holdout_accuracy"]
    assert runs[0]["n_train"] == 80 and runs[0]["budget"] is None
    # a label budget: every seed trains on its own stratified draw, the same for scratch and transfer
    scratch = ecg.run_ecg200(TINY, seeds=[0, 1], budget=10)
    transfer = ecg.run_ecg200(TINY, seeds=[0, 1], budget=10, pretrained=True)
    for s, (a, b) in enumerate(zip(scratch, transfer)):
        train = signals.ecg200_splits(s)[0]
        assert a["n_train"] == b["n_train"] == 10 and a["budget"] == 10
        assert np.array_equal(a["train_index"], b["train_index"]), "scratch and transfer see the same beats"
        assert np.array_equal(a["train_index"], data.draw_labels(train.y, 10, seed=s))
        assert np.bincount(train.y[a["train_index"]]).tolist() == [7, 3]  # stratified: 31 % of the training beats are MI
        assert a["proba_test"].shape == (100, 2) and a["proba_val"].shape == (20, 2)
        assert not np.allclose(a["proba_test"], b["proba_test"]), "transfer starts from other weights"
    assert not np.array_equal(scratch[0]["train_index"], scratch[1]["train_index"]), "each seed draws its own beats"
    assert not np.allclose(runs[0]["proba_test"], scratch[0]["proba_test"]), "the budget changes what is trained"


