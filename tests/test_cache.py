"""helpers.cache: on-disk results keyed by code, arguments; never inside the data folder."""
from __future__ import annotations

import pytest

from helpers import cache

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


def test_key_changes_with_code(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    key = cache.cache_key("helpers.experiments.f", 1)
    monkeypatch.setattr(cache, "code_fingerprint", lambda module=None: "other-code")
    assert cache.cache_key("helpers.experiments.f", 1) != key


def test_fingerprint_covers_own_module_and_core_only():
    assert cache.code_fingerprint("helpers.experiments") != cache.code_fingerprint("helpers.metrics")
    assert cache.code_fingerprint("helpers.experiments") == cache.code_fingerprint("helpers.experiments")
    assert cache.code_fingerprint() != cache.code_fingerprint("helpers.experiments")


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
