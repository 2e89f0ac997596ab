"""The README's course command on a fresh copy: installs, serves JupyterLab; instructor mode lists lessons.

Slow (it builds a virtual environment from requirements.txt), so it runs last.
`make course` runs against an empty cache (a cold machine): JupyterLab must
answer without waiting for the cache, while `prepare` fills it in the
background and reports its progress; stopping the course stops it too.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import REPO_ROOT, course_state
from tools import course

TOKEN = "course-test-token"
pytestmark = pytest.mark.install


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory) -> Path:
    """The tracked files of the working tree, as a fresh clone would have them."""
    dest = tmp_path_factory.mktemp("fresh") / "course"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO_ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


LEARNER_HIDES = sorted(f"@jupyter/nbgrader:{plugin}" for plugin in
                       ("assignment-list", "course-list", "create-assignment", "formgrader", "menu"))


def disabled_nbgrader(page: bytes) -> list[str]:
    """The nbgrader plugins that JupyterLab's page (its ``jupyter-config-data``) disables."""
    config = re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    assert config, "no jupyter-config-data in the JupyterLab page"
    return sorted(p for p in json.loads(config.group(1))["disabledExtensions"] if p.startswith("@jupyter/nbgrader"))


def _serve(copy: Path, target: str, port: int, log: Path, cache: Path | None = None):
    env = {**os.environ, "NO_BROWSER": "1", **({"COURSE_CACHE_DIR": str(cache)} if cache else {})}
    env.pop("VIRTUAL_ENV", None)
    with open(log, "ab") as out:
        proc = subprocess.Popen(["make", target, "NO_BROWSER=1", f"PORT={port}", f"TOKEN={TOKEN}"],
                                cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc


_SEEN: dict[str, float] = {}  # when a line first appeared in a command's log


def _wait(proc, url: str, log: Path, limit: float = 900, mark: str = "data: every registered file") -> tuple[int, bytes]:
    deadline = time.time() + limit
    while time.time() < deadline:
        if mark not in _SEEN and mark in log.read_text(errors="ignore"):
            _SEEN[mark] = time.time()
        if proc.poll() is not None:
            pytest.fail(f"the command stopped with {proc.returncode}:\n{log.read_text()[-4000:]}")
        status, body = _get(url)
        if status == 200:
            return status, body
        time.sleep(2)
    pytest.fail(f"no answer from {url} within {limit} s:\n{log.read_text()[-4000:]}")


def _stop(proc) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _prepare_is_running(cache: Path) -> dict:
    """The background prepare's status file, once it has started a lesson."""
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            status = json.loads((cache / course_state.STATUS_FILE).read_text())
            if status.get("lesson"):
                return status
        except (OSError, ValueError):
            pass
        time.sleep(1)
    pytest.fail(f"no background prepare status in {cache}: {sorted(p.name for p in cache.glob('*'))}")


def test_make_course_installs_and_serves_jupyterlab(fresh_copy, data_dir, tmp_path):
    """On a cold cache, JupyterLab opens without waiting for `prepare`, which runs in the background."""
    port, log, cache = _free_port(), tmp_path / "course.log", tmp_path / "cold-cache"
    proc = _serve(fresh_copy, "course", port, log, cache=cache)
    try:
        status, body = _wait(proc, f"http://127.0.0.1:{port}/lab", log)
        served = time.time()
        assert status == 200 and b"JupyterLab" in body
        assert disabled_nbgrader(body) == LEARNER_HIDES, "the learner's lab must hide nbgrader's instructor panels"
        text = log.read_text()
        assert "filling the cache" not in text and "course cache: empty or incomplete" in text, text[-2000:]
        prepare = _prepare_is_running(cache)
        assert prepare["state"] == "running" and prepare["lesson"] == course.lessons()[0], prepare
        assert prepare["pid"] != proc.pid, "prepare must run in its own process, not block make"
        assert (cache / course.LOG_FILE).is_file()
        line = subprocess.run([str(fresh_copy / ".venv" / "bin" / "python"), "-m", "tools.course", "status"],
                              cwd=fresh_copy, env={**os.environ, "COURSE_CACHE_DIR": str(cache)},
                              capture_output=True, text=True).stdout
        assert "filling in the background (lesson 1/" in line, line
        checked = _SEEN.get("data: every registered file", served)
        print(f"JupyterLab answered {served - checked:.0f} s after the data check; {line}")
        status, body = _get(f"http://127.0.0.1:{port}/api/contents/{course.lessons()[0]}")
        assert status == 200, "the workspace should hold the released lessons"
        names = {item["name"] for item in json.loads(body)["content"]}
        assert f"{course.lessons()[0]}.ipynb" in names
        # The course's JupyterLab defaults: no "get notified about Jupyter news?" pop-up.
        status, body = _get(f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:notification")
        assert status == 200 and json.loads(body)["schema"]["properties"]["fetchNews"]["default"] == "false"
    finally:
        _stop(proc)
    time.sleep(2)
    assert not course_state.process_alive(prepare["pid"]), "stopping the course must stop the background prepare"
    assert (fresh_copy / ".venv" / "bin" / "jupyter").is_file()
    for name in course.lessons():
        assert (fresh_copy / "workspace" / name / f"{name}.ipynb").is_file()
    # A learner's edit survives the next `make course` (workspace is never overwritten).
    mine = fresh_copy / "workspace" / course.lessons()[0] / f"{course.lessons()[0]}.ipynb"
    mine.write_text(mine.read_text().replace('"# ', '"# MY NOTES: ', 1))
    checkpoint = mine.parent / ".ipynb_checkpoints" / f"{mine.stem}-checkpoint.ipynb"  # as JupyterLab saves one
    checkpoint.parent.mkdir(exist_ok=True)
    checkpoint.write_text(mine.read_text())
    again = subprocess.run(["make", "workspace"], cwd=fresh_copy, check=True, capture_output=True, text=True).stdout
    assert "MY NOTES" in mine.read_text()
    n = len(course.lessons())
    assert f"0 new file(s) copied, {n} existing notebook(s) kept" in again, f"{n} lessons, checkpoints not counted: {again}"


def test_instructor_mode_formgrader_lists_the_lessons(fresh_copy, data_dir, tmp_path):
    if not (fresh_copy / ".venv" / ".installed").is_file():
        pytest.skip("needs the environment built by the previous test")
    port, log = _free_port(), tmp_path / "instructor.log"
    proc = _serve(fresh_copy, "instructor", port, log)
    try:
        _, page = _wait(proc, f"http://127.0.0.1:{port}/lab", log)
        assert disabled_nbgrader(page) == [], "the instructor's lab keeps every nbgrader panel"
        status, body = _wait(proc, f"http://127.0.0.1:{port}/formgrader/api/assignments", log, limit=60)
        listed = {a["name"] for a in json.loads(body)}
        assert set(course.lessons()) <= listed, listed
    finally:
        _stop(proc)
