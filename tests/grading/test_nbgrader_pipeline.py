"""nbgrader source -> release pipeline: no drift, validation, the sandboxed autograde of every lesson, and plain
`nbgrader autograde` refused."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from helpers import REPO_ROOT
from tools import course, grading

LESSONS = course.lessons()


def _cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [{k: c.get(k) for k in ("cell_type", "source", "metadata")} for c in nb["cells"]]


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory) -> Path:
    """A throwaway course root holding only solutions/ (nbgrader writes there, never in the repo)."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(course.SOLUTIONS, root / "solutions")
    return root


def test_release_has_exactly_the_lessons_of_solutions():
    released = sorted(p.name for p in course.RELEASE.iterdir() if p.is_dir())
    if os.environ.get("COURSE_LESSONS"):  # a subset was asked for
        released = [n for n in released if n in LESSONS]
    assert released == LESSONS, "run `make release` and commit notebooks/"


def test_regenerated_release_matches_committed_notebooks(course_copy):
    grading.release(root=course_copy, to_exchange=False)
    for name in LESSONS:
        fresh = course_copy / "notebooks" / name / f"{name}.ipynb"
        committed = course.RELEASE / name / f"{name}.ipynb"
        assert _cells(fresh) == _cells(committed), (
            f"notebooks/{name} drifted from solutions/{name}: never edit notebooks/ by hand; "
            "run `make release` and commit the result")


def _grade(root: Path, name: str) -> tuple[Path, str]:
    """Lesson ``name`` graded as an instructor grades it, in its own throwaway course: its real release, an
    untouched submission, ``tools.grading.autograde`` (each submission in the sandbox; the instructor's own
    solution goes first as the canary, and any error or failed hidden test of it stops the batch).

    Returns the course root and why the batch stopped ('' when it ran)."""
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root)
    shutil.copytree(REPO_ROOT / "datasets", root / "datasets", ignore=shutil.ignore_patterns("*.npz", "*.zip"))
    shutil.copytree(course.SOLUTIONS / name, root / "solutions" / name)
    os.environ.update(COURSE_ROOT=str(root), COURSE_EXCHANGE=str(root / "exchange"))
    grading.release(name, root=root)
    dest = root / "submitted" / "untouched" / name
    dest.mkdir(parents=True)
    shutil.copy(root / "notebooks" / name / f"{name}.ipynb", dest / f"{name}.ipynb")
    try:
        grading.autograde(name, jobs=2, root=root, quiet=True)
    except grading.CourseSideFailure as exc:
        return root, str(exc)
    return root, ""


@pytest.fixture(scope="module")
def graded(tmp_path_factory, cold_run) -> dict[str, tuple[Path, str]]:
    """Every lesson autograded through the sandbox (the instructor's solution, then an untouched release).

    Each lesson gets its own course root and gradebook; the cache is filled
    first, as after `make prepare`, so every kernel runs warm.
    """
    for name in LESSONS:
        cold_run(name)
    saved = dict(os.environ)
    try:
        return {name: _grade(tmp_path_factory.mktemp(f"graded-{name}"), name) for name in LESSONS}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _scores(root: Path) -> dict[tuple[str, str], tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {(s.student.id, s.assignment.name): (s.score, s.max_score)
                for a in gb.assignments for s in a.submissions}


needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None and os.environ.get("CI") != "true",
                                 reason="bubblewrap missing: apt-get install bubblewrap")


@needs_bwrap
@pytest.mark.nbgrader
@pytest.mark.parametrize("name", LESSONS)
def test_the_solution_passes_in_the_sandbox_and_the_release_scores_zero(graded, name):
    root, stopped = graded[name]
    assert not stopped, f"{name}: {stopped}"   # the canary: no cell of the solution errs, every hidden test passes
    score, max_score = _scores(root)[("untouched", name)]
    assert max_score > 0, f"{name} has no graded cells"
    assert score == 0.0, f"{name}: an untouched release scored {score} of {max_score}"


@needs_bwrap
@pytest.mark.nbgrader
def test_plain_nbgrader_autograde_is_refused_and_changes_no_grade(graded):
    """Plain `nbgrader autograde` (what the formgrader's button runs) would execute the hidden tests in the
    student's kernel: the course's config stops it before a kernel starts, and no grade changes."""
    from tools.grading.executor import PLAIN_AUTOGRADE_REFUSED

    name = LESSONS[0]
    root, _ = graded[name]
    late = root / "submitted" / "late" / name
    late.mkdir(parents=True)
    shutil.copy(root / "notebooks" / name / f"{name}.ipynb", late / f"{name}.ipynb")
    before = _scores(root)
    proc = grading.nbgrader("autograde", name, "--student", "late", "--force", root=root, check=False)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert PLAIN_AUTOGRADE_REFUSED[:60] in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
    after = _scores(root)
    assert after[("untouched", name)] == before[("untouched", name)]
    assert not (root / "autograded" / "late" / name).exists(), "no notebook was graded"


@needs_bwrap
@pytest.mark.nbgrader
@pytest.mark.parametrize("name", LESSONS)
def test_source_validates_and_release_fails_validation(graded, cold_run, name):
    solved = cold_run(name)["notebook"]   # the executed source, hidden tests included
    untouched = nbformat.read(graded[name][0] / "autograded" / "untouched" / name / f"{name}.ipynb", 4)
    assert course.validation_problems(solved) == {}
    assert course.validation_problems(untouched, ignore_checksums=True).get("failed"), \
        f"{name}: the release passes validation"


@needs_bwrap
@pytest.mark.nbgrader
def test_nbgrader_validate_cli_reports_failure_of_the_release(graded):
    """`nbgrader validate` exits 0 even when validation fails: we read its output."""
    name = LESSONS[0]
    proc = grading.nbgrader("validate", str(course.RELEASE / name / f"{name}.ipynb"), root=graded[name][0], check=False)
    assert proc.returncode == 0
    assert "VALIDATION FAILED" in proc.stdout + proc.stderr
