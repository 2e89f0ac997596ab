"""A classroom on JupyterHub, end to end: does the course's grading cycle work through a real hub?

Starts a real JupyterHub on loopback (DummyAuthenticator, SimpleLocalProcessSpawner,
configurable-http-proxy from npm) with one instructor and two students, and
nbgrader's exchange on a shared folder (COURSE_EXCHANGE). Through each student's
own single-user server (nbgrader's Assignments REST endpoints and the contents
API, what the Assignments tab and the editor use) the students fetch lesson
02_cnn_formula, answer and submit; the instructor releases, collects, autogrades
with the course's sandboxed command and returns feedback, which a student fetches.
The scores are asserted from the points in the lesson's own metadata.

Lesson 02 is the cheapest real lesson (no training; seconds warm), so the test
exercises a real release at small cost. docs/instructor.md ("A classroom on
JupyterHub") describes the same set-up; this test proves it.

Needs jupyterhub (requirements-dev.txt), configurable-http-proxy (npm) and
bubblewrap with unprivileged user namespaces; without them it skips, unless CI=true.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers import REPO_ROOT

pytestmark = pytest.mark.jupyterhub

LESSON = "02_cnn_formula"
COURSE_ID = "transfer-learning-medicine"
STUDENTS = ("student1", "student2")
INSTRUCTOR = "instructor"
TOKEN = "course-hub-test-token-0123456789"
BIN = Path(sys.executable).parent


def _missing() -> str | None:
    if shutil.which("jupyterhub", path=str(BIN)) is None:
        return "jupyterhub is not installed: `make setup-dev` (requirements-dev.txt)"
    if shutil.which("configurable-http-proxy") is None:
        return "configurable-http-proxy is not installed: `npm install -g configurable-http-proxy` (needs Node.js)"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed: `apt-get install bubblewrap` (the sandboxed autograder needs it)"
    probe = subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return ("bubblewrap cannot create a sandbox here (no unprivileged user namespaces: "
                f"{probe.stderr.strip()}); see docs/instructor.md, 'A classroom on JupyterHub'")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """A JupyterHub on loopback, driven through its REST API with a service token."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.port, self.env = root, _free_port(), env
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = root / "hub.log"

    def config(self) -> Path:
        homes = self.root / "home"
        student_config = self.root / "etc-jupyter-students"
        student_config.mkdir(parents=True, exist_ok=True)
        # What a hub's /etc/jupyter/nbgrader_config.py holds for students (docs/instructor.md).
        # student_id from JUPYTERHUB_USER only because every user here shares one Unix account.
        (student_config / "nbgrader_config.py").write_text(
            "import os\nc = get_config()\n"
            f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
            "c.Exchange.root = os.environ['COURSE_EXCHANGE']\n"
            "c.CourseDirectory.student_id = os.environ['JUPYTERHUB_USER']\n")
        path = self.root / "jupyterhub_config.py"
        path.write_text(f"""
c = get_config()
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {self.port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {_free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{_free_port()}"
c.JupyterHub.db_url = "sqlite:///{self.root / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = "{self.root / 'cookie_secret'}"
c.ConfigurableHTTPProxy.pid_file = "{self.root / 'proxy.pid'}"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {set(STUDENTS) | {INSTRUCTOR}!r}
c.Authenticator.admin_users = {{{INSTRUCTOR!r}}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{homes}/{{username}}"
c.Spawner.cmd = ["{BIN / 'jupyterhub-singleuser'}"]
c.Spawner.args = {["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []!r}  # CI runs as root
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.default_url = "/lab"
def _course_root(spawner):  # the instructor's home is their clone of the course
    return spawner.home_dir if spawner.user.name == {INSTRUCTOR!r} else ""
def _config_path(spawner):  # students read the course's student-side nbgrader config
    return "" if spawner.user.name == {INSTRUCTOR!r} else "{student_config}"
c.Spawner.environment = {{**{json.dumps(self.env)}, "COURSE_ROOT": _course_root, "JUPYTER_CONFIG_PATH": _config_path}}
c.JupyterHub.services = [{{"name": "course-test", "api_token": {TOKEN!r}}}]
c.JupyterHub.load_roles = [{{"name": "course-test", "services": ["course-test"],
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users"]}}]
""")
        for user in (*STUDENTS, INSTRUCTOR):
            (homes / user).mkdir(parents=True, exist_ok=True)
        return path

    def start(self) -> None:
        config = self.config()
        env = {**os.environ, **self.env, "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(config)], cwd=self.root, env=env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while self.call("GET", "/hub/api/")[0] != 200:
            if self.proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"JupyterHub did not start:\n{self.log.read_text()[-4000:]}")
            time.sleep(1)

    def call(self, method: str, path: str, data: dict | None = None, form: dict | None = None,
             timeout: float = 120) -> tuple[int, bytes]:
        body, headers = None, {"Authorization": f"token {TOKEN}"}
        if data is not None:
            body, headers["Content-Type"] = json.dumps(data).encode(), "application/json"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except OSError:
            return 0, b""

    def spawn(self, user: str) -> None:
        status, body = self.call("POST", f"/hub/api/users/{user}/server")
        assert status in (201, 202), (status, body)
        deadline = time.time() + 240
        while time.time() < deadline:
            status, body = self.call("GET", f"/hub/api/users/{user}")
            server = json.loads(body).get("servers", {}).get("", {}) if status == 200 else {}
            if server.get("ready"):
                return
            time.sleep(1)
        pytest.fail(f"{user}'s server did not start:\n{self.log.read_text()[-4000:]}")

    def user(self, user: str, method: str, path: str, **kwargs) -> dict | list:
        status, body = self.call(method, f"/user/{user}{path}", **kwargs)
        assert 200 <= status < 300, f"{method} /user/{user}{path}: {status} {body[:2000]!r}"
        return json.loads(body) if body else {}

    def stop(self) -> list[int]:
        """Stop every server and the hub; return the pids that had to be killed (should be none)."""
        import psutil

        if self.proc is None or self.proc.poll() is not None:
            return []
        children = psutil.Process(self.proc.pid).children(recursive=True)
        for user in (*STUDENTS, INSTRUCTOR):
            self.call("DELETE", f"/hub/api/users/{user}/server", timeout=60)
        self.proc.send_signal(signal.SIGTERM)  # the hub stops the proxy and what it spawned
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        _, alive = psutil.wait_procs(children, timeout=30)
        for p in alive:
            p.kill()
        return [p.pid for p in alive]


def _solved(source: str) -> str:
    """What a learner types: the instructor's solution without nbgrader's markers."""
    return "\n".join(ln for ln in source.splitlines() if "### BEGIN SOLUTION" not in ln and "### END SOLUTION" not in ln)


def _exercises() -> list[tuple[str, str, float]]:
    """(answer cell id, its solution, points of the tests cell after it) for each exercise of the lesson."""
    cells = json.loads((REPO_ROOT / "solutions" / LESSON / f"{LESSON}.ipynb").read_text())["cells"]
    found = []
    for i, cell in enumerate(cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            tests = next(c for c in cells[i + 1:] if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
            found.append((meta["grade_id"], _solved("".join(cell["source"])),
                          float(tests["metadata"]["nbgrader"]["points"])))
    return found


def _instructor(*args: str, env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-m", "tools.grading", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"tools.grading {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_a_class_on_jupyterhub_releases_submits_autogrades_and_returns_feedback(tmp_path, session_cache, data_dir):
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the JupyterHub classroom test cannot run in CI: {missing}")
        pytest.skip(missing)
    started = time.time()
    exchange = tmp_path / "srv" / "nbgrader" / "exchange"  # the shared folder
    exchange.mkdir(parents=True)
    exchange.chmod(0o777)
    env = {"COURSE_EXCHANGE": str(exchange), "COURSE_ID": COURSE_ID, "COURSE_CACHE_DIR": str(session_cache),
           "COURSE_DATA_DIR": os.environ.get("COURSE_DATA_DIR", str(data_dir))}
    hub = Hub(tmp_path, env)
    course = tmp_path / "home" / INSTRUCTOR  # the instructor's clone of the course (their server's root)
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "solutions" / LESSON, course / "solutions" / LESSON)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    teacher = {**os.environ, **env, "COURSE_ROOT": str(course), "JUPYTERHUB_USER": INSTRUCTOR}
    exercises = _exercises()
    assert len(exercises) >= 2, "the test needs a lesson with at least two exercises"
    try:
        hub.start()
        for user in (INSTRUCTOR, *STUDENTS):
            hub.spawn(user)

        # Instructor: release the lesson to the exchange (the course's command, in the instructor's course).
        _instructor("release", LESSON, env=teacher)
        listed = hub.user(INSTRUCTOR, "GET", "/formgrader/api/assignments")
        assert LESSON in {a["name"] for a in listed}, listed

        # Students: fetch, answer in the editor (contents API), submit; student2 answers only the last exercise.
        answers = {"student1": {gid for gid, _, _ in exercises}, "student2": {exercises[-1][0]}}
        form = {"course_id": COURSE_ID, "assignment_id": LESSON}
        for student in STUDENTS:
            hub.user(student, "POST", "/assignments/fetch", form=form)
            path = f"/api/contents/{LESSON}/{LESSON}.ipynb"
            model = hub.user(student, "GET", path)
            for cell in model["content"]["cells"]:
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if gid in answers[student]:
                    assert "NotImplementedError" in cell["source"], "the release must hide the solution"
                    cell["source"] = next(src for g, src, _ in exercises if g == gid)
            hub.user(student, "PUT", path, data={"type": "notebook", "format": "json", "content": model["content"]})
            hub.user(student, "POST", "/assignments/submit", form=form)
        inbound = sorted(p.name.split("+")[0] for p in (exchange / COURSE_ID / "inbound").iterdir())
        assert inbound == sorted(STUDENTS), inbound

        # Instructor: collect, autograde in the sandbox, feedback back to the exchange, grades.
        _instructor("collect", LESSON, env=teacher)
        graded = _instructor("autograde", LESSON, "--jobs", "2", env=teacher)
        assert "GRADING FAILED" not in graded, graded
        _instructor("feedback", LESSON, env=teacher)
        _instructor("export", "--to", str(tmp_path / "grades.csv"), env=teacher)
        with open(tmp_path / "grades.csv", newline="") as fh:
            rows = {r["student_id"]: r for r in csv.DictReader(fh) if r["assignment"] == LESSON}
        points = {gid: p for gid, _, p in exercises}
        expected = {s: sum(points[g] for g in answers[s]) for s in STUDENTS}
        got = {s: float(rows[s]["raw_score"]) for s in STUDENTS}
        assert got == expected, (got, expected, graded)
        assert float(rows["student1"]["max_score"]) == sum(points.values())

        # A student fetches the feedback through the Assignments endpoint and can open it.
        hub.user("student2", "POST", "/assignments/fetch_feedback", form=form)
        feedback = sorted((tmp_path / "home" / "student2" / LESSON / "feedback").rglob(f"{LESSON}.html"))
        assert feedback, "student2 has no feedback after fetch_feedback"
        html = feedback[-1].read_text()
        score = re.search(r"Score:\s*([\d.]+)\s*/\s*([\d.]+)", html)
        assert score and float(score.group(1)) == expected["student2"], (score and score.group(0))
    finally:
        left = hub.stop()
        print(f"JupyterHub classroom cycle: {time.time() - started:.0f} s (hub log {hub.log})")
    assert left == [], f"processes still running after the hub stopped: {left}"
