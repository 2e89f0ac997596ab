"""The course's one on-disk cache for anything trained more than once.

Results are keyed by the function's name, the source code of its own module
and of the core modules every training run uses (data, models, experiments,
cache), the library versions and the arguments (``joblib.hash``), so editing
that code or changing data (pass its MD5 or name in the arguments) makes a new
entry, while editing an unrelated helper does not. The cache lives in ``COURSE_CACHE_DIR`` or the repository's ignored
``.cache/`` folder, never under ``COURSE_DATA_DIR``.
"""
from __future__ import annotations

import functools
import hashlib
import os
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import joblib

from helpers import REPO_ROOT

F = TypeVar("F", bound=Callable[..., Any])


def cache_dir() -> Path:
    """The cache folder: ``COURSE_CACHE_DIR`` if set, else ``<repo>/.cache``."""
    env = os.environ.get("COURSE_CACHE_DIR")
    path = Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache"
    data = os.environ.get("COURSE_DATA_DIR")
    if data and Path(data).expanduser().resolve() in (path, *path.parents):
        raise ValueError(f"The cache folder {path} is inside COURSE_DATA_DIR ({data}); "
                         "set COURSE_CACHE_DIR to a folder of its own.")
    return path


CORE_MODULES = ("cache.py", "data.py", "models.py", "experiments.py")


@functools.lru_cache(maxsize=None)
def code_fingerprint(module: str | None = None) -> str:
    """Hash of the library versions and of source files in ``helpers/``.

    With ``module`` (e.g. ``"helpers.transfer"``): that module plus the core
    modules. Without: every ``helpers/*.py`` (the version of the whole course).
    """
    from importlib.metadata import version  # not importing TensorFlow just to hash its version

    folder = REPO_ROOT / "helpers"
    if module is None:
        files = sorted(folder.glob("*.py"))
    else:
        own = folder / f"{module.rsplit('.', 1)[-1]}.py"
        files = sorted({folder / name for name in CORE_MODULES} | ({own} if own.is_file() else set()))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(" ".join(version(p) for p in ("keras", "numpy", "scikit-learn")).encode())
    digest.update(f"onednn={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '1')}".encode())  # changes the numerics
    return digest.hexdigest()[:16]


def cache_key(func_name: str, *args: Any, **kwargs: Any) -> str:
    """The key of one call: function name, fingerprint of its code, and arguments."""
    module = func_name.rsplit(".", 1)[0] if "." in func_name else None
    return joblib.hash((func_name, code_fingerprint(module), args, sorted(kwargs.items())))


def cached(func: F) -> F:
    """Decorator: store ``func``'s result on disk and return it on later calls.

    Use it for deterministic, seeded training runs whose result is plain data
    (arrays, dicts, lists of weights), never for Keras model objects.
    """
    name = f"{func.__module__}.{func.__qualname__}"

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        path = cache_dir() / name / f"{cache_key(name, *args, **kwargs)}.joblib"
        if path.is_file():
            try:
                return joblib.load(path)
            except Exception:  # a half-written or stale file: recompute it
                path.unlink(missing_ok=True)
        result = func(*args, **kwargs)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        joblib.dump(result, tmp)
        os.replace(tmp, path)  # atomic: parallel kernels never read half a file
        return result

    wrapper.cache_path = lambda *a, **k: cache_dir() / name / f"{cache_key(name, *a, **k)}.joblib"  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def is_cached(func: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """True when ``func(*args, **kwargs)`` would come from the cache."""
    return func.cache_path(*args, **kwargs).is_file()  # type: ignore[attr-defined]


class Timer:
    """Context manager that measures wall seconds: ``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start
