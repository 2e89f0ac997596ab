"""Tests of helpers.experiments.stacking: several seeds as one model, each seed trained as it would be alone."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.experiments import stacking
from helpers.models import build_ecg_rnn
from helpers.signals import LENGTH


STACK_ARCHS = [
    {"readout": "all"},
    {"readout": "last", "n_layers": 2},
    {"readout": "mean", "cell": "lstm"},
    {"readout": "last", "conv_front": False, "cell": "simple", "units": 3},
]


@pytest.mark.parametrize("arch", STACK_ARCHS, ids=lambda a: "-".join(str(v) for v in a.values()))
def test_stacked_model_equals_separate_models(arch):
    import keras

    arch = {"units": 5, "filters": 4, **arch}
    rng = np.random.default_rng(0)
    singles = []
    for s in range(3):
        keras.utils.set_random_seed(s)
        model = build_ecg_rnn(**arch)
        model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
        singles.append(model)
    stacked = stacking.build_stacked_rnn(3, **arch)
    stacking.stack_weights(stacked, [m.get_weights() for m in singles])
    x = rng.normal(size=(4, LENGTH, 3)).astype(np.float32)
    out = stacked.predict(x, verbose=0)
    assert out.shape == (4, 3, 2)
    for s, model in enumerate(singles):
        np.testing.assert_allclose(out[:, s], model.predict(x[..., s:s + 1], verbose=0), atol=1e-5)
        for a, b in zip(stacking.unstack_weights(stacked, 3, s), model.get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_beats, batch_size", [(32, 8), (90, 64)], ids=["full-batches", "budget-10-augmented"])
def test_stacked_seeds_train_independently(n_beats, batch_size):
    """Changing seed 1's labels leaves seed 0's trained weights alone, and off-block weights stay zero
    (also for a budget of 10 beats plus 8 copies each: one full and one partial batch per epoch)."""
    import keras

    arch = {"units": 4, "filters": 3, "readout": "all", "dropout": 0.0}
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n_beats, LENGTH, 2)).astype(np.float32)
    y = rng.integers(0, 2, size=(n_beats, 2))

    def train(labels):
        keras.utils.set_random_seed(0)
        model = stacking.build_stacked_rnn(2, **arch)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
        model.fit(x, labels, epochs=3, batch_size=batch_size, shuffle=False, verbose=0)
        return model

    a = train(y)
    b = train(np.stack([y[:, 0], 1 - y[:, 1]], axis=1))
    for wa, wb in zip(stacking.unstack_weights(a, 2, 0), stacking.unstack_weights(b, 2, 0)):
        np.testing.assert_allclose(wa, wb, atol=1e-6)
    assert any(not np.allclose(wa, wb) for wa, wb in zip(stacking.unstack_weights(a, 2, 1), stacking.unstack_weights(b, 2, 1)))
    again = stacking.build_stacked_rnn(2, **arch)
    stacking.stack_weights(again, [stacking.unstack_weights(a, 2, s) for s in range(2)])
    for wa, wg in zip(a.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(wa, wg)  # everything outside the seed blocks is exactly zero


def test_stacked_model_keeps_each_branch_on_its_own_input():
    import keras
    from helpers.models import build_cnn

    branches = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        branches.append(build_cnn((28, 28, 1), 2, name=f"seed{seed}"))
    model = stacking.stacked_model(branches)
    assert len(model.weights) == sum(len(b.weights) for b in branches), "no weight may be shared"
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    out = model.predict([x, x[::-1]], verbose=0)
    np.testing.assert_allclose(out[0], branches[0].predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(out[1], branches[1].predict(x[::-1], verbose=0), atol=1e-6)
