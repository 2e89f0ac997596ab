"""The course's source models (lesson 04): pretrained once, deterministically, cached by a hash of code + data.

No ImageNet weights can be downloaded offline, so the course pretrains its own
convolutional base (:func:`helpers.models.build_cnn_base` with :data:`ARCH`)
on real MedMNIST images. The sources (:data:`SOURCES`):

- ``simclr_chest``: contrastive self-supervised pretraining (SimCLR-style,
  :mod:`helpers.contrastive`) on the *unlabelled* PneumoniaMNIST training X-rays.
  The course's main source: transferred to PneumoniaMNIST's labels it is
  self-supervision on the same domain; transferred to BreastMNIST it is
  cross-modality transfer (chest X-ray to breast ultrasound).

- ``simclr_medmnist``: the same contrastive pretraining on the pooled unlabelled
  training images of all three MedMNIST sets (chest X-ray, retina in grey, breast
  ultrasound; labels unused). For BreastMNIST it pools other datasets' images with
  its own.

- ``dae_cross``: a denoising autoencoder on the *unlabelled* training images of
  PneumoniaMNIST and RetinaMNIST (grey). No BreastMNIST image: cross-dataset transfer.
- ``dae_target``: the same autoencoder, plus BreastMNIST's own unlabelled training
  images: self-supervision on the target domain (legitimate, but not cross-dataset).
- ``sup_pneumonia``: a classifier trained on PneumoniaMNIST's labels (supervised transfer).

Only ``train`` splits are used: validation and test images never enter pretraining.

Command line (what ``make prepare`` runs)::

    python -m helpers.pretrain            # builds every source that is not cached yet
    python -m helpers.pretrain dae_target --force
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

import helpers  # noqa: F401  (quiet TensorFlow before it loads)
from helpers.cache import cache_file
from helpers.recipes import Recipe

ARCH: dict[str, Any] = {"input_shape": (28, 28, 1), "filters": (16, 32, 64), "batch_norm": True}
"""The architecture every source model shares: build the base with ``build_cnn_base(**ARCH)``."""

SOURCES: dict[str, dict[str, Any]] = {
    "simclr_chest": {
        "kind": "contrastive", "datasets": ("pneumoniamnist",),
        "description": "contrastive (SimCLR-style) pretraining on the unlabelled PneumoniaMNIST training X-rays",
    },
    "simclr_medmnist": {
        "kind": "contrastive", "datasets": ("pneumoniamnist", "retinamnist", "breastmnist"),
        "description": "contrastive (SimCLR-style) pretraining on the pooled unlabelled training images of "
                       "PneumoniaMNIST, RetinaMNIST (grey) and BreastMNIST",
    },
    "dae_cross": {
        "kind": "dae", "datasets": ("pneumoniamnist", "retinamnist"),
        "description": "denoising autoencoder on unlabelled chest X-ray + retina images (no breast images)",
    },
    "dae_target": {
        "kind": "dae", "datasets": ("pneumoniamnist", "retinamnist", "breastmnist"),
        "description": "denoising autoencoder on unlabelled chest X-ray + retina + breast ultrasound images",
    },
    "sup_pneumonia": {
        "kind": "supervised", "datasets": ("pneumoniamnist",),
        "description": "CNN classifier trained on PneumoniaMNIST's pneumonia labels",
    },
}

@dataclass(frozen=True)
class Training(Recipe):
    """Pretraining settings of the autoencoder and supervised sources: under 60 s per source on a 2-core CPU.

    ``noise`` is the denoising autoencoder's Gaussian noise; ``max_images`` caps the images (``None``: all).

    No lesson calls it directly (lessons reach it through other helpers).
    """

    WHAT = "the pretraining settings (pretrain.Training)"
    epochs: int = 6
    batch_size: int = 128
    lr: float = 2e-3
    noise: float = 0.25
    seed: int = 0
    max_images: int | None = None


@dataclass(frozen=True)
class ContrastiveTraining(Recipe):
    """Settings of the contrastive source (lesson 04): 40 epochs over the 4,708 unlabelled training X-rays.

    No lesson calls it directly (lessons reach it through other helpers).
    """

    WHAT = "the contrastive pretraining settings (pretrain.ContrastiveTraining)"
    epochs: int = 40
    batch_size: int = 256
    lr: float = 2e-3
    temperature: float = 0.2
    projection_dim: int = 64
    seed: int = 0
    max_images: int | None = None


TRAINING = Training()
CONTRASTIVE_TRAINING = ContrastiveTraining()


def _default_training(source: str) -> Training | ContrastiveTraining:
    """The declared settings of ``source``'s kind of pretraining."""
    return CONTRASTIVE_TRAINING if _check_source(source)["kind"] == "contrastive" else TRAINING


class PretrainedWeightsMissing(FileNotFoundError):
    """The source model's weights are not in the cache and building them was not allowed.

    No lesson calls it directly (lessons reach it through other helpers).
    """


# ---------------------------------------------------------------------------- keys and paths
def _check_source(source: str) -> dict[str, Any]:
    if source not in SOURCES:
        raise KeyError(f"Unknown source model {source!r}. Known sources: {', '.join(SOURCES)}.")
    return SOURCES[source]


def weights_key(source: str, training: Recipe | Mapping[str, Any] | None = None) -> str:
    """Hash of the code :func:`pretrain` executes, the data files' MD5s, the architecture and the settings.

    The code is what :func:`pretrain` reaches (:func:`helpers.code_key.code_key`),
    not whole files: editing a plot or an unrelated model builder keeps the key.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    from helpers.code_key import code_key
    from helpers.data import dataset_info
    import keras

    spec = _check_source(source)
    digest = hashlib.sha256()
    digest.update(code_key("helpers.pretrain", "pretrain").encode())
    md5s = [f["md5"] for d in spec["datasets"] for f in dataset_info(d)["files"]]
    settings = _default_training(source).with_overrides(training).as_dict()
    config = {"source": source, "spec": {k: spec[k] for k in ("kind", "datasets")}, "md5": md5s,
              "arch": ARCH, "training": settings, "keras": keras.__version__,
              "numpy": np.__version__, "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def weights_path(source: str = "simclr_chest", training: Recipe | Mapping[str, Any] | None = None) -> Path:
    """Where ``source``'s weights are read from the cache, or written when they do not exist yet
    (the course cache, else the learner's own folder when it is read-only: :func:`helpers.cache.cache_file`).

    Taught in lesson 04.
    """
    return cache_file(Path("pretrained") / f"{source}-{weights_key(source, training)}.weights.npz")


# ----------------------------------------------------------------------------------- data
def pretraining_images(source: str, max_images: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training images (grey, float32 in [0, 1]) and labels used to pretrain ``source``.

    RGB images are converted to grey by averaging the channels. Only ``train``
    splits are read. With ``max_images`` a seeded, dataset-balanced subsample is kept.
    Labels are only meaningful for supervised sources.

    Taught in lesson 04.
    """
    from helpers.data import load_dataset

    spec = _check_source(source)
    xs, ys = [], []
    for name in spec["datasets"]:
        split = load_dataset(name).train
        x = split.x.mean(axis=-1, keepdims=True) if split.x.shape[-1] != 1 else split.x
        xs.append(x.astype(np.float32))
        ys.append(split.y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    if max_images is not None and len(idx) > max_images:
        idx = idx[:max_images]
    return x[idx], y[idx]


# ------------------------------------------------------------------------------- models
def _build_autoencoder(base: Any) -> Any:
    """Denoising autoencoder: ``base``'s conv blocks (up to the last pooling) + a small decoder to 28 x 28."""
    import keras
    from keras import layers

    last_pool = [layer for layer in base.layers if layer.name.endswith("_pool")][-1]
    features = keras.Model(base.inputs, last_pool.output, name="encoder_features")
    inputs = keras.Input(tuple(ARCH["input_shape"]), name="noisy")
    h = layers.Flatten(name="dec_flat")(features(inputs))
    h = layers.Dense(7 * 7 * 32, activation="relu", name="dec_dense")(h)
    h = layers.Reshape((7, 7, 32), name="dec_reshape")(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu", name="dec_up1")(h)
    h = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu", name="dec_up2")(h)
    outputs = layers.Conv2D(ARCH["input_shape"][-1], 3, padding="same", activation="sigmoid", name="dec_out")(h)
    return keras.Model(inputs, outputs, name="autoencoder")


def _progress_callback(total_epochs: int, desc: str, enabled: bool) -> Any:
    from helpers.progress import epochs

    return epochs(total_epochs, desc, enabled=enabled)


def pretrain(source: str = "simclr_chest", training: Recipe | Mapping[str, Any] | None = None,
             path: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Pretrain ``source`` from scratch (deterministic for its settings) and save its base's weights.

    Returns the weights file (``.npz`` written by :func:`helpers.models.save_weights`).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    import keras
    from helpers.models import build_cnn, build_cnn_base, save_weights

    spec = _check_source(source)
    t = _default_training(source).with_overrides(training)
    path = Path(path) if path is not None else weights_path(source, training)
    x, y = pretraining_images(source, t.max_images, t.seed)
    keras.utils.set_random_seed(t.seed)
    bar = _progress_callback(t.epochs, f"pretraining {source} on {len(x)} images", progress)
    start = time.perf_counter()
    if spec["kind"] == "contrastive":
        from helpers.contrastive import SimCLR, clean_batch_norm_statistics

        base = build_cnn_base(**ARCH)
        model = SimCLR(base, projection_dim=t.projection_dim, temperature=t.temperature, seed=t.seed)
        model.compile(optimizer=keras.optimizers.Adam(t.lr))
        history = model.fit(x, epochs=t.epochs, batch_size=t.batch_size, shuffle=True, verbose=0, callbacks=[bar])
        clean_batch_norm_statistics(base, x)
    elif spec["kind"] == "dae":
        base = build_cnn_base(**ARCH)
        model = _build_autoencoder(base)
        model.compile(optimizer=keras.optimizers.Adam(t.lr), loss="mse")
        noisy = np.clip(x + np.random.default_rng(t.seed).normal(0, t.noise, x.shape), 0, 1)
        history = model.fit(noisy.astype(np.float32), x, epochs=t.epochs, batch_size=t.batch_size,
                            shuffle=True, verbose=0, callbacks=[bar])
    else:
        model = build_cnn(ARCH["input_shape"], int(y.max()) + 1, ARCH["filters"], batch_norm=ARCH["batch_norm"])
        model.compile(optimizer=keras.optimizers.Adam(t.lr), loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=t.epochs, batch_size=t.batch_size, shuffle=True, verbose=0,
                            callbacks=[bar])
        base = model.get_layer("base")
    save_weights(base, path)
    meta = {"source": source, **{k: spec[k] for k in ("kind", "description")},
            "datasets": list(spec["datasets"]), "n_images": int(len(x)), "training": t.as_dict(),
            "seconds": round(time.perf_counter() - start, 1),
            "loss_history": [float(v) for v in history.history["loss"]],
            "chance_loss": _chance_loss(spec["kind"], t, int(y.max()) + 1 if y is not None and len(y) else 2)}
    path.with_name(path.name.replace(".weights.npz", ".json")).write_text(json.dumps(meta, indent=1))
    return path


def _chance_loss(kind: str, t: Recipe, n_classes: int) -> float | None:
    """The loss of a model that has learnt nothing: NT-Xent with uniform similarities is log(2B - 1)
    (each view's partner is one of the other 2B - 1 views of the batch); cross-entropy is log(classes)."""
    if kind == "contrastive":
        return float(np.log(2 * t.batch_size - 1))
    if kind == "supervised":
        return float(np.log(n_classes))
    return None


def ensure_pretrained(source: str = "simclr_chest", build: bool = True, progress: bool = True) -> Path:
    """The weights file of ``source``: from the cache, or pretrained now when ``build`` is True.

    Taught in lesson 04.
    """
    path = weights_path(source)
    if path.is_file():
        return path
    if not build:
        raise PretrainedWeightsMissing(
            f"The pretrained weights for source {source!r} are not in the course cache ({path}).\n"
            f"Build them (under a minute on a laptop CPU) with:\n    python -m helpers.pretrain {source}\n"
            "or `make prepare`, which builds every source model and warms the cache.")
    return pretrain(source, path=path, progress=progress)


def pretraining_info(source: str = "simclr_chest") -> dict[str, Any]:
    """What the cached source model was trained on, how, and how long it took (builds it if needed).

    Taught in lesson 04.
    """
    path = ensure_pretrained(source)
    meta = path.with_name(path.name.replace(".weights.npz", ".json"))
    return json.loads(meta.read_text()) if meta.is_file() else {"source": source}


def load_pretrained(source: str = "simclr_chest", build: bool = True, progress: bool = True,
                    pooling: str | None = None) -> Any:
    """A new convolutional base (``build_cnn_base(**ARCH)``) holding ``source``'s pretrained weights.

    Finds the weights in the course cache or pretrains them (``build=True``).
    ``pooling`` ("gap" or "flatten") overrides how the base turns its last
    feature maps into a vector; it has no weights, so the same file loads.
    A damaged file is reported with the command that rebuilds it.

    Taught in lesson 04.
    """
    from helpers.models import WeightsMismatchError, build_cnn_base, load_weights

    path = ensure_pretrained(source, build=build, progress=progress)
    base = build_cnn_base(**{**ARCH, **({"pooling": pooling} if pooling else {})})
    try:
        load_weights(base, path)
    except WeightsMismatchError as exc:
        raise WeightsMismatchError(f"{exc}\nThe cached file {path} is damaged or stale: delete it and "
                                   f"run `python -m helpers.pretrain {source} --force`.") from exc
    return base


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.pretrain",
                                     description="Pretrain the course's source models (cached).")
    parser.add_argument("sources", nargs="*", help=f"sources to build (default: all of {', '.join(SOURCES)})")
    parser.add_argument("--force", action="store_true", help="pretrain again even if cached")
    args = parser.parse_args(argv)
    import helpers

    helpers.import_tensorflow()  # TensorFlow's start-up lines stay off the terminal
    for source in args.sources or list(SOURCES):
        path = weights_path(source)
        if path.is_file() and not args.force:
            print(f"{source}: cached at {path}")
            continue
        start = time.perf_counter()
        pretrain(source, path=path)
        print(f"{source}: pretrained in {time.perf_counter() - start:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
