"""Does the visible self-check of an exercise fail the wrong answers learners are likely to write, saying what is wrong?

The self-check is the part of the graded test cell of ``solutions/<lesson>/<lesson>.ipynb``
above ``### BEGIN HIDDEN TESTS``: what a learner runs. Each test here takes that
code and the solution cell from the notebook, runs the self-check on the
solution (it must pass) and on a wrong answer made from the solution by one
edit (it must fail with a message naming the mistake). The lesson's data are
replaced by stand-ins of the same shapes, so no lesson is executed.
"""
from __future__ import annotations

from types import SimpleNamespace

import keras
import nbformat
import numpy as np
import pytest

from helpers import calibration, metrics
from tools import course

HIDDEN = "### BEGIN HIDDEN TESTS"


def _cell(lesson: str, grade_id: str) -> str:
    nb = nbformat.read(course.SOLUTIONS / lesson / f"{lesson}.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return cell.source


def _code_cell_with(lesson: str, fragment: str) -> str:
    nb = nbformat.read(course.SOLUTIONS / lesson / f"{lesson}.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if c.cell_type == "code" and fragment in c.source]
    return cell.source


def _self_check(lesson: str, grade_id: str) -> str:
    visible, hidden, _ = _cell(lesson, grade_id).partition(HIDDEN)
    assert hidden, f"{lesson} {grade_id}: no hidden-test marker"
    return visible


def _answer(lesson: str, grade_id: str, edit: tuple[str, str] | None = None) -> str:
    """The solution cell's code, or a wrong answer made from it by replacing ``edit[0]`` with ``edit[1]``."""
    source = _cell(lesson, grade_id)
    if edit is not None:
        old, new = edit
        assert source.count(old) == 1, f"the solution of {grade_id} no longer contains {old!r}: update this test"
        source = source.replace(old, new)
    return source


def _run(namespace: dict, *sources: str) -> dict:
    for source in sources:
        exec(compile(source, "<notebook cell>", "exec"), namespace)
    return namespace


# ----------------------------------------------------------------------------------- 02, conv2d
CONV_WRONG = {
    "ignores the stride": (
        [("(h - kh) // stride + 1, (w - kw) // stride + 1", "h - kh + 1, w - kw + 1"),
         ("x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]", "x[:, i:i + kh, j:j + kw, :]")],
        "has the size of stride 1"),
    "right size, but windows one pixel apart": (
        [("x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]", "x[:, i:i + kh, j:j + kw, :]")],
        "your windows move 1 pixel at a time"),
    "pads k // 2 on each side": (
        [("same_padding(x.shape[1], kh, stride), same_padding(x.shape[2], kw, stride)",
          "(kh // 2, kh // 2), (kw // 2, kw // 2)")],
        "not k // 2 on each side"),
    "puts the extra padding at the top/left": (
        [("same_padding(x.shape[1], kh, stride), same_padding(x.shape[2], kw, stride)",
          "same_padding(x.shape[1], kh, stride)[::-1], same_padding(x.shape[2], kw, stride)[::-1]")],
        "your extra row/column of padding is at the top/left"),
}


def _conv_namespace() -> dict:
    rng = np.random.default_rng(1)
    ns = {"np": np, "keras": keras, "x_demo": rng.uniform(0, 1, size=(8, 28, 28, 1)).astype(np.float32),
          "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)}
    return _run(ns, _code_cell_with("02_cnn_formula", "def same_padding"))


def test_02_the_conv2d_self_check_passes_the_solution(capsys):
    _run(_conv_namespace(), _answer("02_cnn_formula", "ex1_conv2d"), _self_check("02_cnn_formula", "ex1_conv2d_tests"))
    assert "Self-check passed" in capsys.readouterr().out


@pytest.mark.parametrize("mistake", list(CONV_WRONG))
def test_02_the_conv2d_self_check_names_the_mistake(mistake):
    edits, message = CONV_WRONG[mistake]
    answer = _answer("02_cnn_formula", "ex1_conv2d")
    for old, new in edits:
        assert answer.count(old) == 1, f"the solution of conv2d no longer contains {old!r}: update this test"
        answer = answer.replace(old, new)
    with pytest.raises(AssertionError, match=message.replace("/", ".").replace("(", r"\(").replace(")", r"\)")):
        _run(_conv_namespace(), answer, _self_check("02_cnn_formula", "ex1_conv2d_tests"))


# ------------------------------------------------------------------------------- 03, rnn_forward
def _rnn_namespace() -> dict:
    rng = np.random.default_rng(2)
    ecg200 = SimpleNamespace(train=SimpleNamespace(x=rng.normal(size=(10, 96, 1)).astype(np.float32)))
    ns = {"np": np, "keras": keras, "ecg200": ecg200}
    return _run(ns, _answer("03_rnn_formula", "ex1_rnn_step"), _self_check("03_rnn_formula", "ex1_rnn_step_tests"))


def test_03_the_rnn_forward_self_check_passes_the_solution(capsys):
    _run(_rnn_namespace(), _answer("03_rnn_formula", "ex2_rnn_forward"),
         _self_check("03_rnn_formula", "ex2_rnn_forward_tests"))
    assert "rnn_forward equals Keras" in capsys.readouterr().out


def test_03_the_rnn_forward_self_check_fails_an_answer_that_ignores_h0():
    wrong = _answer("03_rnn_formula", "ex2_rnn_forward",
                    ("h = np.zeros((n, W_h.shape[0]), np.float32) if h0 is None else np.asarray(h0, np.float32)",
                     "h = np.zeros((n, W_h.shape[0]), np.float32)"))
    with pytest.raises(AssertionError, match="started from zeros; start from h0 when it is given"):
        _run(_rnn_namespace(), wrong, _self_check("03_rnn_formula", "ex2_rnn_forward_tests"))


# -------------------------------------------------------------------------------- 05, sens_spec
def _sens_spec_namespace() -> dict:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=156)
    p = np.clip(0.3 * (y == 0) + 0.7 * rng.random(156), 0, 1).astype(np.float32)
    return {"np": np, "metrics": metrics, "calibration": calibration, "POS": 0, "y_test": y, "p_test": p}


def test_05_the_sens_spec_self_check_passes_the_solution(capsys):
    _run(_sens_spec_namespace(), _answer("05_evaluation", "ex1_sens_spec"),
         _self_check("05_evaluation", "ex1_sens_spec_tests"))
    assert "Self-check passed" in capsys.readouterr().out


def test_05_the_sens_spec_self_check_fails_greater_than_at_the_threshold():
    wrong = _answer("05_evaluation", "ex1_sens_spec", ("pred_pos = p_pos >= threshold", "pred_pos = p_pos > threshold"))
    with pytest.raises(AssertionError, match="use p_pos >= threshold, not >"):
        _run(_sens_spec_namespace(), wrong, _self_check("05_evaluation", "ex1_sens_spec_tests"))
