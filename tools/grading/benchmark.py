"""The grading benchmark: N synthetic submissions of a lesson autograded in a throwaway course."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from helpers import REPO_ROOT

from tools.grading.batch import autograde
from tools.grading.cycle import release


def write_submissions(root: Path, assignment: str, n: int) -> dict[str, str]:
    """``n`` synthetic submissions from the release: a third perfect, a third with only the first answer,
    a third untouched. Returns {student: "perfect" | "partial" | "untouched"}."""
    import nbformat
    source = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", c.source)
               for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    first = sorted(answers)[:1]
    kinds = {}
    for i in range(n):
        nb = nbformat.read(root / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers and (i % 3 == 0 or (i % 3 == 1 and gid in first)):
                cell.source = answers[gid]
        folder = root / "submitted" / f"student{i:03d}" / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")
        kinds[f"student{i:03d}"] = ("perfect", "partial", "untouched")[i % 3]
    return kinds


def bench(n: int = 30, jobs: int = 2, assignment: str = "01_background", keep: bool = False) -> float:
    """Autograde ``n`` synthetic submissions of a lesson in a throwaway course copy; return seconds.

    A third are perfect, a third half right, a third untouched. Run it with a
    warm cache (``make prepare``): it measures grading, not training.
    """
    tmp = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    root = tmp / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root)
    shutil.copytree(REPO_ROOT / "solutions" / assignment, root / "solutions" / assignment)
    shutil.copytree(REPO_ROOT / "datasets", root / "datasets", ignore=shutil.ignore_patterns("*.npz", "*.zip"))
    os.environ["COURSE_EXCHANGE"] = str(root / "exchange")
    release(assignment, root=root)
    write_submissions(root, assignment, n)
    start = time.perf_counter()
    results = autograde(assignment, jobs=jobs, root=root)
    seconds = time.perf_counter() - start
    slowest = max(results, key=lambda r: r.seconds)
    peak_mb = max(int(r.usage.get("VmHWM", "0 kB").split()[0]) // 1024 for r in results)
    slowest_cell = max(r.slowest_cell for r in results)
    print(f"{n} submissions of {assignment}, {jobs} at a time: {seconds:.0f} s "
          f"({seconds / n:.1f} s each on average; slowest {slowest.seconds:.0f} s; "
          f"failed: {sum(not r.ok for r in results)}; slowest cell {slowest_cell:.0f} s; "
          f"peak RSS of a kernel {peak_mb} MB)")
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return seconds
