"""helpers.models: builders, weight files with clear errors, freezing, input checks."""
from __future__ import annotations

import numpy as np
import pytest

import keras
from helpers import models


def test_cnn_output_shape_and_layer_names():
    model = models.build_cnn((28, 28, 1), n_classes=3, filters=(4, 8))
    out = model.predict(np.zeros((2, 28, 28, 1), np.float32), verbose=0)
    assert out.shape == (2, 3) and np.allclose(out.sum(axis=1), 1, atol=1e-5)
    paths = [v.path for v in model.weights]
    assert "base/block1_conv/kernel" in paths and "head/kernel" in paths


def test_flatten_pooling_keeps_positions_and_loads_the_same_weights(tmp_path):
    gap = models.build_cnn_base(filters=(4, 8), batch_norm=True)
    flat = models.build_cnn_base(filters=(4, 8), batch_norm=True, pooling="flatten")
    assert gap.output_shape == (None, 8) and flat.output_shape == (None, 7 * 7 * 8)
    path = models.save_weights(gap, tmp_path / "w.npz")
    assert len(models.load_weights(flat, path)) == len(gap.weights)
    with pytest.raises(ValueError, match="pooling must be"):
        models.build_cnn_base(pooling="max")


def test_batch_norm_base_has_moving_statistics():
    base = models.build_cnn_base((28, 28, 1), filters=(4, 8), batch_norm=True)
    assert "base/block2_bn/moving_mean" in [v.path for v in base.weights]


def test_save_load_round_trip_restores_predictions(tmp_path):
    keras.utils.set_random_seed(0)
    a = models.build_cnn((28, 28, 1), 2, filters=(4, 8), batch_norm=True)
    keras.utils.set_random_seed(1)
    b = models.build_cnn((28, 28, 1), 2, filters=(4, 8), batch_norm=True)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    assert not np.allclose(a.predict(x, verbose=0), b.predict(x, verbose=0))
    models.save_weights(a, tmp_path / "a.weights.npz")
    loaded = models.load_weights(b, tmp_path / "a.weights.npz")
    assert len(loaded) == len(b.weights)
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), rtol=1e-6)


def test_base_weights_load_into_finetune_model_and_head_is_new(tmp_path):
    source = models.build_cnn((28, 28, 1), n_classes=5, filters=(4, 8))
    models.save_weights(source, tmp_path / "src.npz")
    base = models.build_cnn_base((28, 28, 1), filters=(4, 8))
    models.load_weights(base, tmp_path / "src.npz")  # the 5-class head in the file is ignored
    np.testing.assert_array_equal(base.get_layer("block1_conv").kernel.numpy(),
                                  source.get_layer("base").get_layer("block1_conv").kernel.numpy())
    ft = models.build_finetune_model(base, n_classes=2)
    assert ft.output_shape == (None, 2)


def test_mismatch_names_layer_and_both_shapes_and_changes_nothing(tmp_path):
    models.save_weights(models.build_cnn((28, 28, 1), 2, filters=(4, 8)), tmp_path / "w.npz")
    other = models.build_cnn((28, 28, 3), 2, filters=(4, 8))
    before = other.get_layer("base").get_layer("block2_conv").kernel.numpy().copy()
    with pytest.raises(models.WeightsMismatchError) as err:
        models.load_weights(other, tmp_path / "w.npz")
    msg = str(err.value)
    assert "layer 'base/block1_conv' weight 'kernel'" in msg
    assert "file has shape (3, 3, 1, 4), model expects (3, 3, 3, 4)" in msg
    np.testing.assert_array_equal(before, other.get_layer("base").get_layer("block2_conv").kernel.numpy())


def test_missing_weights_and_not_a_weights_file(tmp_path):
    models.save_weights(models.build_cnn_base((28, 28, 1), filters=(4,)), tmp_path / "small.npz")
    with pytest.raises(models.WeightsMismatchError, match="is not in the file"):
        models.load_weights(models.build_cnn_base((28, 28, 1), filters=(4, 8)), tmp_path / "small.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(models.WeightsMismatchError, match="not a weights file"):
        models.load_weights(models.build_cnn_base((28, 28, 1), filters=(4,)), tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match="helpers.pretrain"):
        models.load_weights(models.build_cnn_base((28, 28, 1), filters=(4,)), tmp_path / "none.npz")


def test_freeze_and_unfreeze_top_keeps_batch_norm_frozen():
    base = models.build_cnn_base((28, 28, 1), filters=(4, 8, 16), batch_norm=True)
    ft = models.build_finetune_model(models.freeze(base), n_classes=2)
    assert [v.path for v in ft.trainable_weights] == ["head/kernel", "head/bias"]
    names = models.unfreeze_top(base, n_blocks=1)
    assert names == ["block3_conv"]
    trainable = {v.path for v in ft.trainable_weights}
    assert "base/block3_conv/kernel" in trainable and "base/block2_conv/kernel" not in trainable
    assert not any("_bn/" in p for p in trainable)
    with pytest.raises(ValueError, match="between 0 and 3"):
        models.unfreeze_top(base, n_blocks=4)


def test_frozen_batch_norm_runs_in_inference_mode_even_when_training():
    """Keras 3: BN uses its moving statistics exactly when the layer is not trainable."""
    base = models.build_cnn_base((28, 28, 1), filters=(4, 8), batch_norm=True)
    ft = models.build_finetune_model(base, n_classes=2, dropout=0.0)
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
    same = lambda: np.allclose(ft(x, training=True).numpy(), ft(x, training=False).numpy(), atol=1e-6)  # noqa: E731
    assert not same(), "a trainable BN layer uses batch statistics in training"
    models.freeze(base)
    assert same()
    models.unfreeze_top(base, n_blocks=2)
    assert same(), "unfreeze_top must keep BN in inference mode"
    models.unfreeze_top(base, n_blocks=2, keep_batch_norm_frozen=False)
    assert not same()


@pytest.mark.parametrize("x,match", [
    (np.zeros((2, 28, 28), np.float32), "channel axis is missing"),
    (np.zeros((2, 28, 28, 1), np.uint8), "unscaled"),
    (np.full((2, 28, 28, 1), 255.0, np.float32), "unscaled"),
    (np.zeros((2, 28, 28, 3), np.float32), "expects 1"),
])
def test_check_images_catches_classic_mistakes(x, match):
    with pytest.raises(ValueError, match=match):
        models.check_images(x, channels=1)


def test_train_classifier_refuses_images_without_channel_axis():
    model = models.build_cnn((28, 28, 1), 2, filters=(4,))
    x = np.zeros((4, 28, 28), np.float32)
    with pytest.raises(ValueError, match="channel axis"):
        models.train_classifier(model, x, np.zeros(4, int), x, np.zeros(4, int), epochs=1)


def test_train_classifier_learns_a_separable_task():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 128)
    x = rng.random((128, 12, 12, 1)).astype("float32") * 0.2
    x[y == 1, :6] += 0.7
    keras.utils.set_random_seed(0)
    model = models.build_cnn((12, 12, 1), 2, filters=(4, 8), dropout=0.0)
    hist = models.train_classifier(model, x, y, x, y, epochs=15, lr=1e-2, batch_size=32)
    acc = np.mean(models.predict_proba(model, x).argmax(1) == y)
    assert acc > 0.9 and hist.history["loss"][-1] < hist.history["loss"][0]


def test_build_ecg_rnn_shapes():
    from helpers import models, signals

    model = models.build_ecg_rnn(n_classes=3, units=5, filters=6, pool=4)
    enc = model.get_layer("encoder")
    assert enc.output.shape == (None, 5)
    assert enc.get_layer("front_pool").output.shape == (None, 24, 6)
    out = model.predict(np.zeros((2, signals.LENGTH, 1), np.float32), verbose=0)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-5)
    plain = models.build_ecg_rnn(conv_front=False, cell="simple", n_layers=2, units=3)
    assert plain.get_layer("encoder").output.shape == (None, 3)
    with pytest.raises(ValueError, match="cell"):
        models.build_ecg_rnn(cell="transformer")
    mean = models.build_ecg_rnn(units=5, filters=6, readout="mean")
    assert mean.get_layer("encoder").get_layer("rnn1").output.shape == (None, 24, 5)
    assert mean.get_layer("encoder").output.shape == (None, 5)
    every = models.build_ecg_rnn(units=5, filters=6, readout="all")
    assert every.get_layer("encoder").output.shape == (None, 24 * 5)  # every step's state, in order
    with pytest.raises(ValueError, match="readout"):
        models.build_ecg_rnn(readout="first")
