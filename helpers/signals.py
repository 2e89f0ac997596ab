"""ECG signals for lesson 03: resampling, per-beat normalisation, ECG200 splits, label budgets,
augmentation and beat windows cut from a continuous MIT-BIH record.

ECG200 (100 train / 100 test beats of length 96, myocardial infarction vs
normal) is lesson 03's target task; ECG5000's 500 training beats (length 140,
five beat classes) its source, resampled to 96 samples so one recurrent
encoder reads both. Taught in lesson 03.
"""
from __future__ import annotations

import numpy as np

from helpers.data import EcgRecord, Split, draw_labels, load_dataset

LENGTH = 96
"""Common beat length: ECG200's own length; ECG5000's 140 samples are resampled to it."""


# ----------------------------------------------------------------- preprocessing
def resample(x: np.ndarray, length: int = LENGTH) -> np.ndarray:
    """Linearly resample beats of shape (N, T) or (N, T, 1) to ``length`` samples (float32, (N, length, 1)).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        if x.shape[2] != 1:
            raise ValueError(f"expected one lead, (N, T, 1); got {x.shape}")
        x = x[..., 0]
    if x.ndim != 2:
        raise ValueError(f"beats must be (N, T) or (N, T, 1); got {x.shape}")
    old = np.linspace(0.0, 1.0, x.shape[1])
    new = np.linspace(0.0, 1.0, length)
    out = np.stack([np.interp(new, old, row) for row in x]) if len(x) else np.zeros((0, length))
    return out.astype(np.float32)[..., None]


def znorm(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Z-normalise every beat on its own (mean 0, std 1 along time), as the UCR archive does. No lesson calls it directly (lessons reach it through other helpers)."""
    x = np.asarray(x, dtype=np.float32)
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    return (x - mean) / (std + eps)


def ecg200_splits(seed: int = 0, n_val: int = 20) -> tuple[Split, Split, Split]:
    """ECG200 as (train, val, test): ``n_val`` validation beats cut, stratified and seeded, from the 100 training beats.

    Taught in lesson 03.
    """
    ds = load_dataset("ecg200")
    n = len(ds.train.y)
    if not 0 < n_val < n:
        raise ValueError(f"n_val must be between 1 and {n - 1}, got {n_val}")
    val_idx = draw_labels(ds.train.y, n_val, seed=seed, stream=1)  # stream 0 draws the training budget
    mask = np.zeros(n, dtype=bool)
    mask[val_idx] = True
    return (Split(ds.train.x[~mask], ds.train.y[~mask]), Split(ds.train.x[mask], ds.train.y[mask]), ds.test)


def ecg5000_beats(length: int = LENGTH) -> Split:
    """ECG5000's 500 training beats resampled to ``length`` and z-normalised; labels 0-4. Taught in lesson 03."""
    ds = load_dataset("ecg5000")
    return Split(znorm(resample(ds.train.x, length)), ds.train.y - ds.train.y.min())


def augment(x: np.ndarray, y: np.ndarray, copies: int, seed: int,
            scale: float = 0.1, shift: int = 3, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """The beats plus ``copies`` randomly perturbed copies of each.

    A perturbed copy is scaled in amplitude by up to ``scale``, shifted in
    time by up to ``shift`` samples (edge values repeated) and gets Gaussian
    noise of standard deviation ``noise``: changes that do not alter the diagnosis.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    x = np.asarray(x, dtype=np.float32)
    if copies <= 0:
        return x, np.asarray(y)
    rng = np.random.default_rng(seed)
    out_x, out_y = [x], [np.asarray(y)]
    t = np.arange(x.shape[1])
    for _ in range(copies):
        s = rng.integers(-shift, shift + 1, size=len(x))
        idx = np.clip(t[None, :] - s[:, None], 0, x.shape[1] - 1)
        shifted = np.take_along_axis(x, idx[..., None], axis=1)
        amp = 1.0 + rng.uniform(-scale, scale, size=(len(x), 1, 1))
        out_x.append((shifted * amp + rng.normal(0, noise, size=x.shape)).astype(np.float32))
        out_y.append(np.asarray(y))
    return np.concatenate(out_x), np.concatenate(out_y)


# ------------------------------------------------------------------ MIT-BIH beats
def beat_windows(record: EcgRecord, before: float = 0.25, after: float = 0.45, lead: int = 0,
                 symbols: tuple[str, ...] = ("N", "L", "R", "A", "a", "J", "S", "V", "F", "e", "j", "E", "/", "f", "Q"),
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut one window per annotated beat around its R peak: (windows, symbols, R-peak samples).

    Windows run from ``before`` seconds before to ``after`` seconds after the
    peak; beats too close to the record's ends and non-beat annotations
    (rhythm changes, noise marks) are skipped.

    Taught in lesson 03.
    """
    b, a = int(round(before * record.fs)), int(round(after * record.fs))
    sig = record.signal[:, lead]
    keep = [i for i, (s, sym) in enumerate(zip(record.beat_samples, record.beat_symbols))
            if sym in symbols and s - b >= 0 and s + a <= len(sig)]
    peaks = record.beat_samples[keep]
    windows = np.stack([sig[p - b:p + a] for p in peaks]) if keep else np.zeros((0, a + b), np.float32)
    return windows.astype(np.float32), record.beat_symbols[keep], peaks
