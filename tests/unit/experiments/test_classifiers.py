"""Tests of helpers.experiments.classifiers: imbalance tools, the summary of the imbalance
runs, and the cached trained classifier (same model whatever ran before)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

from helpers.experiments import classifiers  # noqa: E402
from helpers.data import Split  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")



# ---------------------------------------------------------------- imbalance
def test_balanced_class_weights_match_sklearn():
    y = np.r_[np.zeros(30, int), np.ones(90, int), np.full(5, 7)]
    w = classifiers.balanced_class_weights(y)
    ref = compute_class_weight("balanced", classes=np.array([0, 1, 7]), y=y)
    assert list(w) == [0, 1, 7] and all(type(k) is int for k in w)
    assert np.allclose(list(w.values()), ref)


def test_oversample_balances_and_keeps_every_case():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    out = classifiers.oversample(Split(x, y), seed=0)
    assert np.bincount(out.y).tolist() == [8, 8]
    assert set(out.x.ravel().tolist()) == set(range(10))
    assert np.array_equal(out.y, (out.x.ravel() >= 2).astype(int))  # images keep their labels


def test_summarise_runs_scores_seed_averages_with_paired_differences(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))     # summarise_runs is cached
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    runs = []
    for method, shift in [("plain", 0.0), ("class weights", 0.25)]:
        for seed in range(3):
            p = np.clip(0.25 * (y == 0) + 0.4 * rng.random(200) + shift * (y == 0), 0, 1)
            runs.append({"method": method, "seed": seed, "y_test": y, "p_test": p})
    rows = classifiers.summarise_runs(runs, positive_label=0, n_boot=100)
    assert any(tmp_path.rglob("*.joblib"))
    assert [r["method"] for r in rows] == ["plain", "class weights"]
    for r in rows:
        est, lo, hi = r["auc"]
        assert lo <= est <= hi and r["seeds"] == 3
        assert r["auc_seeds"][0] <= r["auc_seeds"][1]
    assert "auc_diff" not in rows[0]
    assert rows[1]["sensitivity_diff"]["diff"] > 0 and rows[1]["sensitivity_diff"]["real"]
    fig = classifiers.plot_method_comparison({"toy": rows})
    assert len(fig.axes) == 3


# ------------------------------------------------ cached trained classifier
TINY = {"epochs": 1, "min_samples_per_epoch": 64, "filters": (4, 8), "batch_size": 32}


def test_trained_classifier_is_the_same_model_whatever_ran_before(tmp_path, monkeypatch):
    import keras
    from helpers.data import DataError, load_dataset

    try:
        ds = load_dataset("breastmnist")
    except DataError:
        pytest.skip("BreastMNIST is not available (set COURSE_DATA_DIR)")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    kw = {"seed": 3, "fraction": 0.1, "recipe": TINY}
    first = classifiers.trained_classifier("breastmnist", **kw)
    path = classifiers.classifier_weights_path("breastmnist", 3, "plain", 0.1, TINY)
    assert path.is_file() and path.parent.parent == tmp_path
    p_first = first.predict(ds.test.x[:20], verbose=0)

    keras.utils.set_random_seed(999)                          # "another lesson ran before"
    np.random.default_rng(5).random(100)
    loaded = classifiers.trained_classifier("breastmnist", **kw)       # from the weights file
    assert np.allclose(loaded.predict(ds.test.x[:20], verbose=0), p_first, atol=1e-6)

    path.unlink()                                             # cold again, different RNG state
    keras.utils.set_random_seed(12345)
    retrained = classifiers.trained_classifier("breastmnist", **kw)
    assert np.allclose(retrained.predict(ds.test.x[:20], verbose=0), p_first, atol=1e-4)

    out = classifiers.predictions("breastmnist", method="class weights", **kw)
    assert out["p_test"].shape == (len(ds.test.y),) and np.allclose(out["p_test"], out["proba_test"][:, 0])
    with pytest.raises(ValueError, match="method must be one of"):
        classifiers.trained_classifier("breastmnist", method="smote", **kw)
