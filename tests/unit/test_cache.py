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


# ------------------------------------------------------------------ a read-only course cache
READ_ONLY_SCRIPT = '''
import json, sys
from helpers import cache
CALLS = []
@cache.cached
def double(x):
    CALLS.append(x)
    return 2 * x
xs = [int(a) for a in sys.argv[1:]]
first, again = [double(x) for x in xs], [double(x) for x in xs]
print(json.dumps({"results": first + again, "calls": CALLS, "cached": [cache.is_cached(double, x) for x in xs]}))
'''


def _can_bwrap() -> bool:
    import shutil
    import subprocess

    return bool(shutil.which("bwrap")) and subprocess.run(
        ["bwrap", "--dev-bind", "/", "/", "true"], capture_output=True).returncode == 0


def _run(script, args: list[str], env: dict, read_only: tuple = ()) -> tuple[dict, str]:
    """Run ``script`` in a fresh Python with ``read_only`` folders mounted read-only (bubblewrap) or not writable."""
    import json
    import os
    import subprocess
    import sys

    cmd = [sys.executable, str(script), *args]
    if read_only:
        if _can_bwrap():  # a read-only mount, as on a classroom server: EROFS even for root
            cmd = ["bwrap", "--dev-bind", "/", "/",
                   *[x for folder in read_only for x in ("--ro-bind", str(folder), str(folder))], *cmd]
        elif os.name != "nt" and os.geteuid() != 0:  # a folder without write permission
            for folder in read_only:
                for path in [folder, *folder.rglob("*")]:
                    path.chmod(0o555 if path.is_dir() else 0o444)
        else:
            pytest.skip("no bubblewrap, and root (or Windows) can write a folder without write permission: "
                        "apt-get install bubblewrap")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cache.REPO_ROOT,
                          env={**os.environ, **env, "PYTHONPATH": str(cache.REPO_ROOT)})
    for folder in read_only:  # let pytest clean up
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_a_read_only_cache_is_read_and_misses_go_to_the_learners_folder_or_memory(tmp_path, monkeypatch):
    """A classroom's shared cache, prepared once and read-only for students: a miss computes, never fails."""
    script, shared, own = tmp_path / "lesson.py", tmp_path / "shared-cache", tmp_path / "home-cache"
    script.write_text(READ_ONLY_SCRIPT)
    env = {"COURSE_CACHE_DIR": str(shared), "XDG_CACHE_HOME": str(own)}
    monkeypatch.setenv("XDG_CACHE_HOME", str(own))
    assert cache.user_cache_dir() == own.resolve() / "transfer-learning-medicine"
    out, _ = _run(script, ["2"], env)  # the instructor prepares the cache
    assert out == {"results": [4, 4], "calls": [2], "cached": [True]}
    prepared = sorted(shared.rglob("*.joblib"))
    assert len(prepared) == 1

    out, _ = _run(script, ["2", "3"], env, read_only=(shared,))
    assert out["results"] == [4, 6, 4, 6] and out["cached"] == [True, True]
    assert out["calls"] == [3], "the prepared result is read from the read-only cache; only the miss is computed"
    assert sorted(shared.rglob("*.joblib")) == prepared
    assert len(list(cache.user_cache_dir().rglob("*.joblib"))) == 1, "the miss is kept per user"

    own.mkdir(exist_ok=True)
    out, err = _run(script, ["2", "3", "5"], env, read_only=(shared, own))
    assert out["results"] == [4, 6, 10, 4, 6, 10] and out["cached"] == [True, True, True]
    assert out["calls"] == [5], "3 comes from the learner's folder; 5 is computed once and kept in memory"
    assert "kept in memory" in err and "COURSE_CACHE_DIR" in err, err
