"""Tests of helpers.evaluation: recalibration, threshold tables, imbalance tools,
the randomisation sanity check of heat maps (with explainers defined here, as lesson 06
defines its own), the simulated scanner shift, and the cached trained classifier
(same model whatever ran before)."""
from __future__ import annotations

from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402

from helpers import evaluation as ev  # noqa: E402
from helpers import metrics  # noqa: E402
from helpers.data import Split  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------- recalibration
def test_temperature_recovers_overconfidence_and_keeps_ranking():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 4000)
    y = (rng.random(4000) < _sigmoid(z)).astype(int)        # calibrated in z
    p_over = _sigmoid(3.0 * z)                               # 3x over-confident
    T = ev.fit_temperature(y, p_over, positive_label=1)
    assert T == pytest.approx(3.0, rel=0.15)
    fixed = ev.apply_temperature(p_over, T)
    assert roc_auc_score(y, fixed) == pytest.approx(roc_auc_score(y, p_over))
    ece = lambda p: metrics.expected_calibration_error(y, p, positive_label=1)  # noqa: E731
    assert ece(fixed) < ece(p_over) / 2


def test_platt_corrects_a_prior_shift_with_positive_label_0():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1.5, 4000)
    y = np.where(rng.random(4000) < _sigmoid(z), 0, 1)      # label 0 is positive
    p_shifted = _sigmoid(z + 1.5)                            # the prior of a balanced world
    a, b = ev.fit_platt(y, p_shifted, positive_label=0)
    assert a == pytest.approx(1.0, abs=0.15) and b == pytest.approx(-1.5, abs=0.2)
    fixed = ev.apply_platt(p_shifted, a, b)
    ece = lambda p: metrics.expected_calibration_error(y, p, positive_label=0)  # noqa: E731
    assert ece(fixed) < 0.03 < ece(p_shifted)


# ------------------------------------------------------------ threshold table
def test_threshold_table_matches_metrics_and_formats():
    y = np.array([0, 0, 1, 1, 1, 0])
    p0 = np.array([0.9, 0.4, 0.5, 0.1, 0.2, 0.6])           # P(label 0)
    rows = ev.threshold_table(y, p0, positive_label=0, thresholds=[0.3, 0.5])
    assert [r["threshold"] for r in rows] == [0.3, 0.5]
    assert rows[1]["tp"] == 2 and rows[1]["fp"] == 1 and rows[1]["fn"] == 1 and rows[1]["tn"] == 2
    assert rows[0]["sensitivity"] == pytest.approx(1.0)
    assert rows[1]["specificity"] == pytest.approx(metrics.specificity(y, p0, positive_label=0))
    text = ev.format_threshold_table(rows)
    assert len(text.splitlines()) == 3 and "sens" in text and "0.50" in text


def test_threshold_explorer_is_a_slider_that_redraws():
    import ipywidgets as widgets

    y = np.array([0, 0, 1, 1])
    box = ev.threshold_explorer(y, np.array([0.8, 0.3, 0.4, 0.1]), positive_label=0,
                                label_names=["malignant", "benign"])
    slider, image = box.children
    assert isinstance(slider, widgets.FloatSlider) and isinstance(image, widgets.Image)
    assert not any(isinstance(w, widgets.Output) for w in box.children), "Output widgets stall nbclient"
    before = bytes(image.value)
    assert before.startswith(b"\x89PNG")
    slider.value = 0.2                                       # the observer redraws
    assert bytes(image.value).startswith(b"\x89PNG") and bytes(image.value) != before


# ---------------------------------------------------------------- imbalance
def test_balanced_class_weights_match_sklearn():
    y = np.r_[np.zeros(30, int), np.ones(90, int), np.full(5, 7)]
    w = ev.balanced_class_weights(y)
    ref = compute_class_weight("balanced", classes=np.array([0, 1, 7]), y=y)
    assert list(w) == [0, 1, 7] and all(type(k) is int for k in w)
    assert np.allclose(list(w.values()), ref)


def test_oversample_balances_and_keeps_every_case():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    out = ev.oversample(Split(x, y), seed=0)
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
    rows = ev.summarise_runs(runs, positive_label=0, n_boot=100)
    assert any(tmp_path.rglob("*.joblib"))
    assert [r["method"] for r in rows] == ["plain", "class weights"]
    for r in rows:
        est, lo, hi = r["auc"]
        assert lo <= est <= hi and r["seeds"] == 3
        assert r["auc_seeds"][0] <= r["auc_seeds"][1]
    assert "auc_diff" not in rows[0]
    assert rows[1]["sensitivity_diff"]["diff"] > 0 and rows[1]["sensitivity_diff"]["real"]
    fig = ev.plot_method_comparison({"toy": rows})
    assert len(fig.axes) == 3


# ------------------------------------------- heat maps and the randomisation check
# Lesson 06 writes its saliency map and Grad-CAM in the notebook; the tests define
# small explainers of their own with the same signature (model, x, class_index).
@pytest.fixture(scope="module")
def square_model():
    """A tiny CNN trained to detect a bright square in the top-left corner."""
    import keras
    from helpers.models import build_cnn, train_classifier

    rng = np.random.default_rng(0)
    x = rng.random((400, 28, 28, 1)).astype(np.float32) * 0.3
    y = np.r_[np.zeros(200, int), np.ones(200, int)]
    x[200:, 3:11, 3:11, 0] += 0.7
    keras.utils.set_random_seed(0)
    model = build_cnn((28, 28, 1), 2, filters=(8, 16), dropout=0.0)
    train_classifier(model, x, y, x[::4], y[::4], epochs=4, lr=5e-3, batch_size=32, patience=4)
    return model, x


def _logit(model, features, class_index):
    head = model.get_layer("head")
    return (features @ head.kernel + head.bias)[:, class_index]


def _saliency(model, x, class_index):
    """|d logit / d pixel|, shape (N, H, W)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = _logit(model, model.get_layer("base")(x), class_index)
    return np.abs(tape.gradient(score, x).numpy()).max(axis=-1)


def _grad_cam(model, x, class_index, relu=True):
    """Grad-CAM on evaluation.last_conv_split, at the maps' own resolution, upsampled by repetition."""
    import tensorflow as tf

    to_maps, to_features = ev.last_conv_split(model)
    maps = to_maps(x)
    with tf.GradientTape() as tape:
        tape.watch(maps)
        score = _logit(model, to_features(maps), class_index)
    weights = tf.reduce_mean(tape.gradient(score, maps), axis=(1, 2), keepdims=True)
    cam = tf.reduce_sum(weights * maps, axis=-1).numpy()
    cam = np.maximum(cam, 0) if relu else cam
    k = x.shape[1] // cam.shape[1]
    return cam.repeat(k, axis=1).repeat(k, axis=2)


def _edges(model, x, class_index):
    """A 'map' that ignores the model: the image's horizontal edges."""
    return np.abs(np.gradient(np.asarray(x)[..., 0], axis=2))


def test_last_conv_split_cuts_the_base_after_its_last_relu(square_model):
    model, x = square_model
    assert ev.last_conv_layer(model) == "block2_relu"
    to_maps, to_features = ev.last_conv_split(model)
    maps = to_maps(x[:5])
    assert tuple(maps.shape) == (5, 14, 14, 16) and float(np.min(maps)) >= 0   # after the ReLU, before pooling
    whole = model.get_layer("base")(x[:5], training=False)
    assert np.allclose(to_features(maps), whole, atol=1e-6)


def test_maps_built_on_the_helpers_point_at_the_evidence(square_model):
    model, x = square_model
    assert np.mean(model.predict(x[200:220], verbose=0)[:, 1] > 0.5) == 1.0  # it learned the task
    inside = np.zeros((28, 28), bool)
    inside[3:11, 3:11] = True
    for fn in (_grad_cam, _saliency):
        maps = fn(model, x[200:216], class_index=1)
        assert maps.shape == (16, 28, 28)
        assert maps[:, inside].mean() > 2 * maps[:, ~inside].mean(), fn.__name__


def test_randomisation_check_detects_that_maps_depend_on_weights(square_model):
    model, x = square_model
    copy = ev.randomised_copy(model, seed=1)
    assert [w.shape for w in copy.weights] == [w.shape for w in model.weights]
    assert not np.allclose(copy.get_layer("head").kernel.numpy(), model.get_layer("head").kernel.numpy())
    for explain, compare in [(_saliency, None), (_grad_cam, partial(_grad_cam, relu=False))]:
        out = ev.randomisation_check(model, x[200:216], class_index=1, explain=explain, compare=compare, seed=1)
        assert out["trained"].shape == out["random"].shape == (16, 28, 28)
        assert np.array_equal(out["trained"], explain(model, x[200:216], 1))
        rho = out["rank_correlation"]
        assert rho.shape == (16,) and np.sum(np.isfinite(rho)) >= 8, explain.__name__
        assert np.nanmean(rho) < 0.6, explain.__name__           # the map changed
        assert out["blank"].shape == (16,)


def test_randomisation_check_fails_a_map_that_ignores_the_model(square_model):
    model, x = square_model
    out = ev.randomisation_check(model, x[200:208], class_index=1, explain=_edges, seed=1)
    assert np.allclose(out["rank_correlation"], 1.0)            # same map whatever the weights
    assert not out["blank"].any()


def test_randomisation_check_flags_blank_random_maps_and_bad_explainers(square_model):
    model, x = square_model

    def blank_when_random(m, xs, c):
        return _saliency(m, xs, c) if m is model else np.zeros((len(xs), 28, 28))

    out = ev.randomisation_check(model, x[200:204], class_index=1, explain=blank_when_random)
    assert out["blank"].all() and np.isnan(out["rank_correlation"]).all()   # a blank map has no ranking
    with pytest.raises(TypeError, match="must be functions"):
        ev.randomisation_check(model, x[:2], class_index=1, explain="grad_cam")
    with pytest.raises(ValueError, match="one \\(H, W\\) map per image"):
        ev.randomisation_check(model, x[:2], class_index=1, explain=lambda m, xs, c: np.zeros((len(xs), 7, 7)))


# ------------------------------------------------------------- dataset shift
def test_scanner_shift_keeps_shape_and_range():
    x = np.random.default_rng(4).random((5, 28, 28, 1)).astype(np.float32)
    s = ev.scanner_shift(x, seed=0)
    assert s.shape == x.shape and s.dtype == np.float32 and s.min() >= 0 and s.max() <= 1
    assert not np.allclose(s, x)


# ------------------------------------------------------- exercise diagnostics
@pytest.mark.parametrize("mistake, words", [
    (lambda r: r[::-1], "specificity, sensitivity"),
    ("polarity", "wrong polarity"),
    ("ppv", "PPV and NPV"),
])
def test_diagnose_sens_spec_names_the_mistake(mistake, words):
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    p0 = np.array([0.9, 0.7, 0.2, 0.6, 0.55, 0.1, 0.2, 0.4, 0.3, 0.1])
    right = (metrics.sensitivity(y, p0, positive_label=0), metrics.specificity(y, p0, positive_label=0))
    if mistake == "polarity":
        got = (metrics.sensitivity(y, p0, positive_label=1), metrics.specificity(y, p0, positive_label=1))
    elif mistake == "ppv":
        got = (metrics.ppv(y, p0, positive_label=0), metrics.npv(y, p0, positive_label=0))
    else:
        got = mistake(right)
    assert words in ev.diagnose_sens_spec(got, y, p0, 0, 0.5)


def test_diagnose_sens_spec_strict_threshold():
    y = np.array([1, 1, 1, 0, 0, 0])
    p = np.array([0.5, 0.9, 0.8, 0.1, 0.2, 0.6])
    got = (2 / 3, 2 / 3)                                      # '>' instead of '>='
    assert ">=" in ev.diagnose_sens_spec(got, y, p, 1, 0.5)


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
    first = ev.trained_classifier("breastmnist", **kw)
    path = ev.classifier_weights_path("breastmnist", 3, "plain", 0.1, TINY)
    assert path.is_file() and path.parent.parent == tmp_path
    p_first = first.predict(ds.test.x[:20], verbose=0)

    keras.utils.set_random_seed(999)                          # "another lesson ran before"
    np.random.default_rng(5).random(100)
    loaded = ev.trained_classifier("breastmnist", **kw)       # from the weights file
    assert np.allclose(loaded.predict(ds.test.x[:20], verbose=0), p_first, atol=1e-6)

    path.unlink()                                             # cold again, different RNG state
    keras.utils.set_random_seed(12345)
    retrained = ev.trained_classifier("breastmnist", **kw)
    assert np.allclose(retrained.predict(ds.test.x[:20], verbose=0), p_first, atol=1e-4)

    out = ev.predictions("breastmnist", method="class weights", **kw)
    assert out["p_test"].shape == (len(ds.test.y),) and np.allclose(out["p_test"], out["proba_test"][:, 0])
    with pytest.raises(ValueError, match="method must be one of"):
        ev.trained_classifier("breastmnist", method="smote", **kw)
