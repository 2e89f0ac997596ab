"""Tests of helpers.pretrain: cache keys, clear errors, deterministic tiny pretraining, loading."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import pretrain as P
from helpers.models import WeightsMismatchError, build_cnn_base, save_weights

TINY = P.TRAINING.replace(epochs=1, batch_size=64, max_images=128)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets an empty course cache of its own."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))


def _base_with(value: float):
    base = build_cnn_base(**P.ARCH)
    for v in base.weights:
        v.assign(np.full(v.shape, value, dtype="float32"))
    return base


def test_weights_path_is_keyed_by_source_and_settings(tmp_path):
    a = P.weights_path("dae_target")
    assert a == P.weights_path("dae_target"), "the key must be stable"
    assert a.parent == tmp_path / "cache" / "pretrained"
    assert a != P.weights_path("dae_cross")
    assert a != P.weights_path("dae_target", P.TRAINING.replace(epochs=P.TRAINING.epochs + 1))


def test_unknown_source_names_the_known_ones():
    with pytest.raises(KeyError, match="dae_target"):
        P.weights_path("imagenet")


def test_missing_weights_without_build_say_how_to_build_them():
    with pytest.raises(P.PretrainedWeightsMissing, match="python -m helpers.pretrain dae_cross"):
        P.load_pretrained("dae_cross", build=False)


def test_pretraining_images_use_train_splits_only_and_are_grey():
    from helpers.data import load_dataset

    x, y = P.pretraining_images("dae_target")
    sizes = [len(load_dataset(d).train.y) for d in P.SOURCES["dae_target"]["datasets"]]
    assert len(x) == sum(sizes) == len(y)
    assert x.shape[1:] == (28, 28, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    # every image comes from a train split (BreastMNIST itself has one test image that is a
    # pixel-exact duplicate of a train image, so "no test pixels" cannot be checked directly)
    train_rows = set()
    for d in P.SOURCES["dae_target"]["datasets"]:
        tx = load_dataset(d).train.x
        tx = tx.mean(axis=-1, keepdims=True) if tx.shape[-1] != 1 else tx
        train_rows |= {row.tobytes() for row in tx.astype(np.float32).reshape(len(tx), -1)}
    assert all(row.tobytes() in train_rows for row in x.reshape(len(x), -1))
    x_cross, _ = P.pretraining_images("dae_cross")
    assert len(x_cross) == len(x) - len(load_dataset("breastmnist").train.y), "dae_cross must exclude breast images"


@pytest.mark.parametrize("source", ["dae_cross", "sup_pneumonia"])
def test_tiny_pretraining_is_deterministic_and_loadable(tmp_path, source):
    first = P.pretrain(source, training=TINY, path=tmp_path / "a.weights.npz", progress=False)
    second = P.pretrain(source, training=TINY, path=tmp_path / "b.weights.npz", progress=False)
    with np.load(first) as fa, np.load(second) as fb:
        assert sorted(fa.files) == sorted(fb.files)
        for k in fa.files:
            np.testing.assert_allclose(fa[k], fb[k], atol=1e-6, err_msg=k)
        assert "base/block1_conv/kernel" in fa.files
    meta = first.with_name("a.json").read_text()
    assert source in meta and '"n_images": 128' in meta
    base = build_cnn_base(**P.ARCH)
    init = base.get_layer("block1_conv").kernel.numpy().copy()
    from helpers.models import load_weights

    load_weights(base, first)
    assert not np.allclose(init, base.get_layer("block1_conv").kernel.numpy())


def test_load_pretrained_reads_the_cached_file():
    path = P.weights_path("dae_target")
    save_weights(_base_with(0.25), path)
    base = P.load_pretrained("dae_target", build=False)
    assert np.allclose(base.get_layer("block3_conv").kernel.numpy(), 0.25)
    assert P.ensure_pretrained("dae_target", build=False) == path


def test_damaged_or_foreign_weights_get_a_clear_error():
    path = P.weights_path("dae_target")
    save_weights(build_cnn_base((28, 28, 1), (16, 32, 64), batch_norm=False), path)
    with pytest.raises(WeightsMismatchError, match="--force") as info:
        P.load_pretrained("dae_target", build=False)
    assert "base/block1_" in str(info.value), "the error must name the layer that does not fit"


def test_cli_reports_cached_sources(capsys):
    save_weights(_base_with(0.1), P.weights_path("dae_cross"))
    assert P._main(["dae_cross"]) == 0
    assert "dae_cross: cached" in capsys.readouterr().out
