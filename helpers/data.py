"""Datasets of the course (every lesson): the registry, loaders, label budgets, downloads, and the
simulated scanner shift of lesson 06.

Data roots are searched in this order: an explicit ``data_dir`` argument, the
``COURSE_DATA_DIR`` environment variable, then the repository's ``datasets/``.
Every file's MD5 is checked the first time a process uses it.

Images come back as float32 in [0, 1] with shape (N, 28, 28, C); labels as
int64 with shape (N,) and the dataset's official codes (ECG200's -1/1 is mapped
to 1 = myocardial infarction, 0 = normal, as the registry records).
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from helpers import REPO_ROOT
from helpers.env import setting

REGISTRY_PATH = REPO_ROOT / "datasets" / "registry.json"
DEFAULT_DATA_DIR = REPO_ROOT / "datasets"


class DataError(Exception):
    """Base class for data problems the course explains to the user. No lesson calls it directly (lessons reach it through other helpers)."""


class DataFileMissingError(DataError, FileNotFoundError):
    """A registered data file is in none of the data roots. No lesson calls it directly (lessons reach it through other helpers)."""


class DataFileCorruptError(DataError):
    """A data file exists but cannot be read (truncated, wrong format). No lesson calls it directly (lessons reach it through other helpers)."""


class ChecksumError(DataError):
    """A data file's MD5 differs from the registry's. No lesson calls it directly (lessons reach it through other helpers)."""


class Split(NamedTuple):
    """One split of a dataset: inputs ``x`` and integer labels ``y``. No lesson calls it directly (lessons reach it through other helpers)."""

    x: np.ndarray
    y: np.ndarray


@dataclass
class Dataset:
    """A loaded dataset: its splits plus what the registry says about it. No lesson calls it directly (lessons reach it through other helpers)."""

    name: str
    splits: dict[str, Split]
    label_names: list[str]
    positive_label: int | None
    info: dict[str, Any] = field(repr=False)

    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def val(self) -> Split:
        if "val" not in self.splits:
            raise KeyError(f"{self.name} has no official validation split; cut one from train "
                           "(e.g. with draw_labels).")
        return self.splits["val"]

    @property
    def test(self) -> Split:
        if "test" not in self.splits:
            raise KeyError(f"{self.name} has no test split in this course's copy.")
        return self.splits["test"]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k} {v.x.shape}" for k, v in self.splits.items())
        return f"Dataset({self.name!r}: {sizes}; labels {self.label_names}; positive {self.positive_label})"


# --------------------------------------------------------------------- registry
def registry() -> dict[str, dict[str, Any]]:
    """Return the dataset registry (``datasets/registry.json``) by dataset name. Taught in lesson 06."""
    entries = json.loads(REGISTRY_PATH.read_text(encoding="utf-8"))
    return {k: v for k, v in entries.items() if not k.startswith("_")}


def dataset_info(name: str) -> dict[str, Any]:
    """Return one registry entry, with a helpful error for an unknown name. Taught in lesson 01."""
    reg = registry()
    if name not in reg:
        raise KeyError(f"Unknown dataset {name!r}. Known datasets: {', '.join(sorted(reg))}.")
    return reg[name]


def data_roots(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for data, in order: ``data_dir``, ``COURSE_DATA_DIR``, ``datasets/``.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir).expanduser().resolve())
    env = setting("COURSE_DATA_DIR")
    if env:
        roots.append(Path(env).expanduser().resolve())
    roots.append(DEFAULT_DATA_DIR)
    unique: list[Path] = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def _file_md5(path: str | os.PathLike) -> str:
    """MD5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _verify_md5(path: Path, expected: str, dataset: str) -> None:
    """Check ``path`` against ``expected`` once per process (keyed by path, size, mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(key) == expected:
        return
    actual = _file_md5(path)
    if actual != expected:
        raise ChecksumError(
            f"{path} has MD5 {actual}, but the registry expects {expected} for dataset {dataset!r}.\n"
            f"The file is damaged or is a different version. Delete it and download it again:\n"
            f"    python -m helpers.data download {dataset}"
        )
    _VERIFIED[key] = expected


def find_file(name: str, relpath: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Return the first existing copy of a registered file, MD5-checked. No lesson calls it directly (lessons reach it through other helpers)."""
    info = dataset_info(name)
    entry = next((f for f in info["files"] if f["path"] == relpath), None)
    if entry is None:
        raise KeyError(f"{relpath!r} is not a file of dataset {name!r}.")
    looked = [root / relpath for root in data_roots(data_dir)]
    for candidate in looked:
        if candidate.is_file():
            _verify_md5(candidate, entry["md5"], name)
            return candidate
    where = "\n".join(f"    {p}" for p in looked)
    raise DataFileMissingError(
        f"Data file {relpath!r} of dataset {name!r} was not found. Looked in:\n{where}\n"
        f"Download it (about {entry.get('size', 0) / 1e6:.1f} MB, MD5-checked) with:\n"
        f"    python -m helpers.data download {name}\n"
        f"or point COURSE_DATA_DIR at a folder that already holds {relpath}."
    )


# ---------------------------------------------------------------------- loaders
def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load a registered labelled dataset (MedMNIST or UCR ECG) as a :class:`Dataset`. Taught in lesson 01."""
    info = dataset_info(name)
    if info["kind"] == "medmnist":
        splits = _load_medmnist(name, info, data_dir)
    elif info["kind"] == "ucr":
        splits = _load_ucr(name, info, data_dir)
    else:
        raise ValueError(f"{name!r} is a {info['kind']} record, not a labelled dataset; "
                         f"use load_mitdb_record() or load_scipy_ecg().")
    return Dataset(name, splits, list(info["label_names"]), info.get("positive_label"), info)


def _load_medmnist(name: str, info: dict, data_dir) -> dict[str, Split]:
    path = find_file(name, info["files"][0]["path"], data_dir)
    if not zipfile.is_zipfile(path):
        raise DataFileCorruptError(
            f"{path} could not be read as a MedMNIST .npz file: it is not a zip archive "
            f"(a truncated download, or an error page saved in its place).\n"
            f"Delete it and download it again:  python -m helpers.data download {name}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataFileCorruptError(
            f"{path} could not be read as a MedMNIST .npz file ({type(exc).__name__}: {exc}).\n"
            f"Delete it and download it again:  python -m helpers.data download {name}"
        ) from exc
    splits = {}
    for split in ("train", "val", "test"):
        images, labels = arrays.get(f"{split}_images"), arrays.get(f"{split}_labels")
        if images is None or labels is None:
            raise DataFileCorruptError(f"{path} lacks the arrays {split}_images/{split}_labels; "
                                       f"it is not an official MedMNIST file. Download it again.")
        x = images.astype(np.float32) / 255.0
        if x.ndim == 3:
            x = x[..., None]
        splits[split] = Split(x, labels.reshape(-1).astype(np.int64))
    return splits


def _load_ucr(name: str, info: dict, data_dir) -> dict[str, Split]:
    label_map = {int(k): v for k, v in info.get("label_map", {}).items()}
    splits = {}
    for entry in info["files"]:
        path = find_file(name, entry["path"], data_dir)
        try:
            table = np.loadtxt(path, dtype=np.float64, ndmin=2)
        except ValueError as exc:
            raise DataFileCorruptError(
                f"{path} is not a UCR text file (one series per line, label first): {exc}.\n"
                f"Download it again:  python -m helpers.data download {name}"
            ) from exc
        raw = table[:, 0].astype(np.int64)
        y = np.array([label_map.get(int(v), int(v)) for v in raw], dtype=np.int64)
        x = table[:, 1:].astype(np.float32)[..., None]
        splits[entry["split"]] = Split(x, y)
    return splits


@dataclass
class EcgRecord:
    """A WFDB ECG record: signal in mV (samples, leads), sampling rate and beat annotations. No lesson calls it directly (lessons reach it through other helpers)."""

    name: str
    signal: np.ndarray
    fs: float
    lead_names: list[str]
    beat_samples: np.ndarray
    beat_symbols: np.ndarray


def load_mitdb_record(name: str = "mitdb100", data_dir: str | os.PathLike | None = None) -> EcgRecord:
    """Read a MIT-BIH record and its reference annotations with ``wfdb``. Taught in lesson 03."""
    import wfdb

    info = dataset_info(name)
    paths = [find_file(name, f["path"], data_dir) for f in info["files"]]
    base = str(paths[0].with_suffix(""))
    try:
        record = wfdb.rdrecord(base)
        ann = wfdb.rdann(base, "atr")
    except Exception as exc:  # wfdb raises many types for damaged files
        raise DataFileCorruptError(f"wfdb could not read {base}.*: {exc}") from exc
    return EcgRecord(
        name=name,
        signal=record.p_signal.astype(np.float32),
        fs=float(record.fs),
        lead_names=list(record.sig_name),
        beat_samples=np.asarray(ann.sample, dtype=np.int64),
        beat_symbols=np.asarray(ann.symbol),
    )


def load_scipy_ecg(data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, float]:
    """SciPy's 5-minute ECG excerpt (MIT-BIH record 208) in mV, and its rate (360 Hz).

    No lesson uses it: a longer real recording for learners to explore after lesson 03
    (``load_dataset("scipy_ecg")`` points to it).
    """
    path = find_file("scipy_ecg", "ecg/scipy/ecg.dat", data_dir)
    try:
        with np.load(path) as archive:
            raw = archive["ecg"]
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise DataFileCorruptError(f"{path} is not SciPy's ecg.dat: {exc}") from exc
    return ((raw.astype(np.int64) - 1024) / 200.0).astype(np.float32), 360.0


def benchmark_line(name: str) -> str:
    """The published MedMNIST v2 test AUCs of ``name`` in one line (lessons 01, 04-06): what "good" looks like.

    They come from the registry (``benchmarks``), with their source; a dataset
    without published figures says so.

    Taught in lesson 01.
    """
    bench = dataset_info(name).get("benchmarks")
    if not bench:
        return f"{name}: no published benchmark figures in the registry."
    figures = ", ".join(f"{model} {auc:.3f}" for model, auc in bench["test_auc"].items())
    return f"{name}, published anchors: {figures} ({bench['source']})."


# ----------------------------------------------------------------- label draws
def draw_labels(y: np.ndarray, n_labels: int | None = None, *, fraction: float | None = None,
                seed: int = 0, stream: int = 0) -> np.ndarray:
    """Sorted indices of a seeded, stratified, nested draw of labelled cases from ``y``.

    Size it by a **budget**, ``n_labels`` cases in all (each class gets its share,
    largest remainders first, at least one), or by a **fraction** of every class
    (``max(1, round(fraction * count))``); give neither for every case. Within a
    class the cases are the first ones of a permutation seeded by ``(seed, stream)``,
    so at one seed a smaller draw is inside a larger one (10 labels inside 20,
    inside 50, ...) and every method given the same seed gets the same cases. Two
    draws of one seed that must not share their randomness (a validation cut and a
    training draw) use different ``stream`` numbers.

    Taught in lesson 01.
    """
    y = np.asarray(y).reshape(-1)
    classes, counts = np.unique(y, return_counts=True)
    if n_labels is not None and fraction is not None:
        raise ValueError("give a budget (n_labels=) or a fraction (fraction=), not both")
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        k = np.minimum(counts, [max(1, round(fraction * c)) for c in counts])
    elif n_labels is None:
        k = counts
    else:
        if not len(classes) <= n_labels <= len(y):
            raise ValueError(f"a budget of {n_labels} labels must hold between {len(classes)} "
                             f"(one case of each class) and all {len(y)}")
        share = n_labels * counts / counts.sum()
        k = np.maximum(1, np.floor(share).astype(int))
        while k.sum() < n_labels:  # the class furthest below its share gets the next case
            k[np.argmax(np.where(k < counts, share - k, -np.inf))] += 1
        while k.sum() > n_labels:  # one case per class overshot: take from the class furthest above its share
            k[np.argmax(np.where(k > 1, k - share, -np.inf))] -= 1
    rng = np.random.default_rng([int(seed), int(stream)])
    chosen = [rng.permutation(np.flatnonzero(y == c))[:kc] for c, kc in zip(classes, k)]
    return np.sort(np.concatenate(chosen))


def label_splits(ds: Dataset, n_labels: int | None = None, *, fraction: float | None = None,
                 seed: int = 0) -> tuple[Split, Split]:
    """A draw of training labels (:func:`draw_labels`) and a validation draw scaled the same way.

    With a budget of ``n_labels`` training images the validation set gets
    ``n_labels`` times (validation size / training size) images, at least one per
    class; with a ``fraction``, the same fraction of every validation class. The
    protocol gives no free validation labels. Both draws are nested in ``n_labels``
    (or ``fraction``) at one seed.

    Taught in lesson 01.
    """
    train_idx = draw_labels(ds.train.y, n_labels, fraction=fraction, seed=seed)
    n_val = None
    if n_labels is not None:
        n_val = max(len(np.unique(ds.val.y)), round(n_labels * len(ds.val.y) / len(ds.train.y)))
    val_idx = draw_labels(ds.val.y, n_val, fraction=fraction, seed=seed, stream=1)
    return Split(ds.train.x[train_idx], ds.train.y[train_idx]), Split(ds.val.x[val_idx], ds.val.y[val_idx])


# --------------------------------------------------------------------- download
def download(name: str, data_dir: str | os.PathLike | None = None, progressbar: bool = True) -> list[Path]:
    """Download a dataset's files from their official URLs into a data root, MD5-checked.

    Files land in ``data_dir`` if given, else ``COURSE_DATA_DIR``, else ``datasets/``.
    Files already present with the right MD5 are not downloaded again.

    No lesson uses it: ``python -m helpers.data download NAME`` (named by the
    missing-file message of every loader) and the course command's ``check-data`` call it.
    """
    import pooch

    info = dataset_info(name)
    target = data_roots(data_dir)[0]
    done: list[Path] = []
    for entry in info["files"]:
        dest = target / entry["path"]
        if dest.is_file() and _file_md5(dest) == entry["md5"]:
            done.append(dest)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if "archive_member" in entry:
            archive = pooch.retrieve(entry["url"], known_hash=None, path=dest.parent,
                                     fname=Path(entry["url"]).name, progressbar=progressbar)
            with zipfile.ZipFile(archive) as zf:
                member = next((m for m in zf.namelist() if m.endswith(entry["archive_member"])), None)
                if member is None:
                    raise DataFileCorruptError(f"{archive} does not contain {entry['archive_member']}.")
                dest.write_bytes(zf.read(member))
        else:
            try:
                pooch.retrieve(entry["url"], known_hash=f"md5:{entry['md5']}", path=dest.parent,
                               fname=dest.name, progressbar=progressbar)
            except ValueError as exc:  # pooch's hash mismatch
                raise ChecksumError(f"Downloaded {entry['url']} but its MD5 is wrong: {exc}\n"
                                    "The server sent a different file; try again later.") from exc
        _VERIFIED.clear()
        _verify_md5(dest, entry["md5"], name)
        done.append(dest)
    return done


def check_all(data_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Check every registered file: 'ok', or the error message. Never raises.

    No lesson uses it: ``python -m helpers.data check`` and the course command's
    ``check-data`` do.
    """
    status = {}
    for name, info in registry().items():
        for entry in info["files"]:
            try:
                status[entry["path"]] = f"ok ({find_file(name, entry['path'], data_dir)})"
            except DataError as exc:
                status[entry["path"]] = str(exc).splitlines()[0]
    return status


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    dl = sub.add_parser("download", help="download datasets (all if none named)")
    dl.add_argument("names", nargs="*")
    dl.add_argument("--data-dir")
    ck = sub.add_parser("check", help="check that every registered file is present and intact")
    ck.add_argument("--data-dir")
    args = parser.parse_args(argv)
    if args.cmd == "download":
        for name in args.names or list(registry()):
            for path in download(name, args.data_dir):
                print(f"{name}: {path}")
        return 0
    bad = 0
    for path, state in check_all(args.data_dir).items():
        print(f"{path:32s} {state}")
        bad += not state.startswith("ok")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(_main())


# ------------------------------------------------------------ simulated shift
def scanner_shift(x: np.ndarray, gamma: float = 0.6, contrast: float = 0.7, noise: float = 0.03,
                  seed: int = 0) -> np.ndarray:
    """Simulate images from another scanner: gamma and contrast change plus sensor noise. Taught in lesson 06."""
    rng = np.random.default_rng(seed)
    y = np.power(np.clip(x, 0, 1), gamma)
    y = 0.5 + contrast * (y - y.mean(axis=(1, 2, 3), keepdims=True))
    return np.clip(y + rng.normal(0, noise, y.shape), 0, 1).astype(np.float32)
