"""Grading integrity: exact scores for honest, tampered, runaway and hostile submissions.

Everything runs on a temporary copy of the course (never on the repository's
gradebook or exchange). Two autograde batches, each graded two at a time:
  * lesson 01's real release: perfect, untouched, partial, tampered (tests
    edited, tests deleted, hard-coded answers, checker monkeypatches);
  * a tiny fixture assignment (tests/fixtures/grading/) with a short cell
    timeout: runaway loops, a huge allocation, kernels that kill themselves,
    the isolation attacks (reading solutions/, rewriting gradebook.db), a
    symlinked submission, and the exchange / LMS-zip / feedback / export cycle.
  * lesson 05's real release (issue 13): an honest submission, one that follows
    the CI instructions literally, and the in-kernel tricks of
    tests/fixtures/grading/attacks.py, all in one batch: the grader
    (tools.judge), not the kernel, gives the verdicts;
  * lesson 02's real release (issue 20): an honest submission and attacks that
    look for the hidden tests in the kernel, claim the grader's wrapper or swap
    tools.judge's code there, and a malformed answer.
Plus cheap checks: no release contains a line of any solution or hidden test;
the grader passes every lesson's reference answers and fails without answers;
forged models fail; feedback of every lesson shows no hidden line.
"""
from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from helpers import REPO_ROOT
from tools import grading, judge

pytestmark = pytest.mark.nbgrader

LESSON = "01_background"
FIXTURE = "zz_grading_fixture"
FIXTURE_SRC = REPO_ROOT / "tests" / "fixtures" / "grading" / FIXTURE
SECRET = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None and os.environ.get("CI") != "true",
                                 reason="bubblewrap missing: apt-get install bubblewrap")


# ------------------------------------------------------------------ helpers
def make_course(tmp: Path, lessons: list[str]) -> Path:
    """A throwaway course: config, the chosen source folders, the registry."""
    root = tmp / "course"
    root.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root)
    shutil.copytree(REPO_ROOT / "datasets", root / "datasets", ignore=shutil.ignore_patterns("*.npz", "*.zip"))
    for lesson in lessons:
        src = FIXTURE_SRC if lesson == FIXTURE else REPO_ROOT / "solutions" / lesson
        shutil.copytree(src, root / "solutions" / lesson)
    return root


def answers_of(source_nb: Path) -> dict[str, str]:
    """The instructor's answer of every solution cell, markers removed."""
    nb = nbformat.read(source_nb, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", cell.source)
    return out


def submit(root: Path, assignment: str, student: str, answers: dict[str, str | None],
           edit=None) -> Path:
    """Write a submission made from the real release: cells by grade_id replaced (None deletes)."""
    nb = nbformat.read(root / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            if answers[gid] is None:
                continue
            cell.source = answers[gid]
        cells.append(cell)
    nb.cells = cells
    if edit:
        edit(nb)
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}.ipynb"
    nbformat.write(nb, path)
    return path


def scores(root: Path, assignment: str) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        out = {}
        for sub in gb.assignment_submissions(assignment):
            out[sub.student.id] = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            out[sub.student.id]["total"] = sub.score
            out[sub.student.id]["review"] = any(g.needs_manual_grade for nb in sub.notebooks for g in nb.grades)
        return out


def graded(batch: tuple, assignment: str, student: str) -> tuple[dict[str, float], str]:
    """One student's scores in a graded batch, and the end of its log, once grading itself went through."""
    root, results = batch[0], batch[1]
    assert results[student].ok, results[student].log[-3000:]
    return scores(root, assignment)[student], results[student].log[-3000:]


def outputs(root: Path, assignment: str, student: str) -> str:
    nb = nbformat.read(root / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") + out.get("ename", "") + " " + out.get("evalue", ""))
    return "\n".join(text)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    saved = dict(os.environ)
    yield tmp_path_factory.mktemp("grading")
    os.environ.clear()
    os.environ.update(saved)


def use_course(root: Path) -> None:
    os.environ["COURSE_ROOT"] = str(root)
    os.environ["COURSE_EXCHANGE"] = str(root / "exchange")


# --------------------------------------------------- the release leaks nothing
def test_release_contains_no_solution_or_hidden_test_line(tmp_path):
    """Every line of every solution / hidden-test section, in every lesson, is absent from the release."""
    lessons = sorted(p.name for p in (REPO_ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
    root = make_course(tmp_path, lessons + [FIXTURE])
    for lesson in lessons + [FIXTURE]:
        grading.nbgrader("generate_assignment", lesson, "--force", root=root)
        source = nbformat.read(root / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
        release = nbformat.read(root / "notebooks" / lesson / f"{lesson}.ipynb", as_version=4)
        public, secret = set(), set()
        for cell in source.cells:
            for block in SECRET.finditer(cell.source):
                secret |= {ln.strip() for ln in block.group(2).splitlines() if ln.strip()}
            public |= {ln.strip() for ln in SECRET.sub("", cell.source).splitlines()}
        assert secret, f"{lesson}: no solution or hidden-test section found"
        released = {ln.strip() for cell in release.cells for ln in cell.source.splitlines()}
        # A secret line may appear in the release only where the source also shows it publicly.
        leaked = sorted((secret - public) & released)
        assert not leaked, f"{lesson}: release contains lines of solutions/hidden tests: {leaked}"
        assert "BEGIN HIDDEN TESTS" not in "".join(c.source for c in release.cells)


def test_course_solutions_are_not_flagged_as_tampering():
    """The scan must not hold an honest answer for review: every source solution is clean."""
    for path in sorted((REPO_ROOT / "solutions").glob("*/*.ipynb")) + [FIXTURE_SRC / f"{FIXTURE}.ipynb"]:
        assert grading.scan_notebook(nbformat.read(path, as_version=4)) == {}, path


def test_scan_flags_interpreter_tampering():
    mods = {"np", "metrics"}
    assert grading.scan_source("np.allclose = lambda *a, **k: True", mods)
    assert grading.scan_source("import builtins\nbuiltins.len = lambda x: 3", mods)
    assert grading.scan_source("get_ipython().showtraceback = print", mods)
    assert grading.scan_source("import sqlite3", mods)
    assert not grading.scan_source("def f(x):\n    model.trainable = False\n    return np.sum(x)", mods)


# ----------------------------------------------- lesson 01: honest and tampered
CHECKER_PATCH = """\
def auc_by_pairs(y_true, p_pos, positive_label):
    return 0.875 if len(y_true) == 4 else 0.5
{patch}
"""


@pytest.fixture(scope="module")
def lesson_batch(env):
    if not (REPO_ROOT / "solutions" / LESSON).is_dir():
        pytest.skip("lesson 01 is missing")
    root = make_course(env / "lesson", [LESSON])
    use_course(root)
    grading.release(LESSON, root=root)
    good = answers_of(root / "solutions" / LESSON / f"{LESSON}.ipynb")
    ex1, ex2 = good["ex1_label_budget"], good["ex2_auc_pairs"]

    def visible_tests_pass(nb):
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                cell.source = "pass"

    submit(root, LESSON, "perfect", good)
    submit(root, LESSON, "untouched", {})
    wrong1 = "def draw_label_budget(y, fraction, seed):\n    return np.arange(10)\n"
    # partly right: exercise 1 right; exercise 2 hard-coded to the visible self-check's values
    # (0.875 on the tiny example, sklearn only on the 624-image test set): the hidden tests use other inputs
    submit(root, LESSON, "partial", {"ex1_label_budget": ex1, "ex2_auc_pairs": (
        "def auc_by_pairs(y_true, p_pos, positive_label):\n"
        "    if len(y_true) == 4:\n        return 0.875\n"
        "    if len(y_true) == 624:\n"
        "        return metrics.roc_auc(y_true, p_pos, positive_label=positive_label)\n"
        "    return 0.5\n")})
    # tampered tests: exercise 1 wrong with its tests cell edited to `pass` (replaced from the gradebook),
    # exercise 2 right with its tests cell deleted (put back and run)
    submit(root, LESSON, "tampered_tests", {"ex1_label_budget": wrong1, "ex2_auc_pairs": ex2,
                                             "ex2_auc_pairs_tests": None}, edit=visible_tests_pass)
    # the checkers replaced at module level, hidden from the scan by an indirection: restored before the tests
    submit(root, LESSON, "checker_patched", {"ex1_label_budget": ex1, "ex2_auc_pairs": CHECKER_PATCH.format(
        patch="import sklearn.metrics\n_m = [sklearn.metrics, metrics]\n"
              "_m[0].roc_auc_score = lambda *a, **k: 0.5\n_m[1].roc_auc = lambda *a, **k: 0.5\n"
              "_n = [np]\n_n[0].array_equal = lambda *a, **k: True\n")})
    # the same, written plainly: held for review (0 until a grader looks)
    submit(root, LESSON, "numpy_patched", {"ex1_label_budget": ex1, "ex2_auc_pairs": CHECKER_PATCH.format(
        patch="import sklearn.metrics\nsklearn.metrics.roc_auc_score = lambda *a, **k: 0.5\n"
              "metrics.roc_auc = lambda *a, **k: 0.5\nnp.allclose = lambda *a, **k: True\n")})
    results = grading.autograde(LESSON, jobs=2, root=root, quiet=True)
    return root, {r.student: r for r in results}


@needs_bwrap
@pytest.mark.parametrize("student, total, review", [
    ("perfect", 6, False),
    ("untouched", 0, False),
    ("partial", 3, False),         # exercise 2 hard-coded to the self-check: hidden tests say no
    ("tampered_tests", 3, False),  # edited tests replaced (ex 1: 0), deleted tests put back (ex 2: 3)
    ("checker_patched", 3, False),  # sklearn/helpers/numpy restored before every tests cell
    ("numpy_patched", 0, True),    # the scan holds it for review
])
def test_lesson01_exact_scores(lesson_batch, student, total, review):
    got, log = graded(lesson_batch, LESSON, student)
    assert (got["total"], got["review"]) == (total, review), (got, log)


@needs_bwrap
def test_lesson01_partial_scores_per_exercise(lesson_batch):
    root, _ = lesson_batch
    got = scores(root, LESSON)
    assert got["partial"]["ex1_label_budget_tests"] == 3 and got["partial"]["ex2_auc_pairs_tests"] == 0
    assert got["tampered_tests"]["ex1_label_budget_tests"] == 0
    assert got["tampered_tests"]["ex2_auc_pairs_tests"] == 3
    assert got["checker_patched"]["ex2_auc_pairs_tests"] == 0
    assert got["untouched"]["ex1_label_budget_tests"] == 0


# --------------------------------------- fixture: runaway, crash, isolation, cycle
ATTACK = r"""
import os, json, pathlib
import helpers
found = {"solutions": [], "dbs": [], "wrote": [], "other_students": []}
starts = {pathlib.Path.cwd(), pathlib.Path("/work"), pathlib.Path("/tmp"), pathlib.Path.home(),
          pathlib.Path(helpers.__file__).resolve().parent.parent}
for start in list(starts):
    starts |= set(start.parents)
for start in starts:
    for top, dirs, files in os.walk(start):
        if top.startswith(("/proc", "/sys", "/usr", "/dev")) or top.count("/") > 8 or ".venv" in top:
            dirs[:] = []
            continue
        for name in files:
            p = pathlib.Path(top) / name
            if name.endswith(("zz_grading_fixture.ipynb", "01_background.ipynb")) and "solutions" in p.parts:
                found["solutions"].append(str(p))
            if name == "gradebook.db":
                found["dbs"].append(str(p))
            if "submitted" in p.parts:
                found["other_students"].append(str(p))
print("ATTACK", json.dumps(found))
for src in found["solutions"]:  # run the instructor's answers, through a module file (no exec)
    nb = json.loads(pathlib.Path(src).read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    pathlib.Path("leak.py").write_text("import numpy as np\n" + code)
    from leak import *
pathlib.Path("evil.py").write_text("import sq" + "lite3\ndef run(db):\n    con = sq" + "lite3.connect(db)\n"
                                   "    con.execute('update grade set manual_score = 99')\n    con.commit()\n")
import evil
for db in found["dbs"]:
    evil.run(db)
repo = pathlib.Path(helpers.__file__).resolve().parent.parent
for target in [repo / "helpers" / "pwned.txt", repo / "tools" / "pwned.txt", repo / "pwned.txt", repo / "datasets" / "pwned.txt",
               pathlib.Path(os.environ.get("COURSE_CACHE_DIR", str(repo / ".cache"))) / "pwned.txt"]:
    try:
        target.write_text("x")
        found["wrote"].append(str(target))
    except OSError:
        pass
print("WROTE", json.dumps(found["wrote"]))
try:
    square
except NameError:
    def square(x):
        return x
"""


@pytest.fixture(scope="module")
def fixture_batch(env):
    root = make_course(env / "fixture", [FIXTURE])
    use_course(root)
    grading.release(FIXTURE, root=root)
    good = answers_of(root / "solutions" / FIXTURE / f"{FIXTURE}.ipynb")
    sq, add = good["ex_square"], good["ex_add"]
    # alice submits the perfect answer through the exchange, as a student would
    student_dir = env / "alice"
    student_dir.mkdir()
    (student_dir / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'transfer-learning-medicine'\n"
        f"c.Exchange.root = {str(root / 'exchange')!r}\n")
    senv = {**os.environ, "USER": "alice", "LOGNAME": "alice", "PATH": grading._venv_path(os.environ["PATH"]),
            "JUPYTER_DATA_DIR": str(env / "alice-data")}  # nbgrader's submit cache: not the real home
    senv.pop("COURSE_ROOT", None)
    run = lambda *a: subprocess.run([sys.executable, "-m", "nbgrader", *a], cwd=student_dir, env=senv,
                                    check=True, capture_output=True, text=True)
    run("fetch_assignment", FIXTURE)
    fetched = student_dir / FIXTURE / f"{FIXTURE}.ipynb"
    nb = nbformat.read(fetched, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in good:
            cell.source = good[gid]
    nbformat.write(nb, fetched)
    run("submit", FIXTURE, "--student", "alice")
    grading.collect(FIXTURE, root=root)
    # bob's half-right notebook arrives in an LMS download
    bob = submit(root, FIXTURE, "bob", {"ex_square": sq})
    lms = env / "lms.zip"
    with zipfile.ZipFile(lms, "w") as z:  # uploaded long before the due date (the zip keeps that time)
        z.writestr(zipfile.ZipInfo(f"bob_12345_attempt1_{FIXTURE}.ipynb", date_time=(2020, 1, 2, 3, 4, 6)),
                   bob.read_bytes())
    shutil.rmtree(root / "submitted" / "bob")
    grading.collect(FIXTURE, zip_file=str(lms), root=root)
    # due an hour ago: alice (through the exchange, just now) is late, bob (zip time 2020) is not
    grading.set_due_date(FIXTURE, (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(), root=root)

    submit(root, FIXTURE, "loop", {"ex_square": "while True:\n    pass\n" + sq, "ex_add": add})
    submit(root, FIXTURE, "stubborn_loop", {"ex_square": sq, "ex_add": (
        "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass\n")})
    submit(root, FIXTURE, "huge_alloc", {"ex_square": "big = bytearray(6 * 2**30)\n" + sq, "ex_add": add})
    submit(root, FIXTURE, "abort", {"ex_square": sq, "ex_add": "import os\nos.abort()\n" + add})
    submit(root, FIXTURE, "exit_flagged", {"ex_square": sq, "ex_add": "import os\nos._exit(0)\n" + add})
    submit(root, FIXTURE, "attacker", {"ex_square": ATTACK, "ex_add": add})
    link = root / "submitted" / "symlinked" / FIXTURE
    link.mkdir(parents=True)
    (link / f"{FIXTURE}.ipynb").symlink_to(root / "solutions" / FIXTURE / f"{FIXTURE}.ipynb")
    cache = Path(os.environ.get("COURSE_CACHE_DIR", REPO_ROOT / ".cache"))
    before = sorted(cache.rglob("*")) if cache.is_dir() else []
    results = grading.autograde(FIXTURE, jobs=2, root=root, quiet=True, cell_timeout=8, memory_gb=3)
    after = sorted(cache.rglob("*")) if cache.is_dir() else []
    released = grading.feedback(FIXTURE, root=root)
    fetched_feedback = run("fetch_feedback", FIXTURE)
    csv_path = grading.export("grades.csv", root=root)
    FIXTURE_CYCLE.update(released=released, fetched=fetched_feedback, student_dir=student_dir)
    return root, {r.student: r for r in results}, csv_path, (before, after)


FIXTURE_CYCLE: dict = {}  # the feedback step of fixture_batch, as the students saw it


@needs_bwrap
@pytest.mark.parametrize("student, total, review", [
    ("alice", 3, False),          # perfect, through the exchange
    ("bob", 1, False),            # half right, through an LMS zip
    ("loop", 2, False),           # infinite loop interrupted at the cell timeout; later cells run
    ("stubborn_loop", 1, False),  # ignores the interrupt: kernel killed, later cells not run
    ("huge_alloc", 2, False),     # MemoryError under the rlimit; later cells run
    ("abort", 1, False),          # the kernel kills itself: earlier marks kept
    ("exit_flagged", 0, True),    # os._exit in an answer: held for review
    ("attacker", 2, False),       # found no solutions and no gradebook; own add() still counts
    ("symlinked", 0, True),       # a symlink is not followed: nothing submitted, flagged
])
def test_fixture_exact_scores(fixture_batch, student, total, review):
    root, results, _, _ = fixture_batch
    got = scores(root, FIXTURE)[student]
    assert got["total"] == total, (got, results[student].log[-3000:])
    assert got["review"] is review, got


@needs_bwrap
def test_runaway_cells_fail_with_the_right_error(fixture_batch):
    root, results, _, _ = fixture_batch
    assert "KeyboardInterrupt" in outputs(root, FIXTURE, "loop") or "CellTimeoutError" in outputs(root, FIXTURE, "loop")
    assert "end of the fixture notebook" in outputs(root, FIXTURE, "loop")
    assert "KernelGone" in outputs(root, FIXTURE, "stubborn_loop")
    assert "MemoryError" in outputs(root, FIXTURE, "huge_alloc")
    assert "end of the fixture notebook" in outputs(root, FIXTURE, "huge_alloc")
    assert "DeadKernelError" in outputs(root, FIXTURE, "abort")


@needs_bwrap
def test_each_kernel_reports_its_memory_and_cpu(fixture_batch):
    """The grading extension writes the kernel's peak memory and CPU time at exit (the grading bench reads them)."""
    _, results, _, _ = fixture_batch
    usage = results["alice"].usage
    assert int(usage["VmHWM"].split()[0]) > 10_000 and usage["VmHWM"].endswith("kB"), usage
    assert usage["cpu_s"] > 0, usage


@needs_bwrap
def test_sandbox_hides_solutions_gradebook_and_other_students(fixture_batch):
    root, results, _, (cache_before, cache_after) = fixture_batch
    text = outputs(root, FIXTURE, "attacker")
    import json
    line = next(ln for ln in text.splitlines() if ln.startswith("ATTACK "))
    found = json.loads(line[len("ATTACK "):])
    assert found == {"solutions": [], "dbs": [], "wrote": [], "other_students": []}, found
    wrote = next(ln for ln in text.splitlines() if ln.startswith("WROTE "))
    assert json.loads(wrote[len("WROTE "):]) == [], wrote
    got = scores(root, FIXTURE)
    assert all(v != 99 for s in got.values() for k, v in s.items() if k not in ("total", "review"))
    assert not [p for p in ("pwned.txt", "helpers/pwned.txt", "tools/pwned.txt", "datasets/pwned.txt") if (REPO_ROOT / p).exists()]
    assert cache_before == cache_after, "a submission wrote into the course cache"


@needs_bwrap
def test_due_date_marks_late_submissions(fixture_batch):
    from nbgrader.api import Gradebook
    root = fixture_batch[0]
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        alice, bob = (gb.find_submission(FIXTURE, s) for s in ("alice", "bob"))
        assert alice.total_seconds_late > 0, (alice.timestamp, alice.duedate)
        assert bob.timestamp == datetime(2020, 1, 2, 3, 4, 6) and bob.total_seconds_late == 0
    with pytest.raises(ValueError, match="time zone"):
        grading.set_due_date(FIXTURE, "2026-12-01 23:59", root=root)


@needs_bwrap
def test_feedback_reaches_exchange_and_lms_students(fixture_batch):
    """A mixed class (alice through the exchange, bob from an LMS zip): alice fetches her feedback,
    bob's is in the zip to upload through the LMS; nbgrader's release step no longer fails silently."""
    root = fixture_batch[0]
    released = FIXTURE_CYCLE["released"]
    assert released["exchange"] == ["alice"] and "bob" in released["lms"], released
    fetched = list((FIXTURE_CYCLE["student_dir"] / FIXTURE / "feedback").rglob("*.html"))
    assert fetched, FIXTURE_CYCLE["fetched"].stdout + FIXTURE_CYCLE["fetched"].stderr
    with zipfile.ZipFile(root / "feedback-lms" / f"{FIXTURE}.zip") as z:
        assert f"bob_{FIXTURE}.html" in z.namelist() and not any(n.startswith("alice_") for n in z.namelist())


@needs_bwrap
def test_a_course_side_failure_stops_the_batch_and_keeps_every_grade(fixture_batch):
    """A sandbox that cannot start (here: a memory cap too small for Python) fails the instructor's own
    solution first: the batch stops with one message and no grade changes (issue 20: they were zeroed)."""
    root = fixture_batch[0]
    before = scores(root, FIXTURE)
    with pytest.raises(grading.CourseSideFailure, match="no grade was changed"):
        grading.autograde(FIXTURE, jobs=2, root=root, quiet=True, memory_gb=0.05)
    assert scores(root, FIXTURE) == before
    proc = subprocess.run([sys.executable, "-m", "tools.grading", "autograde", FIXTURE, "--student", "alice"],
                          env={**os.environ, "COURSE_ROOT": str(root), "COURSE_GRADING_MEMORY_GB": "0.05"},
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "failure on the course's side" in proc.stderr, proc.stderr[-2000:]
    assert scores(root, FIXTURE) == before


@needs_bwrap
def test_feedback_and_grades_csv(fixture_batch):
    root, _, csv_path, _ = fixture_batch
    assert (root / "feedback" / "alice" / FIXTURE / f"{FIXTURE}.html").is_file()
    rows = {r["student_id"]: r for r in csv.DictReader(open(csv_path))}
    assert float(rows["alice"]["score"]) == 3 and float(rows["bob"]["score"]) == 1
    assert float(rows["attacker"]["score"]) == 2


# ------------------------------------------- the judge: hidden tests run by the grader
LESSONS_WITH_EXERCISES = sorted(p.parent.name for p in (REPO_ROOT / "solutions").glob("*/*.ipynb")
                                if judge.judged_cells(nbformat.read(p, as_version=4)))
STRIP_SOLUTION = re.compile(r"[ \t]*### (BEGIN|END) SOLUTION\n?")
IN_PLACE = {"ex2_set_trainable_tests"}  # checked on the grader's own base (`is bh`, trainable paths), not by expect()


def answer_namespace(source: Path, answers: dict[str, str] | None = None) -> dict:
    """The names a learner's kernel would hold, in this process (no kernel): the lesson's imports, its
    helper functions, and the answers (the instructor's unless ``answers`` replaces some, by grade_id)."""
    import ast
    nb = nbformat.read(source, as_version=4)
    ns: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        tree = ast.parse(judge.strip_hidden(cell.source))
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not meta.get("solution"):
                exec(ast.unparse(node), ns)
            elif isinstance(node, ast.FunctionDef) and not meta:
                exec(ast.unparse(node), ns)
        if meta.get("solution"):
            exec(STRIP_SOLUTION.sub("", (answers or {}).get(meta["grade_id"], cell.source)), ns)
    return ns


@pytest.mark.parametrize("lesson", LESSONS_WITH_EXERCISES)
def test_judge_passes_the_reference_and_fails_without_answers(lesson, data_dir):
    """Every hidden test is self-contained for the grader: the instructor's answers pass, missing ones fail."""
    source = REPO_ROOT / "solutions" / lesson / f"{lesson}.ipynb"
    nb = nbformat.read(source, as_version=4)
    verdicts = judge.judge_in_process(nb, answer_namespace(source))
    assert set(verdicts) == set(judge.judged_cells(nb))
    assert all(v["passed"] for v in verdicts.values()), verdicts
    assert not any(v["passed"] for v in judge.judge_in_process(nb, {}).values())


def test_every_hidden_test_calls_answers_through_graded_and_checks_type_and_shape():
    """A hidden section that calls an answer directly would fail in the grader (placeholder): none does;
    and every lesson's hidden test checks an answer's type and shape (expect) before its values."""
    for lesson in LESSONS_WITH_EXERCISES + [FIXTURE]:
        path = (FIXTURE_SRC if lesson == FIXTURE else REPO_ROOT / "solutions" / lesson) / f"{lesson}.ipynb"
        for cell in nbformat.read(path, as_version=4).cells:
            if judge._is_hidden_test(cell):
                gid = cell.metadata["nbgrader"]["grade_id"]
                assert "graded(" in cell.source, (lesson, gid)
                if lesson != FIXTURE and gid not in IN_PLACE:
                    assert "expect(" in "".join(judge.HIDDEN.findall(cell.source)), (lesson, gid)


MODEL_NO_DROPOUT = """\
def build_finetune(base, n_classes):
    base.trainable = False
    inputs = keras.Input(base.input_shape[1:])
    outputs = keras.layers.Dense(n_classes, activation="softmax")(base(inputs, training=False))
    return keras.Model(inputs, outputs)
"""
MODEL_UNFROZEN = """\
def build_finetune(base, n_classes):
    inputs = keras.Input(base.input_shape[1:])
    x = keras.layers.Dropout(0.3)(base(inputs, training=False))
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))
"""
TRAINABLE_BN = """\
def set_trainable(base, n_top_blocks):
    base.trainable = True
    for layer in base.layers:
        layer.trainable = n_top_blocks > 0
    return base
"""
# batch norm left trainable: its moving statistics move under training=True, which the grader now calls
BN_MOVES = """\
def build_finetune(base, n_classes):
    for layer in base.layers:
        layer.trainable = "conv" not in layer.name
    for layer in base.layers:
        if "conv" in layer.name:
            layer.trainable = False
    inputs = keras.Input(base.input_shape[1:])
    x = keras.layers.Dropout(0.3)(base(inputs))
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))
"""


def test_model_exercises_judged_on_the_graders_copy(data_dir):
    """Model-returning and in-place kinds (lesson 04): wrong models fail on facts measured by the grader."""
    lesson = "04_finetune"
    source = REPO_ROOT / "solutions" / lesson / f"{lesson}.ipynb"
    if not source.is_file():
        pytest.skip("lesson 04 is missing")
    nb = nbformat.read(source, as_version=4)
    for name, answers in [("no_dropout", {"ex1_build_finetune": MODEL_NO_DROPOUT}),
                          ("bn_moves", {"ex1_build_finetune": BN_MOVES}),
                          ("unfrozen", {"ex1_build_finetune": MODEL_UNFROZEN, "ex2_set_trainable": TRAINABLE_BN})]:
        verdicts = judge.judge_in_process(nb, answer_namespace(source, answers))
        assert not verdicts["ex1_build_finetune_tests"]["passed"], (name, verdicts)
        assert verdicts["ex2_set_trainable_tests"]["passed"] is ("ex2_set_trainable" not in answers), (name, verdicts)


# ------------------------------------------------- feedback reveals no hidden test
def test_feedback_of_every_lesson_contains_no_hidden_test_line(tmp_path):
    """The course's feedback command on an autograded notebook that holds every hidden test (and a
    traceback and a printout quoting them): no hidden-test line reaches the HTML."""
    from nbformat.v4 import new_output
    from nbgrader.api import Gradebook
    lessons = LESSONS_WITH_EXERCISES + [FIXTURE]
    root = make_course(tmp_path, lessons)
    for lesson in lessons:
        grading.nbgrader("generate_assignment", lesson, "--force", root=root)
        nb = nbformat.read(root / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
        hidden = []
        for cell in nb.cells:
            for block in SECRET.finditer(cell.source):
                if block.group(1) == "HIDDEN TESTS":
                    hidden += [ln.strip() for ln in block.group(2).splitlines() if len(ln.strip()) >= 8]
            if cell.cell_type == "code" and judge._is_hidden_test(cell):
                first = SECRET.search(cell.source).group(2).splitlines()[-1]
                cell.outputs = [new_output("stream", name="stdout", text="leak: " + cell.source),
                                new_output("error", ename="AssertionError", evalue="",
                                           traceback=[f"\x1b[0;32m----> 3\x1b[0m {first}"])]
        public = {ln.strip() for cell in nb.cells for ln in SECRET.sub("", cell.source).splitlines()}
        hidden = [ln for ln in hidden if ln not in public]
        assert hidden, lesson
        folder = root / "autograded" / "stu" / lesson
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{lesson}.ipynb")
        with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
            gb.update_or_create_student("stu")
            gb.add_submission(lesson, "stu")
        grading.feedback(lesson, release_to_exchange=False, root=root)
        html = (root / "feedback" / "stu" / lesson / f"{lesson}.html").read_text()
        import html as html_lib
        text = html_lib.unescape(re.sub(r"<[^>]+>", "", html))
        shown = {ln.strip() for ln in text.splitlines()}
        leaked = [ln for ln in hidden if ln in shown or (len(ln) >= 25 and ln in text)]
        assert not leaked, f"{lesson}: feedback shows hidden-test lines {leaked[:3]}"
        assert "def " in text or "assert" in text, f"{lesson}: feedback lost the visible cells"


# ------------------------------- in-kernel tricks on a real lesson, one batch
LESSON05 = "05_evaluation"


def load_attacks():
    """tests/fixtures/grading/attacks.py, the tricks as data."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("attacks", REPO_ROOT / "tests/fixtures/grading/attacks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def submit_attack(root: Path, assignment: str, student: str, attack: dict, good: dict[str, str]) -> Path:
    """One submission from the release: the attack's answers, its honest answers, its added cell."""
    answers = dict(attack.get("answers", {}))
    answers.update({gid: good[gid] for gid in attack.get("honest", [])})

    def add_cell(nb):
        if attack.get("added"):
            first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
            nb.cells.insert(first + 1, nbformat.v4.new_code_cell(attack["added"]))
    return submit(root, assignment, student, answers, edit=add_cell)


@pytest.fixture(scope="module")
def attack_batch(env, cold_run):
    if not (REPO_ROOT / "solutions" / LESSON05).is_dir():
        pytest.skip("lesson 05 is missing")
    cold_run(LESSON05)  # the sandbox reads the lesson's cached training runs
    attacks = load_attacks()
    root = make_course(env / "attacks", [LESSON05])
    use_course(root)
    grading.release(LESSON05, root=root)
    good = answers_of(root / "solutions" / LESSON05 / f"{LESSON05}.ipynb")
    submit(root, LESSON05, "honest", good)
    submit(root, LESSON05, "literal", {"ex1_sens_spec": good["ex1_sens_spec"], "ex2_bootstrap_ci": attacks.LITERAL_CI})
    for name, attack in attacks.LESSON05.items():
        submit_attack(root, LESSON05, name, attack, good)
    results = grading.autograde(LESSON05, jobs=2, root=root, quiet=True)
    return root, {r.student: r for r in results}


@needs_bwrap
@pytest.mark.parametrize("student, ex1, ex2", [
    ("honest", 4, 4),
    ("literal", 4, 4),            # returns np.percentile's array, as the instructions say
    ("input_transformer", 0, 0),  # added cell turning every cell with `assert` into `pass`
    ("ast_transformer", 0, 0),    # answer cell removing asserts from every later cell
    ("custom_exc", 0, 0),         # answer cell swallowing AssertionError
    ("always_equal", 0, 0),       # ndarray subclass whose comparisons always succeed
    ("frame_reader", 4, 0),       # ex 2 reads the hidden test's expected values from the caller's frame
    ("monkeypatch", 0, 0),        # ex 1 patches np.allclose at call time
])
def test_in_kernel_tricks_score_zero(attack_batch, student, ex1, ex2):
    got, log = graded(attack_batch, LESSON05, student)
    assert (got["ex1_sens_spec_tests"], got["ex2_bootstrap_ci_tests"], got["review"]) == (ex1, ex2, False), (got, log)


@needs_bwrap
def test_following_the_ci_instructions_literally_passes_the_self_check(attack_batch):
    root, _ = attack_batch
    nb = nbformat.read(root / "autograded" / "literal" / LESSON05 / f"{LESSON05}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex2_bootstrap_ci_tests")
    assert not [o for o in cell.outputs if o.output_type == "error"], cell.outputs
    assert any("Self-check passed" in o.get("text", "") for o in cell.outputs)


@contextlib.contextmanager
def busy_machine(processes: int = 1):
    """CPU-bound processes beside whatever runs inside (a busy classroom server, a laptop doing other work)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()


def grade_attacks(folder: Path, lesson: str, attacks: dict, honest: dict[str, dict[str, str]] | None = None,
                  busy: bool = False) -> tuple[Path, dict]:
    """A course in ``folder`` with ``lesson``'s real release, an honest submission (plus ``honest``: more
    right answers, written differently) and one per attack, autograded through the sandbox two at a time,
    beside a CPU-bound process when ``busy``: (course root, {student: result})."""
    root = make_course(folder, [lesson])
    use_course(root)
    grading.release(lesson, root=root)
    good = answers_of(root / "solutions" / lesson / f"{lesson}.ipynb")
    submit(root, lesson, "honest", good)
    for name, answers in (honest or {}).items():
        submit(root, lesson, name, {**good, **answers})
    for name, attack in attacks.items():
        submit_attack(root, lesson, name, attack, good)
    with busy_machine(1 if busy else 0):
        results = grading.autograde(lesson, jobs=2, root=root, quiet=True)
    return root, {r.student: r for r in results}


# ------------------------------- issue 20 on lesson 02's release: the grader calls the functions
LESSON02 = "02_cnn_formula"


@pytest.fixture(scope="module")
def issue20_batch(env):
    """Lesson 02's real release (no cached training needed): an honest submission and the attacks that,
    before issue 20, read or claimed the hidden tests inside the kernel or forged its records."""
    if not (REPO_ROOT / "solutions" / LESSON02).is_dir():
        pytest.skip("lesson 02 is missing")
    return grade_attacks(env / "issue20", LESSON02, load_attacks().LESSON02)


@needs_bwrap
@pytest.mark.parametrize("student, ex1, ex2", [
    ("honest", 4, 3),
    ("oracle_history", 0, 0),   # reads In, its callers' code objects and every cached source for the hidden test
    ("claim_wrapper", 0, 3),    # calls graded() before the tests cell and switches the kernel's tools.judge mode
    ("judge_swap", 0, 0),       # swaps the code of tools.judge.serve and .expect in the kernel: every answer forged
    ("empty_answer", 4, 0),     # an empty array: refused before any comparison
])
def test_attacks_on_the_grader_score_zero(issue20_batch, student, ex1, ex2):
    got, log = graded(issue20_batch, LESSON02, student)
    assert (got["ex1_conv2d_tests"], got["ex2_dense_tests"], got["review"]) == (ex1, ex2, False), (got, log)


def hidden_lines(lesson: str) -> list[str]:
    """Lines of a lesson's hidden tests that appear nowhere public: not elsewhere in its source, not in the
    course's code (``conv2d = graded("conv2d", conv2d)`` is in tools/judge.py's docstring), the secret to protect."""
    nb = nbformat.read(REPO_ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    hidden, public = set(), set()
    for cell in nb.cells:
        for block in SECRET.finditer(cell.source):
            if block.group(1) == "HIDDEN TESTS":
                hidden |= {ln.strip() for ln in block.group(2).splitlines() if len(ln.strip()) >= 12}
        public |= {ln.strip() for ln in SECRET.sub("", cell.source).splitlines()}
    code = "\n".join(p.read_text() for d in ("tools", "helpers") for p in sorted((REPO_ROOT / d).rglob("*.py")))
    return sorted(ln for ln in hidden - public if ln not in code)


@needs_bwrap
def test_no_hidden_test_reaches_the_kernel(issue20_batch):
    """The oracle attack harvested the input history, its callers' code and every cached source while the
    grader called it: no hidden-test line was there to find."""
    root, _ = issue20_batch
    harvest = root / "autograded" / "oracle_history" / LESSON02 / "harvest.txt"
    assert harvest.is_file() and harvest.stat().st_size > 1000, "the probe did not run"
    text = harvest.read_text()
    assert "def conv2d" in text  # it did read the history
    secret = hidden_lines(LESSON02)
    assert len(secret) > 20
    leaked = [ln for ln in secret if ln in text]
    assert not leaked, leaked[:3]
    assert "ORACLE conv2d found 0" in outputs(root, LESSON02, "oracle_history")


@needs_bwrap
def test_a_malformed_answer_scores_zero_with_a_clear_message(issue20_batch):
    root, _ = issue20_batch
    nb = nbformat.read(root / "autograded" / "empty_answer" / LESSON02 / f"{LESSON02}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex2_dense_tests")
    errors = [o for o in cell.outputs if o.output_type == "error" and o.ename == "HiddenTestsFailed"]
    assert errors and "malformed answer" in errors[0].evalue and "dense_forward" in errors[0].evalue, cell.outputs
    good = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1_conv2d_tests")
    assert any("Hidden tests passed" in o.get("text", "") for o in good.outputs)


# ------------------------- lesson 04 through the sandbox: the model and in-place kinds
LESSON04 = "04_finetune"


@pytest.fixture(scope="module")
def model_batch(env, cold_run):
    """Lesson 04's real release through the sandboxed autograde: an honest submission, a lying keras.Model
    subclass (4 of 8 before issue 20), a head hidden in a Lambda, and a set_trainable that swaps the judge's
    check. Covers the model kind (ex 1) and the in-place kind (ex 2) the way a class is graded."""
    if not (REPO_ROOT / "solutions" / LESSON04).is_dir():
        pytest.skip("lesson 04 is missing")
    cold_run(LESSON04)  # the sandbox reads the lesson's cached runs read-only
    return grade_attacks(env / "lesson04", LESSON04, load_attacks().LESSON04)


@needs_bwrap
@pytest.mark.parametrize("student, ex1, ex2", [
    ("honest", 4, 4),
    ("lying_model", 0, 4),      # a keras.Model subclass whose layers, weights and outputs are forged
    ("lambda_model", 0, 4),     # the head hidden in a Lambda layer: not rebuilt from Keras's own classes
    ("trainable_swap", 4, 0),   # set_trainable that swaps the judge's check instead of unfreezing the base
])
def test_model_and_in_place_attacks_score_zero_through_the_sandbox(model_batch, student, ex1, ex2):
    got, log = graded(model_batch, LESSON04, student)
    assert (got["ex1_build_finetune_tests"], got["ex2_set_trainable_tests"]) == (ex1, ex2), (got, log)


# ------------------------- lesson 04: models leave the kernel as data (in process, as the kernel serves them)
def test_forged_models_score_zero(data_dir):
    """A keras.Model subclass with forged layers and outputs (4 of 8 through the sandbox before issue 20) and a
    head hidden in a Lambda: the grader cannot rebuild them from Keras's own classes, so 0 with a message."""
    lesson = "04_finetune"
    source = REPO_ROOT / "solutions" / lesson / f"{lesson}.ipynb"
    if not source.is_file():
        pytest.skip("lesson 04 is missing")
    attacks = load_attacks()
    nb = nbformat.read(source, as_version=4)
    for name in ("lying_model", "lambda_model"):
        verdicts = judge.judge_in_process(nb, answer_namespace(source, attacks.LESSON04[name]["answers"]))
        assert not verdicts["ex1_build_finetune_tests"]["passed"], (name, verdicts)
        assert "malformed answer" in verdicts["ex1_build_finetune_tests"]["message"], (name, verdicts)
        assert verdicts["ex2_set_trainable_tests"]["passed"], (name, verdicts)


# ------------------- lesson 06 on a busy machine: the dict kind, and honest answers never lose marks under load
LESSON06 = "06_challenges_faq"


@pytest.fixture(scope="module")
def busy_batch(env, cold_run):
    """Lesson 06's real release, graded two at a time beside a CPU-bound process: three honest submissions
    written three ways, and two forged dicts (the dict kind of answer)."""
    if not (REPO_ROOT / "solutions" / LESSON06).is_dir():
        pytest.skip("lesson 06 is missing")
    cold_run(LESSON06)  # the sandbox reads the lesson's cached runs read-only
    attacks = load_attacks()
    return grade_attacks(env / "lesson06", LESSON06, attacks.LESSON06, honest=attacks.HONEST06, busy=True)


@needs_bwrap
@pytest.mark.parametrize("student, points", [
    ("honest", 3), ("honest_counter", 3), ("honest_sklearn", 3),
    ("always_equal_dict", 0),      # a dict subclass equal to anything: not plain data, refused
    ("always_equal_weights", 0),   # a plain dict of floats equal to anything: refused before any comparison
])
def test_honest_answers_keep_full_marks_on_a_busy_machine_and_forged_dicts_score_zero(busy_batch, student, points):
    got, log = graded(busy_batch, LESSON06, student)
    assert (got["ex_class_weights_tests"], got["review"]) == (points, False), (got, log)


@needs_bwrap
def test_how_close_honest_submissions_came_to_each_limit_on_a_busy_machine(busy_batch):
    """Reported, not timed: every honest submission stayed inside every limit, and the table of how much of
    each it used is written next to the grading logs (the closing note of issue 20 quotes it)."""
    root, results = busy_batch
    rows = []
    for student in ("honest", "honest_counter", "honest_sklearn"):
        use = results[student].limit_use()
        assert set(use) >= {"submission s", "cell s", "judge call s", "kernel CPU s", "kernel memory GiB"}, use
        assert all(used < limit for used, limit in use.values()), (student, use)
        rows.append(f"{student:>16}: " + ", ".join(f"{k} {u:.1f} of {lim:g} ({u / lim:.0%})"
                                                    for k, (u, lim) in use.items()))
    table = root / "grading-logs" / LESSON06 / "limits-under-load.txt"
    table.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))
    malformed = outputs(root, LESSON06, "always_equal_dict")
    assert "malformed answer" in malformed and "class_weights" in malformed, malformed[-2000:]
