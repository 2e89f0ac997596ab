"""helpers.cache: on-disk results keyed by the code a run executes and its arguments; never inside the data folder."""
from __future__ import annotations

import pytest
from conftest import run_python

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


def test_a_read_only_cache_is_read_and_misses_go_to_the_learners_folder_or_memory(tmp_path, monkeypatch):
    """A classroom's shared cache, prepared once and read-only for students: a miss computes, never fails."""
    script, shared, own = tmp_path / "lesson.py", tmp_path / "shared-cache", tmp_path / "home-cache"
    script.write_text(READ_ONLY_SCRIPT)
    env = {"COURSE_CACHE_DIR": str(shared), "XDG_CACHE_HOME": str(own)}
    monkeypatch.setenv("XDG_CACHE_HOME", str(own))
    assert cache.user_cache_dir() == own.resolve() / "transfer-learning-medicine"
    out, _ = run_python(script, ["2"], env)  # the instructor prepares the cache
    assert out == {"results": [4, 4], "calls": [2], "cached": [True]}
    prepared = sorted(shared.rglob("*.joblib"))
    assert len(prepared) == 1

    out, _ = run_python(script, ["2", "3"], env, read_only=(shared,))
    assert out["results"] == [4, 6, 4, 6] and out["cached"] == [True, True]
    assert out["calls"] == [3], "the prepared result is read from the read-only cache; only the miss is computed"
    assert sorted(shared.rglob("*.joblib")) == prepared
    assert len(list(cache.user_cache_dir().rglob("*.joblib"))) == 1, "the miss is kept per user"

    own.mkdir(exist_ok=True)
    out, err = run_python(script, ["2", "3", "5"], env, read_only=(shared, own))
    assert out["results"] == [4, 6, 10, 4, 6, 10] and out["cached"] == [True, True, True]
    assert out["calls"] == [5], "3 comes from the learner's folder; 5 is computed once and kept in memory"
    assert "kept in memory" in err and "COURSE_CACHE_DIR" in err, err


WEIGHTS_SCRIPT = '''
import json, sys
from helpers import cache
path = cache.cache_file(f"pretrained/{sys.argv[1]}.weights.npz")
existed = path.is_file()
if not existed:  # what save_weights does on a miss
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sys.argv[2])
print(json.dumps({"path": str(path), "existed": existed, "text": path.read_text()}))
'''


def test_weights_files_of_a_read_only_cache_go_to_the_learners_folder_or_a_temporary_one(tmp_path):
    """Weights files (pretrained sources, lesson 06's classifiers) are not :func:`cache.cached` results: a miss
    in a read-only classroom cache is written to the learner's folder, or a temporary one, never fails."""
    from pathlib import Path

    script, shared, own = tmp_path / "weights.py", tmp_path / "shared-cache", tmp_path / "home-cache"
    script.write_text(WEIGHTS_SCRIPT)
    env = {"COURSE_CACHE_DIR": str(shared), "XDG_CACHE_HOME": str(own)}
    out, _ = run_python(script, ["a", "prepared"], env)                     # the instructor prepares it
    assert Path(out["path"]) == shared.resolve() / "pretrained" / "a.weights.npz" and not out["existed"]

    out, _ = run_python(script, ["a", "ignored"], env, read_only=(shared,))
    assert out["existed"] and out["text"] == "prepared", "a prepared file is read from the read-only cache"
    out, _ = run_python(script, ["b", "mine"], env, read_only=(shared,))
    mine = own.resolve() / "transfer-learning-medicine" / "pretrained" / "b.weights.npz"
    assert Path(out["path"]) == mine and mine.read_text() == "mine", "a miss goes to the learner's folder"
    out, _ = run_python(script, ["b", "again"], env, read_only=(shared,))
    assert out["existed"] and out["text"] == "mine", "and is read from there next time"

    out, err = run_python(script, ["c", "temporary"], env, read_only=(shared, own))
    assert out["text"] == "temporary" and not out["existed"]
    assert not Path(out["path"]).is_relative_to(shared) and not Path(out["path"]).is_relative_to(own)
    assert not Path(out["path"]).exists(), "the temporary folder goes away with the process"
    assert "can be written" in err and "COURSE_CACHE_DIR" in err, err
