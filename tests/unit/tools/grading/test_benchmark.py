"""tools.grading.benchmark: the synthetic class it grades."""
from __future__ import annotations

import shutil

import nbformat

from helpers import REPO_ROOT
from tools.grading import benchmark as bench, cycle

FIXTURE = "zz_grading_fixture"


def test_a_third_perfect_a_third_partial_a_third_untouched(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "grading" / FIXTURE, root / "solutions" / FIXTURE)
    cycle.nbgrader("generate_assignment", FIXTURE, "--force", "--no-db", root=root)
    kinds = bench.write_submissions(root, FIXTURE, 3)
    assert kinds == {"student000": "perfect", "student001": "partial", "student002": "untouched"}
    texts = {s: (root / "submitted" / s / FIXTURE / f"{FIXTURE}.ipynb").read_text() for s in kinds}
    assert "np.asarray(x) ** 2" in texts["student000"] and "return a + b" in texts["student000"]
    assert texts["student002"].count("NotImplementedError") == 2
    nb = nbformat.read(root / "submitted" / "student001" / FIXTURE / f"{FIXTURE}.ipynb", as_version=4)
    assert sum("NotImplementedError" in c.source for c in nb.cells) == 1
