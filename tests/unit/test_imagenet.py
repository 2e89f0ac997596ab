"""The optional ImageNet extra: a clear message offline, and the right model when weights exist."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import imagenet


def test_offline_without_cached_weights_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(imagenet, "_weights_file", lambda size=96: tmp_path / "missing.h5")
    monkeypatch.setattr(imagenet, "online", lambda *a, **k: False)
    with pytest.raises(imagenet.ImageNetUnavailable, match="offline") as err:
        imagenet.imagenet_model()
    assert "load_pretrained" in str(err.value) and str(tmp_path) in str(err.value)


def test_unsupported_size_is_refused_before_any_download():
    with pytest.raises(ValueError, match="96, 128"):
        imagenet.imagenet_model(size=28)


def test_online_is_false_for_a_host_that_cannot_resolve():
    assert imagenet.online("no-such-host.invalid", timeout=1.0) is False


def test_model_takes_course_images_and_only_the_head_trains():
    model = imagenet.imagenet_model(n_classes=3, size=96, weights=None)  # same architecture, no download
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    out = np.asarray(model.predict(x, verbose=0))
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-5)
    assert model.get_layer("resize").output.shape == (None, 96, 96, 1)
    assert model.get_layer("grey_to_rgb").output.shape == (None, 96, 96, 3)
    assert sorted(v.path for v in model.trainable_weights) == ["head/bias", "head/kernel"]
