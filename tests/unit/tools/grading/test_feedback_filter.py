"""tools.grading.feedback_filter: feedback shows no hidden test and no output quoting one."""
from __future__ import annotations

import nbformat

from tools.grading import feedback_filter


def test_hidden_sections_and_outputs_quoting_them_are_removed():
    cell = nbformat.v4.new_code_cell("assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(12345) == 54321\n### END HIDDEN TESTS\n")
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="",
                                           traceback=["\x1b[0;32m----> 3\x1b[0m assert f(12345) == 54321"]),
                    nbformat.v4.new_output("stream", name="stdout", text="Self-check passed\n")]
    nb = nbformat.v4.new_notebook(cells=[cell])
    out = feedback_filter.strip_hidden_tests(nb)
    assert out.cells[0].source == "assert f(1) == 1\n"
    assert out.cells[0].outputs[0].text == feedback_filter.WITHHELD
    assert out.cells[0].outputs[1].text == "Self-check passed\n"


def test_the_filter_is_an_enabled_nbconvert_preprocessor():
    cls = feedback_filter._feedback_filter_class()
    assert cls().enabled is True
