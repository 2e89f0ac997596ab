"""The course's one on-disk cache for anything trained more than once (lessons 01, 03-06).

A result is keyed by what the run executes: the course code its function
reaches (:func:`helpers.code_key.code_key`: the function, what it calls, the
constants and classes it uses, never the rest of their modules), the library
versions, and its arguments after binding them to the signature (so
``f(1)``, ``f(x=1)`` and ``f(1, scale=<default>)`` share one entry). Editing
a text formatter or a plot keeps every key; editing training code changes
the keys of exactly the runs that execute it. The data enter through the
arguments (a dataset's name, or the MD5 in a source model's key).

The cache lives in ``COURSE_CACHE_DIR`` or the repository's ignored
``.cache/`` folder, never under ``COURSE_DATA_DIR``. A read-only cache (a
classroom's shared, prepared one) is read as usual; a result missing from it
is computed and kept in the learner's own folder (:func:`user_cache_dir`), or
in memory for the rest of the process when that cannot be written either;
weights files go the same way through :func:`cache_file`.
"""
from __future__ import annotations

import atexit
import errno
import functools
import hashlib
import inspect
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

import joblib

from helpers import REPO_ROOT
from helpers.code_key import PACKAGE, code_key
from helpers.env import setting

F = TypeVar("F", bound=Callable[..., Any])


def cache_dir() -> Path:
    """The cache folder: ``COURSE_CACHE_DIR`` if set, else ``<repo>/.cache``.

    No lesson calls it directly: every cached run of a lesson goes through it.
    """
    env = setting("COURSE_CACHE_DIR")
    path = Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache"
    data = setting("COURSE_DATA_DIR")
    if data and Path(data).expanduser().resolve() in (path, *path.parents):
        raise ValueError(f"The cache folder {path} is inside COURSE_DATA_DIR ({data}); "
                         "set COURSE_CACHE_DIR to a folder of its own.")
    return path


def user_cache_dir() -> Path:
    """Where a result goes when the course cache cannot be written: ``~/.cache/transfer-learning-medicine``.

    No lesson calls it directly: a cached run goes through it where the course cache is read-only (a classroom).
    """
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home).expanduser().resolve() / "transfer-learning-medicine"


_MEMORY: dict[str, Any] = {}  # results neither cache folder could take, for the rest of this process
_WARNED: list[str] = []
_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT)


def _store(result: Any, path: Path) -> bool:
    """Write ``result`` to ``path`` atomically; False when the folder cannot be written (read-only, full)."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(result, tmp)
        os.replace(tmp, path)  # atomic: parallel kernels never read half a file
        return True
    except OSError as exc:
        if exc.errno not in _UNWRITABLE:
            raise
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return False


def _load(path: Path) -> tuple[bool, Any]:
    """(True, result) from a cache file; (False, None) when missing, or half-written/stale (then removed if possible)."""
    if not path.is_file():
        return False, None
    try:
        return True, joblib.load(path)
    except Exception:  # a half-written or stale file: recompute it
        try:
            path.unlink(missing_ok=True)
        except OSError:  # in a read-only cache: leave it, the new result goes elsewhere
            pass
        return False, None


def _environment() -> str:
    """Library versions and settings that change the numerics (the third-party code a run executes)."""
    from importlib.metadata import version  # not importing TensorFlow just to read its version

    libs = " ".join(f"{p}={version(p)}" for p in ("keras", "numpy", "scikit-learn"))
    return f"{libs} onednn={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '1')}"


@functools.lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """Hash of every ``.py`` file of ``helpers/`` (runners included) and the library versions: the version of the code lessons run.

    Used by ``python -m tools.course prepare`` to stamp a fully warmed cache
    (:func:`helpers.course_state.prepared_stamp`); cached runs use the narrower
    :func:`run_code_key`. The instructor tools (``tools/``) are not part of it:
    they never change a result, so editing them keeps a prepared cache prepared.

    No lesson calls it directly: the setup cell's prepared check does.
    """
    digest = hashlib.sha256()
    package = REPO_ROOT / PACKAGE
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    digest.update(_environment().encode())
    return digest.hexdigest()[:16]


def run_code_key(func: Callable[..., Any]) -> str:
    """Hash of the code ``func`` executes: the course code it reaches and the library versions.

    A function outside the course package (a test's) is keyed by its own source.

    No lesson calls it directly: every cached run of a lesson goes through it.
    """
    func = inspect.unwrap(func)
    module = func.__module__
    if module == PACKAGE or module.startswith(PACKAGE + "."):
        code = code_key(module, func.__name__)
    else:
        code = hashlib.sha256(inspect.getsource(func).encode()).hexdigest()[:16]
    return f"{code}|{_environment()}"


def _bound(func: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
    """The call's arguments by parameter name, defaults filled in (one key per distinct call)."""
    try:
        bound = inspect.signature(inspect.unwrap(func)).bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{func.__qualname__}: {exc}") from None
    bound.apply_defaults()
    return list(bound.arguments.items())


def _writable(folder: Path) -> bool:
    """True when a file can be created in ``folder`` (made if missing); False in a read-only or full cache."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            return True
    except OSError as exc:
        if exc.errno not in _UNWRITABLE:
            raise
        return False


_PROCESS_DIR: list[Path] = []  # a folder of this process for files neither cache folder could take


def cache_file(relative: str | Path) -> Path:
    """Where a file the cache keeps outside :func:`cached` (a weights ``.npz``) is read, or written on a miss.

    The course cache's copy when it exists, else the learner's own copy
    (:func:`user_cache_dir`). On a miss: the course cache when it can be
    written, else the learner's folder, else a temporary folder removed when the
    process ends (one warning on stderr), so a read-only classroom cache never
    makes a lesson fail. ``relative`` is the file's path inside the cache.

    No lesson calls it directly: the pretrained and trained weights of lessons 04 and 06 go through it.
    """
    course, own = cache_dir() / relative, user_cache_dir() / relative
    for place in (course, own):
        if place.is_file():
            return place
    for place in (course, own):
        if _writable(place.parent):
            return place
    if not _PROCESS_DIR:
        _PROCESS_DIR.append(Path(tempfile.mkdtemp(prefix="course-cache-")))
        atexit.register(shutil.rmtree, _PROCESS_DIR[0], ignore_errors=True)
        print(f"course cache: neither {cache_dir()} nor {user_cache_dir()} can be written, so any weights this "
              f"kernel trains are kept in {_PROCESS_DIR[0]} until it exits; set COURSE_CACHE_DIR to a writable "
              "folder to keep them.", file=sys.stderr)
    return _PROCESS_DIR[0] / relative


def cache_key(func: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The key of ``func(*args, **kwargs)``: its name, the code it executes, and its bound arguments.

    No lesson calls it directly: every cached run of a lesson goes through it.
    """
    name = f"{func.__module__}.{func.__qualname__}"
    return joblib.hash((name, run_code_key(func), _bound(func, args, kwargs)))


def cached(func: F | None = None, *, also: Callable[..., Any] | None = None) -> Any:
    """Decorator: store ``func``'s result on disk and return it on later calls.

    Use it for deterministic, seeded training runs whose result is plain data
    (arrays, dicts, lists of weights), never for Keras model objects. ``also``
    (same arguments as ``func``) returns extra inputs for the key that are not
    code or arguments, e.g. the key of the pretrained weights a run loads.
    ``wrapper.cache_path(*args, **kwargs)`` is where the result of a call lives in the
    course cache. When that cache is read-only, a result it lacks is written to
    :func:`user_cache_dir` instead, or kept in memory (one warning on stderr).

    No lesson calls it directly: every cached run of a lesson goes through it.
    """
    if func is None:
        return lambda f: cached(f, also=also)
    name = f"{func.__module__}.{func.__qualname__}"

    def path_of(*args: Any, **kwargs: Any) -> Path:
        key = cache_key(func, *args, **kwargs)
        if also is not None:
            key = joblib.hash((key, also(*args, **kwargs)))
        return cache_dir() / name / f"{key}.joblib"

    def places(*args: Any, **kwargs: Any) -> tuple[Path, Path]:
        """The course cache's file for this call, and the same file in the learner's own folder."""
        path = path_of(*args, **kwargs)
        return path, user_cache_dir() / path.relative_to(cache_dir())

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        path, own = places(*args, **kwargs)
        for place in (path, own):
            found, result = _load(place)
            if found:
                return result
        if str(path) in _MEMORY:
            return _MEMORY[str(path)]
        result = func(*args, **kwargs)
        if not _store(result, path) and not _store(result, own):
            _MEMORY[str(path)] = result
            if not _WARNED:
                _WARNED.append(str(path))
                print(f"course cache: neither {cache_dir()} nor {user_cache_dir()} can be written, so results "
                      "computed now are kept in memory until the kernel restarts; set COURSE_CACHE_DIR to a "
                      "writable folder to keep them.", file=sys.stderr)
        return result

    wrapper.cached_places = places  # type: ignore[attr-defined]
    wrapper.cache_path = path_of  # type: ignore[attr-defined]
    return wrapper


def is_cached(func: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """True when ``func(*args, **kwargs)`` would come from the cache (``func`` decorated with :func:`cached`).

    No lesson calls it directly: every cached run of a lesson goes through it.
    """
    if not hasattr(func, "cached_places"):
        raise TypeError(f"{getattr(func, '__qualname__', func)!r} is not a cached function "
                        "(decorate it with helpers.cache.cached).")
    path, own = func.cached_places(*args, **kwargs)  # type: ignore[attr-defined]
    return path.is_file() or own.is_file() or str(path) in _MEMORY
