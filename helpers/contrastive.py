"""Contrastive self-supervised pretraining (SimCLR-style) on unlabelled images (lesson 04).

The idea, in the lesson's words: show the network two randomly distorted
*views* of the same unlabelled image and train it so that their feature
vectors agree, while the views of the other images in the batch disagree.
No label is used. What survives every distortion (crops, flips, brightness,
contrast, noise) is what the features learn to keep: anatomy and texture,
not the exposure of one scanner.

- :func:`augmenter`: the random distortions (Keras preprocessing layers).
- :func:`nt_xent`: the contrastive loss (normalised temperature-scaled cross-entropy).
- :class:`SimCLR`: encoder + projection head, trained by :meth:`SimCLR.train_step`.
- :func:`clean_batch_norm_statistics`: re-estimates batch-norm statistics on clean
  images, so the encoder used for transfer normalises the images it will see.

The cached, full pretraining run is :func:`helpers.pretrain.pretrain` with a
``"contrastive"`` source; the lesson runs a short live version of it.
References: Chen et al. 2020 (SimCLR, ICML); Azizi et al. 2021 (ICCV:
self-supervised pretraining on unlabelled medical images).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import helpers

helpers.import_tensorflow()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def augmenter(seed: int = 0, name: str = "views") -> keras.Sequential:
    """Random distortions that make two *views* of one image (lesson 04).

    Per image: a horizontal flip, a shift of up to 15 %, a zoom (a crop of
    60-110 % of the image, scaled back to 28 px), contrast and brightness
    changes, and Gaussian noise. Outside training it changes nothing.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomTranslation(0.15, 0.15, fill_mode="constant", seed=seed + 1),
        layers.RandomZoom((-0.4, 0.1), fill_mode="constant", seed=seed + 2),
        layers.RandomContrast(0.5, seed=seed + 3),
        layers.RandomBrightness(0.3, value_range=(0.0, 1.0), seed=seed + 4),
        layers.GaussianNoise(0.05, seed=seed + 5),
    ], name=name)


def nt_xent(z_a: Any, z_b: Any, temperature: float = 0.2) -> Any:
    """SimCLR's loss for a batch of N image pairs (lesson 04).

    ``z_a[i]`` and ``z_b[i]`` are the projections of two views of image ``i``.
    Every one of the 2N views must pick out its partner among the 2N - 1
    others: a softmax over cosine similarities divided by ``temperature``,
    scored with cross-entropy. Lower is better; chance is ``log(2N - 1)``.

    Taught in lesson 04.
    """
    z = tf.math.l2_normalize(tf.cast(tf.concat([z_a, z_b], axis=0), "float32"), axis=1)
    n = tf.shape(z)[0] // 2
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits = logits - 1e9 * tf.eye(2 * n)                       # a view is not its own partner
    partner = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    loss = keras.losses.sparse_categorical_crossentropy(partner, logits, from_logits=True)
    return tf.reduce_mean(loss)


class SimCLR(keras.Model):
    """Encoder + projection head trained with :func:`nt_xent` on two views of each image (lesson 04).

    ``fit(x)`` takes unlabelled images only. After training, keep ``encoder``
    (the convolutional base) and throw the projection head away.

    Taught in lesson 04.
    """

    def __init__(self, encoder: keras.Model, projection_dim: int = 64, temperature: float = 0.2,
                 seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.views = augmenter(seed)
        self.projector = keras.Sequential([layers.Dense(128, activation="relu"), layers.Dense(projection_dim)],
                                          name="projector")
        self.temperature = temperature
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self) -> list:
        return [self.loss_tracker]

    def call(self, x: Any, training: bool = False) -> Any:
        return self.projector(self.encoder(x, training=training), training=training)

    def train_step(self, x: Any) -> dict[str, Any]:
        view_a, view_b = self.views(x, training=True), self.views(x, training=True)
        with tf.GradientTape() as tape:
            loss = nt_xent(self(view_a, training=True), self(view_b, training=True), self.temperature)
        variables = self.encoder.trainable_variables + self.projector.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def clean_batch_norm_statistics(encoder: keras.Model, x: np.ndarray, batch: int = 4096) -> int:
    """Set every batch-norm layer's moving mean and variance to their values on clean images ``x``.

    During pretraining the statistics were averaged over *distorted* views;
    transfer feeds clean images. One training-mode pass over a large clean
    batch with momentum 0 replaces them. Returns the number of BN layers reset.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    bns = [layer for layer in encoder.layers if isinstance(layer, layers.BatchNormalization)]
    momenta = [layer.momentum for layer in bns]
    try:
        for layer in bns:
            layer.momentum = 0.0
        encoder(np.asarray(x[:batch], dtype=np.float32), training=True)
    finally:
        for layer, m in zip(bns, momenta):
            layer.momentum = m
    return len(bns)
