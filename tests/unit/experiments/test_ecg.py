"""Tests of helpers.experiments.ecg: resampling, normalisation, ECG200 splits, augmentation,
beat windows, the recurrent model and the cached training runs (tiny settings)."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.experiments import ecg
from helpers.data import EcgRecord

TINY = {"units": 4, "filters": 4, "epochs": 1, "augment": 1, "batch_size": 64}


def test_resample_shapes_and_values():
    x = np.stack([np.linspace(0, 1, 140), np.linspace(5, -5, 140)])  # straight lines stay straight
    out = ecg.resample(x, 96)
    assert out.shape == (2, 96, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, 0], np.linspace(0, 1, 96), atol=1e-6)
    np.testing.assert_allclose(out[1, [0, -1], 0], [5, -5], atol=1e-6)
    assert ecg.resample(x[..., None], 140).shape == (2, 140, 1)
    np.testing.assert_allclose(ecg.resample(x, 140)[..., 0], x, atol=1e-6)


def test_resample_rejects_bad_shapes():
    with pytest.raises(ValueError, match="one lead"):
        ecg.resample(np.zeros((2, 10, 2)))
    with pytest.raises(ValueError):
        ecg.resample(np.zeros(10))


def test_znorm_per_beat():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(5, 50, 1)) * [[[3.0]]] + 7).astype(np.float32)
    z = ecg.znorm(x)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-4)


def test_ecg200_splits_disjoint_stratified_seeded(data_dir):
    train, val, test = ecg.ecg200_splits(seed=3, n_val=20)
    assert len(train.y) == 80 and len(val.y) == 20 and len(test.y) == 100
    assert train.x.shape[1:] == (96, 1)
    assert set(np.unique(val.y)) == {0, 1}  # both classes present
    rows = {tuple(r) for r in np.round(train.x[..., 0], 5)}
    assert not any(tuple(r) in rows for r in np.round(val.x[..., 0], 5))
    again = ecg.ecg200_splits(seed=3, n_val=20)[1]
    other = ecg.ecg200_splits(seed=4, n_val=20)[1]
    assert np.array_equal(val.x, again.x) and not np.array_equal(val.x, other.x)
    with pytest.raises(ValueError):
        ecg.ecg200_splits(n_val=100)


def test_budget_draw_stratified_seeded_nested():
    y = np.repeat([0, 1], [55, 25])[np.random.default_rng(0).permutation(80)]  # ECG200's 80 training beats
    for n, want in [(10, [7, 3]), (20, [14, 6]), (50, [34, 16]), (80, [55, 25]), (2, [1, 1])]:
        idx = ecg.budget_draw(y, n, seed=3)
        assert len(idx) == n == len(np.unique(idx)) and np.all(np.diff(idx) > 0)
        assert np.bincount(y[idx]).tolist() == want, f"budget {n} is not stratified"
    a, b = ecg.budget_draw(y, 10, seed=3), ecg.budget_draw(y, 10, seed=4)
    assert np.array_equal(a, ecg.budget_draw(y, 10, seed=3)), "one seed, one draw"
    assert not np.array_equal(a, b), "another seed draws other beats"
    assert set(a) <= set(ecg.budget_draw(y, 20, seed=3)) <= set(ecg.budget_draw(y, 50, seed=3))
    rare = np.array([0] * 3 + [1] * 97)
    assert np.bincount(rare[ecg.budget_draw(rare, 5, seed=0)]).tolist() == [1, 4], "every class keeps a beat"
    for bad in (1, 81):
        with pytest.raises(ValueError, match="budget"):
            ecg.budget_draw(y, bad, seed=0)


def test_ecg5000_beats_resampled_and_labelled(data_dir):
    src = ecg.ecg5000_beats()
    assert src.x.shape == (500, ecg.LENGTH, 1)
    assert src.y.min() == 0 and src.y.max() == 4
    np.testing.assert_allclose(src.x.mean(axis=1), 0, atol=1e-4)


def test_augment_copies_and_determinism():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 30, 1)).astype(np.float32), np.arange(6)
    x0, y0 = ecg.augment(x, y, copies=0, seed=0)
    assert np.array_equal(x0, x) and np.array_equal(y0, y)
    xa, ya = ecg.augment(x, y, copies=3, seed=0)
    assert xa.shape == (24, 30, 1) and np.array_equal(ya, np.tile(y, 4))
    assert np.array_equal(xa[:6], x)  # originals first
    assert not np.allclose(xa[6:12], x)  # copies are perturbed...
    assert np.abs(xa[6:12] - x).mean() < 1.0  # ...but only a little
    assert np.array_equal(xa, ecg.augment(x, y, copies=3, seed=0)[0])


def test_beat_windows_on_a_synthetic_record():
    fs = 100.0
    sig = np.zeros((1000, 1), np.float32)
    peaks = np.array([5, 200, 500, 990])
    sig[peaks, 0] = 1.0
    rec = EcgRecord("synthetic", sig, fs, ["I"], peaks, np.array(["N", "V", "+", "N"]))
    win, sym, at = ecg.beat_windows(rec, before=0.1, after=0.2)
    # the first and last beats are too close to the ends; '+' is not a beat
    assert list(sym) == ["V"] and list(at) == [200]
    assert win.shape == (1, 30)
    assert win[0, 10] == 1.0  # the R peak sits `before` seconds into the window


def test_build_ecg_rnn_shapes():
    model = ecg.build_ecg_rnn(n_classes=3, units=5, filters=6, pool=4)
    enc = model.get_layer("encoder")
    assert enc.output.shape == (None, 5)
    assert enc.get_layer("front_pool").output.shape == (None, 24, 6)
    out = model.predict(np.zeros((2, ecg.LENGTH, 1), np.float32), verbose=0)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-5)
    plain = ecg.build_ecg_rnn(conv_front=False, cell="simple", n_layers=2, units=3)
    assert plain.get_layer("encoder").output.shape == (None, 3)
    with pytest.raises(ValueError, match="cell"):
        ecg.build_ecg_rnn(cell="transformer")
    mean = ecg.build_ecg_rnn(units=5, filters=6, readout="mean")
    assert mean.get_layer("encoder").get_layer("rnn1").output.shape == (None, 24, 5)
    assert mean.get_layer("encoder").output.shape == (None, 5)
    every = ecg.build_ecg_rnn(units=5, filters=6, readout="all")
    assert every.get_layer("encoder").output.shape == (None, 24 * 5)  # every step's state, in order
    with pytest.raises(ValueError, match="readout"):
        ecg.build_ecg_rnn(readout="first")


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
        train = ecg.ecg200_splits(s)[0]
        assert a["n_train"] == b["n_train"] == 10 and a["budget"] == 10
        assert np.array_equal(a["train_index"], b["train_index"]), "scratch and transfer see the same beats"
        assert np.array_equal(a["train_index"], ecg.budget_draw(train.y, 10, s))
        assert np.bincount(train.y[a["train_index"]]).tolist() == [7, 3]  # stratified: 31 % of the training beats are MI
        assert a["proba_test"].shape == (100, 2) and a["proba_val"].shape == (20, 2)
        assert not np.allclose(a["proba_test"], b["proba_test"]), "transfer starts from other weights"
    assert not np.array_equal(scratch[0]["train_index"], scratch[1]["train_index"]), "each seed draws its own beats"
    assert not np.allclose(runs[0]["proba_test"], scratch[0]["proba_test"]), "the budget changes what is trained"


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
        model = ecg.build_ecg_rnn(**arch)
        model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
        singles.append(model)
    stacked = ecg.build_stacked_rnn(3, **arch)
    ecg.stack_weights(stacked, [m.get_weights() for m in singles])
    x = rng.normal(size=(4, ecg.LENGTH, 3)).astype(np.float32)
    out = stacked.predict(x, verbose=0)
    assert out.shape == (4, 3, 2)
    for s, model in enumerate(singles):
        np.testing.assert_allclose(out[:, s], model.predict(x[..., s:s + 1], verbose=0), atol=1e-5)
        for a, b in zip(ecg.unstack_weights(stacked, 3, s), model.get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_beats, batch_size", [(32, 8), (90, 64)], ids=["full-batches", "budget-10-augmented"])
def test_stacked_seeds_train_independently(n_beats, batch_size):
    """Changing seed 1's labels leaves seed 0's trained weights alone, and off-block weights stay zero
    (also for a budget of 10 beats plus 8 copies each: one full and one partial batch per epoch)."""
    import keras

    arch = {"units": 4, "filters": 3, "readout": "all", "dropout": 0.0}
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n_beats, ecg.LENGTH, 2)).astype(np.float32)
    y = rng.integers(0, 2, size=(n_beats, 2))

    def train(labels):
        keras.utils.set_random_seed(0)
        model = ecg.build_stacked_rnn(2, **arch)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
        model.fit(x, labels, epochs=3, batch_size=batch_size, shuffle=False, verbose=0)
        return model

    a = train(y)
    b = train(np.stack([y[:, 0], 1 - y[:, 1]], axis=1))
    for wa, wb in zip(ecg.unstack_weights(a, 2, 0), ecg.unstack_weights(b, 2, 0)):
        np.testing.assert_allclose(wa, wb, atol=1e-6)
    assert any(not np.allclose(wa, wb) for wa, wb in zip(ecg.unstack_weights(a, 2, 1), ecg.unstack_weights(b, 2, 1)))
    again = ecg.build_stacked_rnn(2, **arch)
    ecg.stack_weights(again, [ecg.unstack_weights(a, 2, s) for s in range(2)])
    for wa, wg in zip(a.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(wa, wg)  # everything outside the seed blocks is exactly zero
