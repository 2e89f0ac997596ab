"""Shared fixtures: the provided data, and a fresh cache for every test session.

Every test session starts with an empty course cache (COURSE_CACHE_DIR in a
temporary folder), so the first execution of each lesson is genuinely cold and
later ones (warm run, nbgrader round trip, course command) read that cache.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import REPO_ROOT
from helpers.env import setting

SHARED_DATA = (REPO_ROOT.parent / "shared" / "datasets").resolve()
if not os.environ.get("COURSE_DATA_DIR") and (SHARED_DATA / "SOURCES.md").is_file():
    os.environ["COURSE_DATA_DIR"] = str(SHARED_DATA)

# tests/unit and tests/repo are fast; the end-to-end files of tests/lessons and
# tests/grading run last, in this order, so that they share one warm cache.
TESTS = Path(__file__).resolve().parent
FAST = ["unit", "repo"]
_LATE = ["lessons/test_lessons.py", "lessons/test_claims.py", "grading/test_nbgrader_pipeline.py", "grading/test_grading.py",
         "lessons/test_browser.py", "grading/test_jupyterhub.py", "lessons/test_course_command.py"]


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = Path(str(item.fspath)).resolve().relative_to(TESTS).as_posix()
        return _LATE.index(name) + 1 if name in _LATE else 0
    items.sort(key=rank)  # stable: keeps the order inside each file


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory) -> Path:
    """A fresh, empty course cache for the whole test session (inherited by kernels)."""
    if setting("COURSE_TEST_CACHE_DIR"):  # reuse one on purpose (debugging)
        path = Path(setting("COURSE_TEST_CACHE_DIR")).resolve()
    else:
        path = tmp_path_factory.mktemp("course-cache")
    os.environ["COURSE_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data root the tests use; skip data tests when no copy of the data exists."""
    env = os.environ.get("COURSE_DATA_DIR")
    root = Path(env) if env else REPO_ROOT / "datasets"
    if not (root / "medmnist" / "breastmnist.npz").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the real data: {root} has no medmnist/breastmnist.npz")
        pytest.skip(f"no data at {root}: run `python -m helpers.data download` or set COURSE_DATA_DIR")
    return root


@pytest.fixture(scope="session")
def cold_run(session_cache, data_dir):
    """Execute a lesson once from the empty session cache (memoised); later runs are warm.

    The lesson tests time it as the cold run; the nbgrader tests call it first
    so that autograding always finds the cache filled.
    """
    from tools import course

    done: dict = {}

    def run(name: str) -> dict:
        if name not in done:
            result = course.execute_notebook(course.SOLUTIONS / name / f"{name}.ipynb", timeout=1200)
            course.write_timing(name, "cold", result)
            done[name] = result
        return done[name]

    return run


# ------------------------------------------- a fresh Python with read-only folders (tests of the cache)
def can_bwrap() -> bool:
    """True where bubblewrap can mount a folder read-only (as on a classroom server)."""
    import shutil
    import subprocess

    return bool(shutil.which("bwrap")) and subprocess.run(
        ["bwrap", "--dev-bind", "/", "/", "true"], capture_output=True).returncode == 0


def run_python(script, args: list[str], env: dict, read_only: tuple = ()) -> tuple[dict, str]:
    """Run ``script`` in a fresh Python with ``read_only`` folders mounted read-only (bubblewrap) or not writable."""
    import json
    import os
    import subprocess
    import sys

    cmd = [sys.executable, str(script), *args]
    if read_only:
        if can_bwrap():  # a read-only mount, as on a classroom server: EROFS even for root
            cmd = ["bwrap", "--dev-bind", "/", "/",
                   *[x for folder in read_only for x in ("--ro-bind", str(folder), str(folder))], *cmd]
        elif os.name != "nt" and os.geteuid() != 0:  # a folder without write permission
            for folder in read_only:
                for path in [folder, *folder.rglob("*")]:
                    path.chmod(0o555 if path.is_dir() else 0o444)
        else:
            pytest.skip("no bubblewrap, and root (or Windows) can write a folder without write permission: "
                        "apt-get install bubblewrap")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)})
    for folder in read_only:  # let pytest clean up
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr
