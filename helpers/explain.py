"""Heat maps, checked (lesson 06): the plumbing around the lesson's own saliency map and Grad-CAM.

Lesson 06 writes the saliency map and Grad-CAM itself (a ``tf.GradientTape`` on
the class score). This module cuts a :func:`helpers.models.build_cnn` model at its
last convolutional maps, draws maps over images, and runs the
model-randomisation sanity check of Adebayo et al. (2018): a faithful map must
change when the weights do.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


# Lesson 06 writes the saliency map and Grad-CAM itself (tf.GradientTape on the
# class score); these are the plumbing around them and the sanity check.
def last_conv_layer(model) -> str:
    """Name of the base's last ReLU (the last convolutional feature maps before pooling). Taught in lesson 06."""
    return [lyr.name for lyr in model.get_layer("base").layers if lyr.name.endswith("_relu")][-1]


def last_conv_split(model):
    """The base of a :func:`helpers.models.build_cnn` model cut after :func:`last_conv_layer`.

    Returns two functions: ``to_maps(x)``, images -> the last convolutional
    feature maps (N, h, w, channels), and ``to_features(maps)``, those maps ->
    the pooled features the head reads; ``to_features(to_maps(x))`` is the
    base's output. Grad-CAM (lesson 06) differentiates the class score with
    respect to the maps between the two.

    Taught in lesson 06.
    """
    import tensorflow as tf

    layers = model.get_layer("base").layers
    cut = [lyr.name for lyr in layers].index(last_conv_layer(model)) + 1

    def run(stack, h):
        for lyr in stack:
            h = lyr(h, training=False)
        return h

    def to_maps(x):
        return run(layers[:cut], tf.convert_to_tensor(np.asarray(x, dtype=np.float32)))

    def to_features(maps):
        return run(layers[cut:], maps)

    return to_maps, to_features


def randomised_copy(model, seed: int = 0):
    """The same architecture with freshly initialised (random) weights. Taught in lesson 06."""
    import keras

    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)
    return clone


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between maps ``a[i]`` and ``b[i]`` (one value per image).

    nan where either map is constant (a blank map has no ranking to compare).
    """
    from scipy.stats import spearmanr

    a, b = np.asarray(a).reshape(len(a), -1), np.asarray(b).reshape(len(b), -1)
    out = []
    for u, v in zip(a, b):
        if np.ptp(u) == 0 or np.ptp(v) == 0:
            out.append(float("nan"))
        else:
            out.append(float(spearmanr(u, v).statistic))
    return np.array(out)


def randomisation_check(model, x, class_index: int, explain, compare=None, seed: int = 0) -> dict[str, Any]:
    """Model-randomisation sanity check (Adebayo et al. 2018): maps of the trained model vs a
    randomly initialised copy (:func:`randomised_copy` with ``seed``).

    ``explain(model, x, class_index)`` returns one heat map per image, (N, H, W)
    (lesson 06 passes its own saliency map or Grad-CAM). Returns the ``trained``
    and ``random`` maps, ``rank_correlation`` per image and ``blank`` (the random
    model's maps that are constant). The correlation is computed on the maps of
    ``compare`` (default: ``explain``): Grad-CAM is compared *before* its final
    ReLU, since a random model's evidence is often negative everywhere and its
    ReLU map blank. A map that barely changes (correlation near 1) shows the
    input's edges, not what the model learned.

    Taught in lesson 06.
    """
    if not callable(explain) or (compare is not None and not callable(compare)):
        raise TypeError("explain (and compare) must be functions (model, x, class_index) -> maps (N, H, W).")
    compare = compare or explain
    rand_model = randomised_copy(model, seed)
    trained, rand = np.asarray(explain(model, x, class_index)), np.asarray(explain(rand_model, x, class_index))
    if trained.shape != (len(x), *np.shape(x)[1:3]):
        raise ValueError(f"explain must return one (H, W) map per image, shape {(len(x), *np.shape(x)[1:3])}; "
                         f"got {trained.shape}.")
    if compare is explain:
        rho = _rank_correlation(trained, rand)
    else:
        rho = _rank_correlation(compare(model, x, class_index), compare(rand_model, x, class_index))
    blank = np.ptp(rand.reshape(len(rand), -1), axis=1) == 0
    return {"trained": trained, "random": rand, "rank_correlation": rho, "blank": blank}



def plot_maps(images: np.ndarray, columns: dict[str, np.ndarray], titles: Sequence[str] | None = None):
    """Images (first column) and heat maps overlaid on them (one column per entry of ``columns``).

    ``images``: (N, H, W, 1) in [0, 1]; each map: (N, H, W) in [0, 1]. Returns a Figure.

    Taught in lesson 06.
    """
    import matplotlib.pyplot as plt

    n, ncols = len(images), 1 + len(columns)
    fig, axes = plt.subplots(n, ncols, figsize=(2.1 * ncols, 2.1 * n + 0.3), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(images[i, ..., 0], cmap="gray", vmin=0, vmax=1)
        axes[i, 0].set_title(titles[i] if titles is not None else "image", fontsize=8)
        for j, (name, maps) in enumerate(columns.items(), start=1):
            axes[i, j].imshow(images[i, ..., 0], cmap="gray", vmin=0, vmax=1)
            axes[i, j].imshow(maps[i], cmap="jet", alpha=0.45, vmin=0, vmax=1)
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.tight_layout()
    return fig
