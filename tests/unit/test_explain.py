"""Tests of helpers.explain: the cut at the last convolutional maps and the randomisation
sanity check of heat maps, with explainers defined here (as lesson 06 defines its own)."""
from __future__ import annotations

from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import explain  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


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

    to_maps, to_features = explain.last_conv_split(model)
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
    assert explain.last_conv_layer(model) == "block2_relu"
    to_maps, to_features = explain.last_conv_split(model)
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
    copy = explain.randomised_copy(model, seed=1)
    assert [w.shape for w in copy.weights] == [w.shape for w in model.weights]
    assert not np.allclose(copy.get_layer("head").kernel.numpy(), model.get_layer("head").kernel.numpy())
    for explainer, compare in [(_saliency, None), (_grad_cam, partial(_grad_cam, relu=False))]:
        out = explain.randomisation_check(model, x[200:216], class_index=1, explain=explainer, compare=compare, seed=1)
        assert out["trained"].shape == out["random"].shape == (16, 28, 28)
        assert np.array_equal(out["trained"], explainer(model, x[200:216], 1))
        rho = out["rank_correlation"]
        assert rho.shape == (16,) and np.sum(np.isfinite(rho)) >= 8, explainer.__name__
        assert np.nanmean(rho) < 0.6, explainer.__name__           # the map changed
        assert out["blank"].shape == (16,)


def test_randomisation_check_fails_a_map_that_ignores_the_model(square_model):
    model, x = square_model
    out = explain.randomisation_check(model, x[200:208], class_index=1, explain=_edges, seed=1)
    assert np.allclose(out["rank_correlation"], 1.0)            # same map whatever the weights
    assert not out["blank"].any()


def test_randomisation_check_flags_blank_random_maps_and_bad_explainers(square_model):
    model, x = square_model

    def blank_when_random(m, xs, c):
        return _saliency(m, xs, c) if m is model else np.zeros((len(xs), 28, 28))

    out = explain.randomisation_check(model, x[200:204], class_index=1, explain=blank_when_random)
    assert out["blank"].all() and np.isnan(out["rank_correlation"]).all()   # a blank map has no ranking
    with pytest.raises(TypeError, match="must be functions"):
        explain.randomisation_check(model, x[:2], class_index=1, explain="grad_cam")
    with pytest.raises(ValueError, match="one \\(H, W\\) map per image"):
        explain.randomisation_check(model, x[:2], class_index=1, explain=lambda m, xs, c: np.zeros((len(xs), 7, 7)))
