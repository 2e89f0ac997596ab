"""Every lesson executes top to bottom on the real data: cold, then warm.

Writes the timing report (reports/timing-latest.json) that `make bench` prints,
keeps the executed notebooks in reports/executed/ for a human to open, and runs
nbgrader's validator on each executed source notebook.
"""
from __future__ import annotations

import nbformat
import pytest

from tools import course

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
    if name == "04_finetune":  # its tables, from the cache the lesson just filled (no lesson cell writes files)
        course.write_curves_report()
    print(f"{name}: cold {cold['seconds']} s, warm {warm['seconds']} s (slowest warm cell "
          f"{warm['slowest_seconds']} s), peak {cold['peak_mib']} MiB")


@pytest.mark.lessons
def test_committed_transfer_curves_match_this_run():
    """reports/transfer_curves.json (committed, quoted in the closing notes) against what lesson 04 just printed.

    Results are bit-identical across runs on one machine, not across machines
    (oneDNN kernels), so numbers may differ by a little; the layout (datasets,
    budgets, seeds, chosen recipes) must not.
    """
    import json

    if "04_finetune" not in SECONDS:
        pytest.skip("lesson 04 did not execute in this session")
    latest = json.loads((course.REPORTS / "transfer_curves-latest.json").read_text())
    committed_path = course.REPORTS / "transfer_curves.json"
    assert committed_path.is_file(), "commit reports/transfer_curves.json (copy of transfer_curves-latest.json)"
    committed = json.loads(committed_path.read_text())
    assert sorted(committed) == sorted(latest)
    for name in (k for k in latest if not k.startswith("compute")):
        layout = lambda rows: [(r["budget"], r["labels"], r["seeds"], r["source"], r["scratch_recipe"],
                                r["transfer_recipe"]) for r in rows]
        assert layout(committed[name]) == layout(latest[name]), f"{name}: budgets, seeds or recipes changed"
        for old, new in zip(committed[name], latest[name]):
            for key in ("scratch_mean", "transfer_mean", "diff", "diff_low", "diff_high"):
                assert abs(old[key] - new[key]) < 0.02, (name, old["budget"], key, old[key], new[key])


@pytest.mark.lessons
def test_every_lesson_ran_so_the_cache_is_prepared():
    every = {p.name for p in course.SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file()}
    if set(SECONDS) != every:
        pytest.skip("not every lesson executed in this session")
    stamp = course.mark_prepared(SECONDS)
    assert stamp.is_file()
