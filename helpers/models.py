"""Small CNN builders, weight files with clear errors, freezing, training (lessons 01, 03, 04, 05 and 06).

Layers have fixed names (``block1_conv``, ``block1_bn``, ... ``head``) so that
weights saved from one model load into another built the same way, and so a
mismatch can be reported by layer name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

import helpers

helpers.import_tensorflow()  # before Keras: keeps TensorFlow's start-up lines out of the output
import keras  # noqa: E402
from keras import layers  # noqa: E402

from helpers.signals import LENGTH as ECG_LENGTH  # noqa: E402


class WeightsMismatchError(ValueError):
    """Weights in a file do not fit the model they are loaded into. Taught in lesson 04."""


# ------------------------------------------------------------------ input checks
def check_images(x: np.ndarray, name: str = "x", channels: int | None = None) -> None:
    """Raise a clear ValueError for images a Keras CNN would choke on.

    Catches the classic mistakes: no channel axis (N, H, W), unscaled uint8
    pixels (0-255), or the wrong number of channels for the model.

    Taught in lesson 04.
    """
    x = np.asarray(x)
    if x.ndim == 3:
        raise ValueError(f"{name} has shape {x.shape}: the channel axis is missing. Keras Conv2D "
                         f"expects (N, H, W, C); add it with {name} = {name}[..., None].")
    if x.ndim != 4:
        raise ValueError(f"{name} has shape {x.shape}; images must be (N, H, W, C).")
    if x.dtype == np.uint8 or (x.size and float(np.max(x)) > 1.0 + 1e-6):
        raise ValueError(f"{name} looks unscaled (dtype {x.dtype}, max {np.max(x)}). The course's "
                         f"models expect float32 in [0, 1]: use {name}.astype('float32') / 255.")
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(f"{name} has {x.shape[-1]} channel(s) but the model expects {channels}.")


# ---------------------------------------------------------------------- builders
def build_cnn_base(
    input_shape: Sequence[int] = (28, 28, 1),
    filters: Sequence[int] = (16, 32, 64),
    batch_norm: bool = False,
    weight_decay: float = 0.0,
    pooling: str = "gap",
    name: str = "base",
) -> keras.Sequential:
    """Convolutional base: blocks of Conv(3x3, same) [-> BatchNorm] -> ReLU -> MaxPool, then a feature vector.

    ``pooling="gap"`` averages each feature map over space (64 numbers, where
    in the image is lost); ``"flatten"`` keeps every position (3 x 3 x 64 =
    576 numbers at 28 px), which suits small, centred medical images. Neither
    has weights, so weights load into a base built with either.

    Taught in lesson 04.
    """
    if pooling not in ("gap", "flatten"):
        raise ValueError(f"pooling must be 'gap' or 'flatten', got {pooling!r}.")
    reg = keras.regularizers.l2(weight_decay) if weight_decay else None
    stack: list[layers.Layer] = [keras.Input(tuple(input_shape))]
    for i, f in enumerate(filters, start=1):
        stack.append(layers.Conv2D(f, 3, padding="same", use_bias=not batch_norm,
                                   kernel_regularizer=reg, name=f"block{i}_conv"))
        if batch_norm:
            stack.append(layers.BatchNormalization(name=f"block{i}_bn"))
        stack.append(layers.ReLU(name=f"block{i}_relu"))
        stack.append(layers.MaxPooling2D(2, name=f"block{i}_pool"))
    stack.append(layers.GlobalAveragePooling2D(name="gap") if pooling == "gap" else layers.Flatten(name="flatten"))
    return keras.Sequential(stack, name=name)


def _augmentation(name: str = "augment") -> keras.Sequential:
    """Light augmentation for 28-px medical images: small shifts, rotations, zoom."""
    return keras.Sequential([
        layers.RandomTranslation(0.1, 0.1, fill_mode="nearest"),
        layers.RandomRotation(0.05, fill_mode="nearest"),
        layers.RandomZoom(0.1, fill_mode="nearest"),
    ], name=name)


def build_cnn(
    input_shape: Sequence[int] = (28, 28, 1),
    n_classes: int = 2,
    filters: Sequence[int] = (16, 32, 64),
    batch_norm: bool = False,
    dropout: float = 0.3,
    weight_decay: float = 0.0,
    augment: bool = False,
    pooling: str = "gap",
    name: str = "cnn",
) -> keras.Model:
    """A small CNN classifier: [augmentation] -> base -> dropout -> softmax head. Taught in lesson 01."""
    inputs = keras.Input(tuple(input_shape), name="image")
    x = _augmentation()(inputs) if augment else inputs
    x = build_cnn_base(input_shape, filters, batch_norm, weight_decay, pooling)(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


def build_finetune_model(base: keras.Model, n_classes: int, dropout: float = 0.3,
                         augment: bool = False, name: str = "finetune") -> keras.Model:
    """Put a new softmax head on a (pretrained) base.

    Batch normalisation: in Keras 3 a functional model passes the outer
    ``training`` flag to every layer (a ``training=False`` written here would
    be overridden during ``fit``). What keeps a BatchNormalization layer on its
    pretrained statistics is ``trainable = False``: :func:`freeze` and
    :func:`unfreeze_top` (which keeps BN frozen) do that.

    Taught in lesson 04.
    """
    inputs = keras.Input(base.input_shape[1:], name="image")
    x = _augmentation()(inputs) if augment else inputs
    x = base(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=name)


# ------------------------------------------------------------------ freezing
def freeze(model: keras.Layer) -> keras.Layer:
    """Make every weight of ``model`` non-trainable. Returns it. Taught in lesson 04."""
    model.trainable = False
    return model


def unfreeze_top(base: keras.Model, n_blocks: int = 1, keep_batch_norm_frozen: bool = True) -> list[str]:
    """Unfreeze the top ``n_blocks`` convolutional blocks of a base; return their layer names.

    Batch-normalisation layers stay frozen by default: with few labels their
    running statistics would drift away from the pretrained ones.

    Taught in lesson 04.
    """
    blocks = sorted({layer.name.split("_")[0] for layer in base.layers if layer.name.startswith("block")},
                    key=lambda b: int(b[5:]))
    if not 0 <= n_blocks <= len(blocks):
        raise ValueError(f"n_blocks must be between 0 and {len(blocks)} for this base.")
    base.trainable = True
    top = set(blocks[len(blocks) - n_blocks:])
    unfrozen = []
    for layer in base.layers:
        block = layer.name.split("_")[0]
        is_bn = isinstance(layer, layers.BatchNormalization)
        layer.trainable = block in top and not (is_bn and keep_batch_norm_frozen)
        if layer.trainable and layer.weights:
            unfrozen.append(layer.name)
    return unfrozen


def trainable_summary(model: keras.Model) -> list[tuple[str, int, bool]]:
    """(variable path, size, trainable) for every weight: what a fit would change. Taught in lesson 04."""
    trainable = {id(v) for v in model.trainable_weights}
    return [(v.path, int(np.prod(v.shape)), id(v) in trainable) for v in model.weights]


# --------------------------------------------------------------- weight files
def save_weights(model: keras.Model, path: str | os.PathLike) -> Path:
    """Save every weight of ``model`` as named arrays (``.npz``) keyed by variable path.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {v.path: np.asarray(v.numpy()) for v in model.weights}
    if len(arrays) != len(model.weights):
        raise ValueError(f"{model.name} has duplicate variable paths; give its layers unique names.")
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_weights(model: keras.Model, path: str | os.PathLike) -> list[str]:
    """Load weights saved by :func:`save_weights` into ``model``; return the loaded paths.

    Every weight of the model must be in the file with the same shape; weights
    in the file that the model lacks (e.g. the source task's head) are ignored.
    On a mismatch nothing is changed and the error names the layer and both shapes.

    Taught in lesson 04.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No weights file at {path}. Create it with "
                                "`python -m helpers.pretrain` (or save_weights).")
    try:
        with np.load(path) as f:
            stored = {k: f[k] for k in f.files}
    except (ValueError, OSError) as exc:
        raise WeightsMismatchError(f"{path} is not a weights file written by save_weights: {exc}") from exc
    missing, wrong = [], []
    for v in model.weights:
        if v.path not in stored:
            missing.append(v.path)
        elif tuple(stored[v.path].shape) != tuple(v.shape):
            wrong.append(f"layer '{v.path.rsplit('/', 1)[0]}' weight '{v.path.rsplit('/', 1)[1]}': "
                         f"file has shape {tuple(stored[v.path].shape)}, model expects {tuple(v.shape)}")
    if wrong or missing:
        lines = wrong[:5] + [f"weight '{m}' is not in the file" for m in missing[:5]]
        raise WeightsMismatchError(
            f"The weights in {path.name} do not fit model '{model.name}':\n  " + "\n  ".join(lines)
            + f"\n({len(wrong)} shape mismatch(es), {len(missing)} missing.) The file was saved from a "
            "different architecture: build the model with the same filters, input shape and "
            "batch_norm setting as the one that was saved.")
    for v in model.weights:
        v.assign(stored[v.path])
    return [v.path for v in model.weights]


# -------------------------------------------------------------------- training
def _compile_classifier(model: keras.Model, lr: float = 1e-3) -> keras.Model:
    """Compile with Adam, sparse categorical cross-entropy and accuracy."""
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train_classifier(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 32,
    patience: int = 5,
    class_weight: dict[int, float] | None = None,
    verbose: int = 0,
    compile: bool = True,
) -> keras.callbacks.History:
    """Compile and fit with early stopping on validation loss (best weights restored). Taught in lesson 04.

    ``compile=False`` fits a model the caller has compiled already (its optimizer state is the caller's).
    """
    if len(model.input_shape) == 4:  # an image model
        check_images(x_train, "x_train", channels=model.input_shape[-1])
        check_images(x_val, "x_val", channels=model.input_shape[-1])
    if compile:
        _compile_classifier(model, lr)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    return model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs,
                     batch_size=batch_size, callbacks=[stop], class_weight=class_weight,
                     verbose=verbose, shuffle=True)


def predict_proba(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, n_classes), with the image checks first. Taught in lesson 04."""
    if len(model.input_shape) == 4:
        check_images(x, "x", channels=model.input_shape[-1])
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


# ------------------------------------------------------------ recurrent ECG model
def ecg_encoder(copies: int, cell: str, units: int, n_layers: int, conv_front: bool, filters: int, pool: int,
             readout: str, length: int):
    """The ``encoder`` sub-model of :func:`build_ecg_rnn`; ``copies`` > 1 makes every layer that many times
    wider, with one input channel per copy (``helpers.experiments.stacking.build_stacked_rnn`` keeps the
    copies apart).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    import keras
    from keras import layers

    cells = {"simple": layers.SimpleRNN, "gru": layers.GRU, "lstm": layers.LSTM}
    if cell not in cells:
        raise ValueError(f"cell must be one of {sorted(cells)}, got {cell!r}.")
    if readout not in ("last", "mean", "all"):
        raise ValueError(f"readout must be 'last', 'mean' or 'all', got {readout!r}.")
    stack = [keras.Input((length, copies))]
    if conv_front:
        stack += [layers.Conv1D(copies * filters, 7, padding="same", activation="relu", name="front_conv"),
                  layers.MaxPooling1D(pool, name="front_pool")]
    for i in range(1, n_layers + 1):
        stack.append(cells[cell](copies * units, return_sequences=i < n_layers or readout != "last", name=f"rnn{i}"))
    if readout == "mean":
        stack.append(layers.GlobalAveragePooling1D(name="mean_state"))
    elif readout == "all":
        stack.append(layers.Flatten(name="all_states"))
    return keras.Sequential(stack, name="encoder")


def build_ecg_rnn(n_classes: int = 2, cell: str = "gru", units: int = 32, n_layers: int = 1,
                  conv_front: bool = True, filters: int = 32, pool: int = 4, readout: str = "last",
                  dropout: float = 0.2, length: int = ECG_LENGTH, name: str = "ecg_rnn"):
    """Recurrent beat classifier: [Conv1D(7) -> ReLU -> MaxPool(pool)] -> stacked RNN -> dropout -> softmax.

    ``readout="last"`` feeds the head the last hidden state; ``"mean"`` the
    average of the top layer's hidden states over all steps; ``"all"`` every
    step's hidden state side by side (24 x 32 numbers), so the head can see
    *when* in the beat something happened, as the nearest-neighbour baseline does.

    The part before the head is a sub-model named ``encoder`` (what is pretrained
    and transferred). The convolutional front end shortens the sequence the
    RNN has to read by ``pool`` (96 -> 24 steps), which makes it faster and
    easier to train on 80 beats.

    Taught in lesson 03.
    """
    import keras
    from keras import layers

    encoder = ecg_encoder(1, cell, units, n_layers, conv_front, filters, pool, readout, length)
    inputs = keras.Input((length, 1), name="beat")
    x = layers.Dropout(dropout, name="dropout")(encoder(inputs))
    outputs = layers.Dense(n_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=name)
