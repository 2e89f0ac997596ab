"""Optional extra for online users: the fine-tuning steps of lesson 04 on an ImageNet-pretrained base.

Nothing in the course depends on this module: ImageNet weights must be
downloaded from Google's storage the first time (about 9 MB for MobileNetV2),
which an offline machine cannot do, so :func:`imagenet_model` raises
:class:`ImageNetUnavailable` with a clear message instead of a deep download
traceback. Once downloaded, Keras keeps the file in ``~/.keras/models``.

A 28-pixel grey MedMNIST image is resized to ``size`` pixels, copied into
three channels and scaled to [-1, 1], which is what MobileNetV2 was trained on.
"""
from __future__ import annotations

import socket
from pathlib import Path

import helpers

WEIGHTS_HOST = "storage.googleapis.com"
"""Where ``keras.applications`` downloads ImageNet weights from."""


class ImageNetUnavailable(RuntimeError):
    """ImageNet weights are neither cached nor downloadable (no internet). Taught in lesson 04."""


def _weights_file(size: int = 96) -> Path:
    """Where Keras caches MobileNetV2's ImageNet weights (no top) for ``size``-pixel inputs."""
    return Path.home() / ".keras" / "models" / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5"


def online(host: str = WEIGHTS_HOST, timeout: float = 3.0) -> bool:
    """True when ``host`` answers on port 443 within ``timeout`` seconds. No lesson calls it directly (lessons reach it through other helpers)."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def imagenet_model(n_classes: int = 2, size: int = 96, input_shape: tuple[int, int, int] = (28, 28, 1),
                   dropout: float = 0.3, weights: str | None = "imagenet"):
    """MobileNetV2 (ImageNet weights, frozen, batch norm in inference mode) with a new softmax head.

    The model takes course images (float32 in [0, 1], ``input_shape``) and
    resizes, colours and rescales them itself. ``weights=None`` builds the same
    architecture with random weights (for tests, no download). Raises
    :class:`ImageNetUnavailable` when the weights are not cached and the
    download host cannot be reached.

    Taught in lesson 04.
    """
    if size not in (96, 128, 160, 192, 224):
        raise ValueError(f"MobileNetV2 has ImageNet weights for 96, 128, 160, 192 or 224 px inputs, not {size}.")
    if weights == "imagenet" and not _weights_file(size).is_file() and not online():
        raise ImageNetUnavailable(
            f"ImageNet weights for MobileNetV2 ({size} px) are not in {_weights_file(size).parent} and "
            f"{WEIGHTS_HOST} cannot be reached: this machine is offline. This extra needs internet once "
            "(about 9 MB). Everything else in the course uses its own source models: "
            "helpers.pretrain.load_pretrained().")
    helpers.import_tensorflow()
    import keras
    from keras import layers

    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), include_top=False, weights=weights,
                                          pooling="avg")
    base.trainable = False  # frozen: also keeps its batch-norm layers in inference mode
    inputs = keras.Input(tuple(input_shape), name="image")
    x = layers.Resizing(size, size, name="resize")(inputs)
    if input_shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    x = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_plus1")(x)  # [0, 1] -> [-1, 1]
    x = layers.Dropout(dropout, name="dropout")(base(x))
    outputs = layers.Dense(n_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="imagenet_finetune")
