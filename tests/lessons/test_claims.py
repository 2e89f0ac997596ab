"""Does every sentence that a claims table quotes still stand in its lesson, and do the outputs support it?

The tables live in ``tests/lessons/claims/`` (one module per lesson). The
quotes are checked against ``solutions/`` on every run; the checks read
``reports/executed/<lesson>.ipynb``, which ``test_lessons.py`` writes earlier
in the same session (conftest orders this file after it).
"""
from __future__ import annotations

import importlib
import pkgutil

import nbformat
import pytest

import claims as claims_pkg  # tests/lessons/claims/ (pytest puts this folder on sys.path)
from claims import Claim, Executed, _squash
from tools import course

TABLES = {m.name: importlib.import_module(f"{claims_pkg.__name__}.{m.name}")
          for m in pkgutil.iter_modules(claims_pkg.__path__)}
CASES = [(mod.LESSON, i, claim) for mod in TABLES.values() for i, claim in enumerate(mod.CLAIMS)]


def _markdown(lesson: str) -> list[str]:
    nb = nbformat.read(course.SOLUTIONS / lesson / f"{lesson}.ipynb", as_version=4)
    return [_squash(c.source) for c in nb.cells if c.cell_type == "markdown"]


def test_every_table_names_a_lesson_and_holds_claims():
    assert TABLES, "no claims tables in tests/lessons/claims/"
    for name, mod in TABLES.items():
        assert (course.SOLUTIONS / mod.LESSON / f"{mod.LESSON}.ipynb").is_file(), f"{name}: LESSON {mod.LESSON!r} is not a lesson"
        assert mod.CLAIMS and all(isinstance(c, Claim) for c in mod.CLAIMS), name


@pytest.mark.parametrize("lesson,i,claim", CASES, ids=[f"{lesson}-{i}" for lesson, i, _ in CASES])
def test_the_quoted_sentence_is_in_the_lesson(lesson, i, claim):
    hits = [cell for cell in _markdown(lesson) if _squash(claim.says) in cell]
    assert len(hits) == 1, (f"{lesson}: {len(hits)} markdown cells quote {claim.says!r}; a reworded sentence "
                            "must be re-checked (update its claim in tests/lessons/claims/)")


@pytest.mark.lessons
@pytest.mark.parametrize("lesson,i,claim", CASES, ids=[f"{lesson}-{i}" for lesson, i, _ in CASES])
def test_the_outputs_support_the_sentence(lesson, i, claim):
    path = course.REPORTS / "executed" / f"{lesson}.ipynb"
    if not path.is_file():
        pytest.skip(f"{lesson} has not been executed (reports/executed/ is written by test_lessons.py)")
    claim.holds(Executed(nbformat.read(path, as_version=4)))
