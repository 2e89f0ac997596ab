"""nbgrader source -> release pipeline: no drift, validation, autograde round trip."""
from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

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


def _grade(root: Path, name: str) -> Path:
    """Autograde, in its own throwaway course root, lesson ``name``'s source (a perfect submission) and release."""
    shutil.copytree(course.SOLUTIONS / name, root / "solutions" / name)
    grading.nbgrader("db", "student", "add", "solution-author", root=root)
    grading.nbgrader("db", "student", "add", "untouched", root=root)
    grading.nbgrader("generate_assignment", name, "--force", root=root)
    for student, folder in (("solution-author", "solutions"), ("untouched", "notebooks")):
        dest = root / "submitted" / student / name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / folder / name / f"{name}.ipynb", dest / f"{name}.ipynb")
    grading.nbgrader("autograde", name, "--force", root=root)
    return root


@pytest.fixture(scope="module")
def graded(tmp_path_factory, cold_run) -> dict[str, Path]:
    """Every lesson autograded (source and untouched release), two lessons at a time.

    Each lesson gets its own course root and gradebook, so two nbgrader
    processes never share a database; the cache is filled first, as after
    `make prepare`, so every kernel runs warm.
    """
    for name in LESSONS:
        cold_run(name)
    roots = {name: tmp_path_factory.mktemp(f"graded-{name}") for name in LESSONS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(LESSONS, pool.map(lambda n: _grade(roots[n], n), LESSONS)))


def _scores(root: Path) -> dict[tuple[str, str], tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {(s.student.id, s.assignment.name): (s.score, s.max_score)
                for a in gb.assignments for s in a.submissions}


@pytest.mark.nbgrader
@pytest.mark.parametrize("name", LESSONS)
def test_autograde_source_full_marks_release_zero(graded, name):
    scores = _scores(graded[name])
    score, max_score = scores[("solution-author", name)]
    assert max_score > 0, f"{name} has no graded cells"
    assert score == max_score, f"{name}: the instructor solution scored {score}/{max_score}"
    assert scores[("untouched", name)] == (0.0, max_score), f"{name}: an untouched release scored marks"


@pytest.mark.nbgrader
@pytest.mark.parametrize("name", LESSONS)
def test_source_validates_and_release_fails_validation(graded, name):
    solved = nbformat.read(graded[name] / "autograded" / "solution-author" / name / f"{name}.ipynb", 4)
    untouched = nbformat.read(graded[name] / "autograded" / "untouched" / name / f"{name}.ipynb", 4)
    assert course.validation_problems(solved) == {}
    assert course.validation_problems(untouched).get("failed"), f"{name}: the release passes validation"


@pytest.mark.nbgrader
def test_nbgrader_validate_cli_reports_failure_of_the_release(graded):
    """`nbgrader validate` exits 0 even when validation fails: we read its output."""
    name = LESSONS[0]
    proc = grading.nbgrader("validate", str(course.RELEASE / name / f"{name}.ipynb"), root=graded[name], check=False)
    assert proc.returncode == 0
    assert "VALIDATION FAILED" in proc.stdout + proc.stderr
