"""Several seeds trained as one Keras model, two ways (lessons 01, 03, 04: the seeds of a budget).

Seeds are paid for with cheaper training, not cut: one model that holds every
seed trains them together. :func:`stacked_model` puts one branch per seed side
by side, each on its own input (the image curves of lessons 01 and 04);
:func:`build_stacked_rnn` makes every layer of lesson 03's recurrent network
``n_seeds`` times wider with block-diagonal weights (one input channel per
seed). Either way no weight is shared, so each seed trains as it would alone
(unit tests check both).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers.models import build_ecg_rnn, ecg_encoder
from helpers.signals import LENGTH


def stacked_model(branches: list[Any]) -> Any:
    """One Keras model whose outputs are ``branches`` (one model per seed), each on its own input.

    Training it with one loss per output trains every branch as if alone: the
    total loss is the sum, and no weight is shared between branches.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    import keras

    inputs = [keras.Input(b.input_shape[1:], name=f"{b.name}_image") for b in branches]
    return keras.Model(inputs, [b(x) for b, x in zip(branches, inputs)], name="seeds")


def _seed_index(n_seeds: int, width: int, groups: int, s: int) -> np.ndarray:
    """Where entry j of seed s goes in a layer ``n_seeds`` times wider: block g = j // width of
    ``groups`` (gates, or time steps) holds all seeds side by side, ``width`` entries each."""
    j = np.arange(groups * width)
    return (j // width) * n_seeds * width + s * width + j % width


def _weight_layouts(single) -> list[tuple[tuple[int, int] | None, tuple[int, int]]]:
    """For each array of ``single.get_weights()``: (rows, columns) as (width, groups); rows None for biases."""
    layouts: list[tuple[tuple[int, int] | None, tuple[int, int]]] = []
    units = 1
    for layer in single.get_layer("encoder").layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if hasattr(layer, "cell"):  # recurrent: kernel (in, G*H), recurrent kernel (H, G*H), bias (..., G*H)
            units = layer.units
            gates = ws[1].shape[1] // units
            layouts += [((ws[0].shape[0], 1), (units, gates)), ((units, 1), (units, gates)), (None, (units, gates))]
        else:  # Conv1D: kernel (k, in, out), bias (out,)
            layouts += [((ws[0].shape[1], 1), (ws[0].shape[2], 1)), (None, (ws[0].shape[2], 1))]
    kernel = single.get_layer("head").get_weights()[0]  # (steps * H, classes): every step's H states
    layouts += [((units, kernel.shape[0] // units), (kernel.shape[1], 1)), (None, (kernel.shape[1], 1))]
    return layouts


def _stack_array(arrays: list[np.ndarray], layout) -> np.ndarray:
    rows, cols = layout
    n = len(arrays)
    shape = list(arrays[0].shape)
    shape[-1] *= n
    if rows is not None:
        shape[-2] *= n
    out = np.zeros(shape, np.float32)
    for s, a in enumerate(arrays):
        c = _seed_index(n, *cols, s)
        if rows is None:
            out[..., c] = a
        else:
            out[..., _seed_index(n, *rows, s)[:, None], c] = a
    return out


def _unstack_array(array: np.ndarray, layout, n_seeds: int, s: int) -> np.ndarray:
    rows, cols = layout
    c = _seed_index(n_seeds, *cols, s)
    return array[..., c] if rows is None else array[..., _seed_index(n_seeds, *rows, s)[:, None], c]


def build_stacked_rnn(n_seeds: int, n_classes: int = 2, cell: str = "gru", units: int = 32, n_layers: int = 1,
                      conv_front: bool = True, filters: int = 32, pool: int = 4, readout: str = "last",
                      dropout: float = 0.2, length: int = LENGTH):
    """``n_seeds`` independent copies of :func:`build_ecg_rnn` side by side in one Keras model.

    Input ``(N, length, n_seeds)``: channel s is seed s's beat; output
    ``(N, n_seeds, n_classes)``. Every layer is ``n_seeds`` times wider with
    block-diagonal weights (a constraint zeroes the rest after every update),
    so seed s's output depends on seed s's weights and input only: fitting it
    trains ``n_seeds`` separate models in one graph, about 2x faster on a
    2-core CPU than one after the other. Move weights in and out with
    :func:`stack_weights` and :func:`unstack_weights`.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    import keras
    from keras import layers

    single = build_ecg_rnn(n_classes, cell, units, n_layers, conv_front, filters, pool, readout, dropout, length)
    # (one copy's weight shapes give the block layout of every weight array)
    encoder = ecg_encoder(n_seeds, cell, units, n_layers, conv_front, filters, pool, readout, length)
    inputs = keras.Input((length, n_seeds), name="beats")
    x = layers.Dropout(dropout, name="dropout")(encoder(inputs))
    x = layers.Reshape((n_seeds, n_classes), name="per_seed")(layers.Dense(n_seeds * n_classes, name="head")(x))
    model = keras.Model(inputs, layers.Softmax(name="softmax")(x), name=f"{n_seeds}_seeds_stacked")
    model.seed_layouts = _weight_layouts(single)
    for var, w, layout in zip(model.weights, single.get_weights(), model.seed_layouts):
        if layout[0] is not None:  # kernels: keep them block-diagonal
            mask = _stack_array([np.ones_like(w)] * n_seeds, layout)
            var.constraint = lambda v, m=mask: v * m
            var.assign(var.constraint(var))
    return model


def stack_weights(model, per_seed: list[list[np.ndarray]]) -> None:
    """Load one :func:`build_ecg_rnn` model's ``get_weights()`` per seed into a :func:`build_stacked_rnn` model.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    model.set_weights([_stack_array([w[i] for w in per_seed], layout) for i, layout in enumerate(model.seed_layouts)])


def unstack_weights(model, n_seeds: int, s: int) -> list[np.ndarray]:
    """Seed s's weights from a :func:`build_stacked_rnn` model, ready for ``build_ecg_rnn(...).set_weights``.

    No lesson uses it: it takes one seed out of lesson 03's stacked model, and its test checks
    that the stacked seeds are the separate models they stand for.
    """
    return [_unstack_array(w, layout, n_seeds, s) for w, layout in zip(model.get_weights(), model.seed_layouts)]
