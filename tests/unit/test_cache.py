"""helpers.cache: on-disk results keyed by the code a run executes and its arguments; never inside the data folder."""
from __future__ import annotations

import pytest

from helpers import cache
from helpers.experiments import classifiers

CALLS = []


@cache.cached
def _square(x, scale=1):
    CALLS.append(x)
    return {"value": x * x * scale}


def test_second_call_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    CALLS.clear()
    assert _square(3) == {"value": 9}
    assert _square(3) == {"value": 9}
    assert CALLS == [3]
    assert cache.is_cached(_square, 3) and not cache.is_cached(_square, 4)
    assert _square(3, scale=2) == {"value": 18} and CALLS == [3, 3]
    assert list((tmp_path / "test_cache._square").glob("*.joblib"))


def test_one_entry_per_call_however_the_arguments_are_spelt(tmp_path, monkeypatch):
    """Does f(3), f(x=3) and f(3, scale=1) (the default) read one entry?"""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    CALLS.clear()
    _square(3)
    assert _square(x=3) == _square(3, scale=1) == {"value": 9} and CALLS == [3]
    with pytest.raises(TypeError, match="_square: .*unexpected keyword argument 'scal'"):
        _square(3, scal=2)


def test_key_changes_with_code_and_arguments(monkeypatch):
    key = cache.cache_key(classifiers.predictions, "breastmnist", 0)
    assert cache.cache_key(classifiers.predictions, "breastmnist", 1) != key
    monkeypatch.setattr(cache, "run_code_key", lambda func: "other-code")
    assert cache.cache_key(classifiers.predictions, "breastmnist", 0) != key


def test_run_code_key_follows_the_function_not_its_module():
    """Do two runners of one module get different code keys when they execute different code?"""
    from helpers.experiments import ecg

    assert cache.run_code_key(classifiers.predictions) != cache.run_code_key(classifiers.summarise_runs)
    assert cache.run_code_key(ecg.run_ecg200) != cache.run_code_key(ecg.bootstrap_report)
    assert cache.run_code_key(classifiers.predictions) == cache.run_code_key(classifiers.predictions)
    assert "keras=" in cache.run_code_key(classifiers.predictions), "library versions are part of the key"


def test_is_cached_needs_a_cached_function():
    with pytest.raises(TypeError, match="not a cached function"):
        cache.is_cached(classifiers.tile_to, None, 1, 0)


def test_corrupt_entry_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    CALLS.clear()
    _square(5)
    _square.cache_path(5).write_bytes(b"garbage")
    assert _square(5) == {"value": 25} and CALLS == [5, 5]


def test_cache_refuses_to_live_inside_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="inside COURSE_DATA_DIR"):
        cache.cache_dir()


def test_default_cache_is_the_ignored_repo_folder(monkeypatch):
    monkeypatch.delenv("COURSE_CACHE_DIR", raising=False)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert cache.cache_dir() == cache.REPO_ROOT / ".cache"
    assert ".cache/" in (cache.REPO_ROOT / ".gitignore").read_text().splitlines()


def test_the_prepared_stamp_follows_helpers_and_ignores_tools(tmp_path, monkeypatch):
    """code_fingerprint (prepare's stamp): editing a helpers module re-prepares, editing a tool does not."""
    import shutil

    repo = tmp_path / "repo"
    for package in ("helpers", "tools"):
        shutil.copytree(cache.REPO_ROOT / package, repo / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "REPO_ROOT", repo)

    def fingerprint() -> str:
        cache.code_fingerprint.cache_clear()
        return cache.code_fingerprint()

    try:
        first = fingerprint()
        with open(repo / "tools" / "course.py", "a") as f:
            f.write("\n_edited = 1\n")
        assert fingerprint() == first, "a tools/ edit must keep a prepared cache prepared"
        with open(repo / "helpers" / "plots.py", "a") as f:
            f.write("\n_edited = 1\n")
        assert fingerprint() != first, "a helpers/ edit must change the stamp"
    finally:
        cache.code_fingerprint.cache_clear()
