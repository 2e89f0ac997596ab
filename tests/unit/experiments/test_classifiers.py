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


def _toy_runs(y, shifts: dict[str, float], seeds: int, rng) -> list[dict]:
    """Single-seed test probabilities of label 0 (the positive class): informative, noisy, shifted per method."""
    runs = []
    for method, shift in shifts.items():
        for seed in range(seeds):
            p = np.clip(0.25 * (y == 0) + 0.4 * rng.random(len(y)) + shift * (y == 0), 0, 1)
            runs.append({"method": method, "seed": seed, "y_test": y, "p_test": p})
    return runs


def test_summarise_runs_scores_single_seed_models_never_their_average(tmp_path, monkeypatch):
    """Is every number a mean over single-seed models (not the score of seed-averaged predictions)?"""
    from helpers import metrics

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))     # summarise_runs is cached
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    runs = _toy_runs(y, {"plain": 0.0, "class weights": 0.25}, seeds=4, rng=rng)
    rows = classifiers.summarise_runs(runs, positive_label=0, n_boot=200)
    assert any(tmp_path.rglob("*.joblib"))
    assert [r["method"] for r in rows] == ["plain", "class weights"]
    plain = [r["p_test"] for r in runs if r["method"] == "plain"]
    per_seed = [metrics.roc_auc(y, p, positive_label=0) for p in plain]
    assert rows[0]["auc_per_seed"] == pytest.approx(per_seed)
    assert rows[0]["auc_mean"] == pytest.approx(np.mean(per_seed))
    assert rows[0]["auc_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    ensemble = metrics.roc_auc(y, np.mean(plain, axis=0), positive_label=0)
    assert rows[0]["auc_mean"] != pytest.approx(ensemble), "the seed-averaged (ensemble) AUC must not be reported"
    assert rows[0]["seeds"] == 4 and "auc_diff" not in rows[0]
    for name in classifiers.SCORES:
        d = rows[1][f"{name}_diff"]
        assert d["low"] <= d["diff"] <= d["high"]
    assert rows[1]["sensitivity_diff"]["diff"] > 0 and rows[1]["sensitivity_diff"]["real"]
    assert rows[1]["auc_diff"]["real"] and rows[1]["auc_diff"]["low"] > 0


def test_summarise_runs_refuses_unpaired_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    runs = _toy_runs(y, {"plain": 0.0, "resampling": 0.1}, seeds=3, rng=np.random.default_rng(0))
    runs = [r for r in runs if not (r["method"] == "resampling" and r["seed"] == 2)]
    with pytest.raises(ValueError, match="same seeds"):
        classifiers.summarise_runs(runs, positive_label=0, n_boot=50)


@pytest.mark.parametrize("name", ["sensitivity", "specificity", "ece"])
def test_resampled_scores_equal_the_metric_on_each_resample(name):
    from helpers import metrics

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 80)
    p = rng.random(80)
    resamples = np.array(list(metrics.bootstrap_indices(y, n_boot=20, seed=1)))
    counts = np.zeros((20, 80))
    np.add.at(counts, (np.arange(20)[:, None], resamples), 1.0)
    fast = classifiers._score_of_resamples(name, y == 1, p, counts, threshold=0.4)
    slow = [classifiers.score(name, y[idx], p[idx], positive_label=1, threshold=0.4) for idx in resamples]
    assert fast == pytest.approx(slow)


def test_the_two_level_interval_covers_a_known_zero_and_excludes_a_known_difference():
    """Seeds that differ only by noise give intervals around 0; a real shift of sensitivity is found."""
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 300)
    covered = 0
    for trial in range(20):
        same = [np.clip(0.3 * y + 0.7 * rng.random((10, 300)), 0, 1) for _ in range(2)]   # one distribution
        d = classifiers.seeds_and_cases_difference("sensitivity", y, same[0], same[1], positive_label=1,
                                                   n_boot=300, seed=trial)
        covered += d["low"] <= 0 <= d["high"]
    assert covered >= 17, f"a known zero difference was covered by only {covered} of 20 intervals"
    base = np.clip(0.3 * y + 0.7 * rng.random((10, 300)), 0, 1)
    d = classifiers.seeds_and_cases_difference("sensitivity", y, np.clip(base + 0.15, 0, 1), base,
                                               positive_label=1, n_boot=300)
    assert d["real"] and d["low"] > 0 and len(d["per_seed"]) == 10


def test_the_figure_fits_each_axis_to_its_values():
    """A change of a few points must be visible: the axis is not [0, 1] when every value is near 0.9."""
    rows = [{"method": m, **{f"{n}_per_seed": list(v + np.linspace(0, 0.02, 5)) for n in ("sensitivity", "specificity", "auc")},
             **{f"{n}_mean": v + 0.01 for n in ("sensitivity", "specificity", "auc")},
             **{f"{n}_sd": 0.008 for n in ("sensitivity", "specificity", "auc")}}
            for m, v in [("plain", 0.88), ("class weights", 0.91)]]
    fig = classifiers.plot_method_comparison({"toy": rows, "toy2": rows})
    assert len(fig.axes) == 6
    low, high = fig.axes[0].get_xlim()
    assert low > 0.8 and high < 0.97, (low, high)


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


READ_ONLY_CLASSIFIER = '''
import json
from helpers.experiments import classifiers
TINY = {"epochs": 1, "min_samples_per_epoch": 64, "filters": (4, 8), "batch_size": 32}
model = classifiers.trained_classifier("breastmnist", seed=3, fraction=0.1, recipe=TINY)
path = classifiers.classifier_weights_path("breastmnist", 3, "plain", 0.1, TINY)
print(json.dumps({"path": str(path), "saved": path.is_file(), "outputs": int(model.output_shape[-1])}))
'''


def test_trained_classifier_trains_into_the_learners_folder_when_the_cache_is_read_only(tmp_path):
    """A classroom's read-only cache that lacks a classifier (lesson 06): it trains and keeps the weights in
    the learner's own folder instead of failing with "Read-only file system"."""
    from pathlib import Path

    from conftest import run_python
    from helpers.data import DataError, load_dataset

    try:
        load_dataset("breastmnist")
    except DataError:
        pytest.skip("BreastMNIST is not available (set COURSE_DATA_DIR)")
    script, shared, own = tmp_path / "lesson06.py", tmp_path / "shared-cache", tmp_path / "home-cache"
    script.write_text(READ_ONLY_CLASSIFIER)
    shared.mkdir()
    out, _ = run_python(script, [], {"COURSE_CACHE_DIR": str(shared), "XDG_CACHE_HOME": str(own)},
                        read_only=(shared,))
    assert out["saved"] and out["outputs"] == 2
    assert Path(out["path"]).is_relative_to(own.resolve() / "transfer-learning-medicine"), out
    assert not any(shared.iterdir()), "nothing is written into the read-only cache"


def test_a_classifier_trained_by_the_reused_worker_equals_one_trained_fresh(tmp_path, monkeypatch):
    """The compiled worker (traced once per recipe in a process) gives exactly the model a freshly built,
    freshly compiled one gives, whatever it trained before."""
    import keras
    from helpers.data import DataError, label_splits, load_dataset
    from helpers.models import train_classifier

    try:
        ds = load_dataset("breastmnist")
    except DataError:
        pytest.skip("BreastMNIST is not available (set COURSE_DATA_DIR)")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    tiny = {**TINY, "epochs": 3, "patience": 1}  # a few epochs: early stopping restores the best
    r = classifiers.CLASSIFIER_RECIPE.with_overrides(tiny)
    keras.utils.set_random_seed(4)                                  # the old way: a new model, compiled, fitted
    model = classifiers._build(ds.train.x.shape[1:], 2, r)
    train, val = label_splits(ds, fraction=0.1, seed=4)
    fit_on = classifiers.tile_to(train, r.min_samples_per_epoch, 4)
    train_classifier(model, fit_on.x, fit_on.y, val.x, val.y, epochs=r.epochs, lr=r.lr, batch_size=r.batch_size,
                     patience=r.patience)
    expected = model.predict(ds.test.x, verbose=0)

    classifiers._WORKER.clear()
    first = classifiers.trained_classifier("breastmnist", seed=4, fraction=0.1, recipe=tiny)
    np.testing.assert_array_equal(first.predict(ds.test.x, verbose=0), expected)
    classifiers.trained_classifier("breastmnist", seed=5, method="class weights", fraction=0.1, recipe=tiny)
    classifiers.classifier_weights_path("breastmnist", 4, "plain", 0.1, tiny).unlink()
    again = classifiers.trained_classifier("breastmnist", seed=4, fraction=0.1, recipe=tiny)   # reused worker
    assert len(classifiers._WORKER) == 1
    np.testing.assert_array_equal(again.predict(ds.test.x, verbose=0), expected)
    np.testing.assert_array_equal(first.predict(ds.test.x, verbose=0), expected), "a returned model is its own"
