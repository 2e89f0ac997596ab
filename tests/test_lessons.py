"""Every lesson executes top to bottom on the real data: cold, then warm.

Writes the timing report (reports/timing-latest.json) that `make bench` prints,
keeps the executed notebooks in reports/executed/ for a human to open, and runs
nbgrader's validator on each executed source notebook.
"""
from __future__ import annotations

import nbformat
import pytest

from helpers import course

LESSONS = course.lessons()
EXECUTED = course.REPORTS / "executed"
SECONDS: dict[str, float] = {}


def _errors(nb) -> list[str]:
    return [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(nb.cells)
            if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_there_are_lessons():
    names = sorted(p.name for p in course.SOLUTIONS.iterdir() if p.is_dir())
    assert LESSONS and names[0] == "01_background"


@pytest.mark.lessons
@pytest.mark.parametrize("name", LESSONS)
def test_lesson_executes_cold_then_warm(name, cold_run):
    path = course.SOLUTIONS / name / f"{name}.ipynb"
    cold = cold_run(name)  # raises on the first failing cell
    assert course.validation_problems(cold["notebook"]) == {}, "the source notebook does not validate"
    warm = course.execute_notebook(path, timeout=300)
    course.write_timing(name, "warm", warm)
    assert _errors(warm["notebook"]) == []
    EXECUTED.mkdir(parents=True, exist_ok=True)
    nbformat.write(warm["notebook"], EXECUTED / f"{name}.ipynb")
    SECONDS[name] = warm["seconds"]
    print(f"{name}: cold {cold['seconds']} s, warm {warm['seconds']} s (slowest warm cell "
          f"{warm['slowest_seconds']} s), peak {cold['peak_mib']} MiB")


@pytest.mark.lessons
def test_every_lesson_ran_so_the_cache_is_prepared():
    every = {p.name for p in course.SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file()}
    if set(SECONDS) != every:
        pytest.skip("not every lesson executed in this session")
    stamp = course.mark_prepared(SECONDS)
    assert stamp.is_file()
