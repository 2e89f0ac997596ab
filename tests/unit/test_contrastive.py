"""Tests of helpers.contrastive: the loss against NumPy, the views, batch-norm statistics on clean images."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import contrastive as CL
from helpers.models import build_cnn_base


def _nt_xent_numpy(z_a, z_b, temperature):
    z = np.concatenate([z_a, z_b]).astype(float)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    logits = z @ z.T / temperature
    np.fill_diagonal(logits, -np.inf)
    n = len(z_a)
    partner = np.r_[np.arange(n, 2 * n), np.arange(n)]
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_p[np.arange(2 * n), partner].mean()


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_nt_xent_equals_the_formula(temperature):
    rng = np.random.default_rng(0)
    z_a, z_b = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))  # float64 too
    got = float(CL.nt_xent(z_a, z_b, temperature))
    assert got == pytest.approx(_nt_xent_numpy(z_a, z_b, temperature), rel=1e-5)
    assert float(CL.nt_xent(z_a, z_a * 3.0, temperature)) < got, "identical views must score better"


def test_views_differ_per_image_and_stay_images():
    x = np.random.default_rng(1).uniform(size=(16, 28, 28, 1)).astype("float32")
    views = CL.augmenter(seed=0)
    a, b = np.asarray(views(x, training=True)), np.asarray(views(x, training=True))
    assert a.shape == x.shape and not np.allclose(a, b)
    assert np.allclose(np.asarray(views(x, training=False)), x), "outside training, no distortion"


def test_clean_batch_norm_statistics_match_the_clean_images():
    base = build_cnn_base((28, 28, 1), (4, 8), batch_norm=True)
    x = np.random.default_rng(2).uniform(0.2, 0.9, size=(64, 28, 28, 1)).astype("float32")
    assert CL.clean_batch_norm_statistics(base, x) == 2
    bn = base.get_layer("block1_bn")
    conv = base.get_layer("block1_conv")(x).numpy()
    np.testing.assert_allclose(bn.moving_mean.numpy(), conv.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    assert bn.momentum == pytest.approx(0.99), "the momentum must be restored"


def test_a_short_pretraining_lowers_the_loss():
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(3).uniform(size=(128, 28, 28, 1)).astype("float32")
    model = CL.SimCLR(build_cnn_base((28, 28, 1), (8, 16), batch_norm=True))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    loss = model.fit(x, epochs=4, batch_size=64, verbose=0).history["loss"]
    assert loss[-1] < loss[0]
