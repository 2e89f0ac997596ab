"""Tests of helpers.signals: resampling, normalisation, ECG200 splits, label budgets, augmentation, beat windows."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import signals
from helpers.data import EcgRecord


def test_resample_shapes_and_values():
    x = np.stack([np.linspace(0, 1, 140), np.linspace(5, -5, 140)])  # straight lines stay straight
    out = signals.resample(x, 96)
    assert out.shape == (2, 96, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, 0], np.linspace(0, 1, 96), atol=1e-6)
    np.testing.assert_allclose(out[1, [0, -1], 0], [5, -5], atol=1e-6)
    assert signals.resample(x[..., None], 140).shape == (2, 140, 1)
    np.testing.assert_allclose(signals.resample(x, 140)[..., 0], x, atol=1e-6)


def test_resample_rejects_bad_shapes():
    with pytest.raises(ValueError, match="one lead"):
        signals.resample(np.zeros((2, 10, 2)))
    with pytest.raises(ValueError):
        signals.resample(np.zeros(10))


def test_znorm_per_beat():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(5, 50, 1)) * [[[3.0]]] + 7).astype(np.float32)
    z = signals.znorm(x)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-4)


def test_ecg200_splits_disjoint_stratified_seeded(data_dir):
    train, val, test = signals.ecg200_splits(seed=3, n_val=20)
    assert len(train.y) == 80 and len(val.y) == 20 and len(test.y) == 100
    assert train.x.shape[1:] == (96, 1)
    assert set(np.unique(val.y)) == {0, 1}  # both classes present
    rows = {tuple(r) for r in np.round(train.x[..., 0], 5)}
    assert not any(tuple(r) in rows for r in np.round(val.x[..., 0], 5))
    again = signals.ecg200_splits(seed=3, n_val=20)[1]
    other = signals.ecg200_splits(seed=4, n_val=20)[1]
    assert np.array_equal(val.x, again.x) and not np.array_equal(val.x, other.x)
    with pytest.raises(ValueError):
        signals.ecg200_splits(n_val=100)


def test_ecg5000_beats_resampled_and_labelled(data_dir):
    src = signals.ecg5000_beats()
    assert src.x.shape == (500, signals.LENGTH, 1)
    assert src.y.min() == 0 and src.y.max() == 4
    np.testing.assert_allclose(src.x.mean(axis=1), 0, atol=1e-4)


def test_augment_copies_and_determinism():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 30, 1)).astype(np.float32), np.arange(6)
    x0, y0 = signals.augment(x, y, copies=0, seed=0)
    assert np.array_equal(x0, x) and np.array_equal(y0, y)
    xa, ya = signals.augment(x, y, copies=3, seed=0)
    assert xa.shape == (24, 30, 1) and np.array_equal(ya, np.tile(y, 4))
    assert np.array_equal(xa[:6], x)  # originals first
    assert not np.allclose(xa[6:12], x)  # copies are perturbed...
    assert np.abs(xa[6:12] - x).mean() < 1.0  # ...but only a little
    assert np.array_equal(xa, signals.augment(x, y, copies=3, seed=0)[0])


def test_beat_windows_on_a_synthetic_record():
    fs = 100.0
    sig = np.zeros((1000, 1), np.float32)
    peaks = np.array([5, 200, 500, 990])
    sig[peaks, 0] = 1.0
    rec = EcgRecord("synthetic", sig, fs, ["I"], peaks, np.array(["N", "V", "+", "N"]))
    win, sym, at = signals.beat_windows(rec, before=0.1, after=0.2)
    # the first and last beats are too close to the ends; '+' is not a beat
    assert list(sym) == ["V"] and list(at) == [200]
    assert win.shape == (1, 30)
    assert win[0, 10] == 1.0  # the R peak sits `before` seconds into the window
