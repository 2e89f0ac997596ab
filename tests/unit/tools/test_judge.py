"""tools.judge: the plain-data codec, the type and shape checks, and the grader's side of a call.

No kernel here: a call is answered by :func:`tools.judge.serve` in this process
(or by a hand-made reply), which is exactly what the sandboxed kernel returns.
"""
from __future__ import annotations

import base64
import io
import json

import nbformat
import numpy as np
import pytest

from tools import judge


def test_values_travel_as_plain_data_only():
    class AlwaysEqual(np.ndarray):
        def __eq__(self, other):
            return True

        def __array_function__(self, *a, **k):
            return True

        @property
        def shape(self):
            return (3,)

    back = judge.decode(judge.encode(np.zeros(3).view(AlwaysEqual)))
    assert type(back) is np.ndarray and not np.array_equal(back, [1, 4, 16])
    assert isinstance(judge.decode(judge.encode(object())), judge.Opaque)
    assert judge.decode(judge.encode({np.int64(2): 1.5, 3: (np.float32(1), None)})) == {np.int64(2): 1.5, 3: (1.0, None)}
    assert type(next(iter(judge.decode(judge.encode({np.int64(2): 1.0}))))) is np.int64  # `type(k) is int` still fails
    pickled = io.BytesIO()
    np.save(pickled, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        judge.decode({"t": "ndarray", "v": base64.b64encode(pickled.getvalue()).decode()})
    with pytest.raises(ValueError):
        judge.decode({"t": "int", "v": "3"})


@pytest.mark.parametrize("value, kind, kwargs, fits", [
    (np.array([3, 1]), "array", {"shape": (None,), "dtype": "integer"}, True),
    (np.array([3.0, 1.0]), "array", {"dtype": "integer"}, False),     # wrong dtype
    (np.array([]), "array", {}, False),                               # empty: would compare vacuously
    (np.zeros((2, 3)), "array", {"shape": (2, 4)}, False),            # wrong shape
    ("0.5", "number", {}, False),                                     # a string is not a number
    (float("nan"), "number", {}, False),
    (np.float64(0.25), "number", {}, True),
    (np.array([0.1, 0.2]), "number", {}, False),                      # an array where one number is expected
    ((0.1, 0.9), "pair", {}, True),
    ((0.1, 0.9, 0.5), "pair", {}, False),
    ({1: 0.5}, "dict", {"length": 2}, False),
    ({}, "dict", {}, False),
    ([1, 2], "model", {}, False),
])
def test_expect_checks_type_and_shape_before_value(value, kind, kwargs, fits):
    if fits:
        judge.expect(value, kind, **kwargs)
    else:
        with pytest.raises(judge.MalformedAnswer):
            judge.expect(value, kind, **kwargs)


def test_malformed_answer_is_not_swallowed_by_except_exception():
    with pytest.raises(judge.MalformedAnswer):
        try:
            judge.expect(None, "array")
        except Exception:  # what a hidden test may write around a call that should raise
            pass


def _remote(reply: str | dict, name: str = "f"):
    judge._state.update(mode="judge", call=lambda n, request: reply if isinstance(reply, str) else json.dumps(reply),
                        transcript=None)
    return judge.graded(name, None)


@pytest.fixture(autouse=True)
def _check_mode():
    yield
    judge._state.update(mode="check", call=None, transcript=None)


@pytest.mark.parametrize("reply, error", [
    ("{not json", judge.MalformedAnswer),
    ({"unrecordable": "TypeError"}, judge.MalformedAnswer),
    ({"returned": {"t": "opaque", "type": "Liar"}}, judge.MalformedAnswer),
    ({"returned": judge.encode(np.array([]))}, judge.MalformedAnswer),          # empty array
    ({"returned": judge.encode(np.array([1.0, np.nan]))}, judge.MalformedAnswer),  # NaN
    ({"returned": judge.encode(np.array(["a"]))}, judge.MalformedAnswer),       # not numbers
    ({"returned": {"t": "arg", "i": 0}}, judge.MalformedAnswer),                # no model argument to return
    ({"raised": "ValueError", "message": "no"}, ValueError),                    # built-in: re-raised as itself
    ({"raised": "MyError", "message": "no"}, judge.RecordedError),
])
def test_a_reply_that_is_not_a_plain_answer_fails(reply, error):
    with pytest.raises(error):
        _remote(reply)(np.arange(3))


def test_a_plain_reply_is_the_answer():
    assert np.array_equal(_remote({"returned": judge.encode(np.array([1, 4, 16]))})([1, 2, 4]), [1, 4, 16])
    assert _remote({"returned": judge.encode({2: 0.5})})() == {2: 0.5}


def test_graded_returns_the_function_itself_in_check_mode():
    def f(x):
        return x
    assert judge.graded("f", f) is f
    with pytest.raises(ValueError, match="name"):
        judge.graded("not a name", f)


def test_serve_calls_the_function_and_encodes_its_answer():
    request = json.dumps({"args": [judge.encode(np.array([1, 2]))], "kwargs": {"k": judge.encode(3)}})
    reply = json.loads(judge.serve(lambda x, k: np.asarray(x) * k, request))
    assert np.array_equal(judge.decode(reply["returned"]), [3, 6])
    reply = json.loads(judge.serve(lambda x, k: int("x"), request))
    assert reply["raised"] == "ValueError"
    reply = json.loads(judge.serve(lambda x, k: object(), request))
    assert reply["returned"]["t"] == "opaque"


def _source(hidden: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("def f(x):\n    return x\n", metadata={"nbgrader": {
                    "solution": True, "grade": False, "grade_id": "ex"}}),
                nbformat.v4.new_code_cell("assert f(1) == 1\n### BEGIN HIDDEN TESTS\n" + hidden + "### END HIDDEN TESTS\n",
                                          metadata={"nbgrader": {"solution": False, "grade": True, "grade_id": "ex_tests",
                                                                 "points": 1}})]
    return nb


def test_judge_runs_hidden_tests_here_and_calls_only_graded_functions():
    hidden = "from tools.judge import graded, expect\nf = graded('f', f)\nassert expect(f(3), 'number') == 3\n"
    nb = _source(hidden)
    assert judge.judged_cells(nb) == ["ex_tests"]
    assert judge.judge_in_process(nb, {"f": lambda x: x})["ex_tests"]["passed"]
    wrong = judge.judge_in_process(nb, {"f": lambda x: x + 1})["ex_tests"]
    assert not wrong["passed"] and "differs" in wrong["message"]
    malformed = judge.judge_in_process(nb, {"f": lambda x: [x]})["ex_tests"]
    assert not malformed["passed"] and "expected one number" in malformed["message"]
    assert not judge.judge_in_process(nb, {})["ex_tests"]["passed"]  # not defined in the notebook
    # an ungraded call reaches a placeholder, never the student's function
    direct = _source("assert f(3) == 3\n")
    assert not judge.judge_in_process(direct, {"f": lambda x: x})["ex_tests"]["passed"]
    # a malformed answer fails even inside `except Exception`
    swallow = _source("from tools.judge import graded\nf = graded('f', f)\ntry:\n    f(3)\nexcept Exception:\n    pass\n")
    assert not judge.judge_in_process(swallow, {"f": lambda x: object()})["ex_tests"]["passed"]


def test_strip_hidden_leaves_the_visible_part():
    src = "a = 1\n### BEGIN HIDDEN TESTS\nsecret = 2\n### END HIDDEN TESTS\nb = 3\n"
    assert judge.strip_hidden(src) == "a = 1\nb = 3\n"


# ------------------------------------------------------------ models as data
def _model(keras, name="m"):
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Dropout(0.3)(inputs)), name=name)


def test_a_model_is_rebuilt_from_config_and_weights_with_builtin_layers_only():
    keras = pytest.importorskip("keras")
    m = _model(keras)
    back = judge.decode(judge.encode(m))
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    assert back is not m and np.allclose(back(x), m(x))

    @keras.saving.register_keras_serializable(package="attack")
    class Liar(keras.Model):
        def call(self, x):
            return x

    liar = Liar()
    liar(x)
    with pytest.raises(judge.MalformedAnswer, match="not Keras's own"):
        judge.decode(judge.encode(liar))
    lam = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda z: z * 2)])
    with pytest.raises(judge.MalformedAnswer):
        judge.decode(judge.encode(lam))


def test_a_model_changed_in_place_comes_back_onto_the_graders_copy():
    keras = pytest.importorskip("keras")
    mine = _model(keras)

    def freeze_head(model):
        model.layers[-1].trainable = False
        return model

    judge._state.update(mode="judge", call=judge.local_call({"freeze": freeze_head}), transcript=[])
    out = judge.graded("freeze", None)(mine)
    assert out is mine and mine.layers[-1].trainable is False and mine.trainable_weights == []

    def rebuild(model):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])

    def swap(model):  # an in-place change of the architecture is refused
        model.layers[-1].activation = keras.activations.relu
        return model

    judge._state.update(call=judge.local_call({"swap": swap, "rebuild": rebuild}))
    assert judge.graded("rebuild", None)(mine) is not mine
    with pytest.raises(judge.MalformedAnswer, match="architecture"):
        judge.graded("swap", None)(mine)
