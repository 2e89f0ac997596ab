"""tools.grading.scan: answer cells that tamper with the interpreter are flagged."""
from __future__ import annotations

import nbformat

from tools.grading import scan


def test_tampering_patterns_are_flagged_and_honest_code_is_not():
    mods = {"np", "metrics"}
    assert scan.scan_source("np.allclose = lambda *a, **k: True", mods)
    assert scan.scan_source("import builtins\nbuiltins.len = lambda x: 3", mods)
    assert scan.scan_source("get_ipython().showtraceback = print", mods)
    assert scan.scan_source("import sqlite3", mods)
    assert scan.scan_source("f.__code__ = g.__code__", mods)
    assert not scan.scan_source("def f(x):\n    model.trainable = False\n    return np.sum(x)", mods)
    assert not scan.scan_source("# get_ipython() in a comment\nx = 1", mods)


def test_only_answer_cells_are_scanned():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\nnp.seterr = print"),  # instructor code: not scanned
        nbformat.v4.new_code_cell("np.allclose = print", metadata={"nbgrader": {"solution": True, "grade_id": "ex"}})])
    assert list(scan.scan_notebook(nb)) == ["ex"]
