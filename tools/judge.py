"""Hidden tests run by the grader, which calls the learner's functions in the sandboxed kernel.

A hidden test names the learner's function through :func:`graded`::

    ### BEGIN HIDDEN TESTS
    from tools.judge import graded, expect
    conv2d = graded("conv2d", conv2d)
    out = expect(conv2d(x, k, b), "array", shape=(2, 13, 13, 2))   # type and shape, then values
    ...                      # the asserts, as readable as ever
    ### END HIDDEN TESTS

``graded`` behaves according to the mode of the process it runs in:

* ``check`` (default: an instructor running the notebook, ``nbgrader validate``,
  the lesson tests): it returns the function itself; the asserts judge in-process.
* ``judge`` (the trusted grading process, outside the sandbox: tools.grading's
  executor switches it on through :class:`Judge`): it returns a proxy. Calling
  the proxy sends the call's inputs, as plain data, into the student's kernel
  (one request, answered by :func:`serve` there) and returns the answer decoded
  from plain data (JSON, arrays as ``.npy`` loaded without pickle). No hidden
  test code ever enters the kernel: the references and the asserts run here.

Models travel as data too: a Keras model argument is sent as its config JSON
and weights, and a model the learner returns comes back the same way and is
rebuilt here with ``safe_mode`` from built-in Keras classes only. A model
argument the learner's function changes in place (``set_trainable``) comes
back as data as well and its trainable flags and weights are copied onto the
grader's own object, so the hidden test reads facts from the grader's copy.
"""
from __future__ import annotations

import ast
import base64
import builtins
import io
import json
import math
import re
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

MAX_REPLY_CHARS = 64 * 2**20
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)

_state: dict[str, Any] = {"mode": "check", "call": None, "transcript": None}


class MalformedAnswer(BaseException):
    """An answer that cannot be judged (wrong type or shape, empty, NaN, not plain data, no reply).

    A BaseException: a hidden test's ``except Exception`` (or ``except ValueError``) cannot swallow it.
    """


class RecordedError(Exception):
    """The learner's function raised an exception that is not a built-in one."""


class Opaque:
    """Stands for a value that is not plain data (kernel side, in :func:`encode`)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def graded(name: str, fn: Callable) -> Callable:
    """The learner's function ``fn`` as the hidden test must call it (see the module docstring)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"graded(name, fn): name must be the function's name as a string, got {name!r}")
    if _state["mode"] == "check":
        return fn
    return _Remote(name)


# -------------------------------------------------------- plain-data codec
def _npy(a: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, np.array(a, copy=True, subok=False), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()


def _load_npy(text: str) -> np.ndarray:
    return np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)


def _is_keras_model(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def encode(value: Any, depth: int = 0) -> dict:
    """A JSON-able description of a value; a Keras model as config + weights; anything else 'opaque'."""
    if depth > 12:
        return {"t": "opaque", "type": "deeply nested"}
    kind = type(value)
    if value is None:
        return {"t": "none"}
    if kind in (bool, int, float, str):
        return {"t": kind.__name__, "v": value}
    if kind.__module__ == "numpy" and isinstance(value, np.generic) and not isinstance(value, np.object_):
        return {"t": "npscalar", "v": _npy(np.asarray(value))}
    if isinstance(value, np.ndarray) and value.dtype != object:
        return {"t": "ndarray", "v": _npy(value.view(np.ndarray) if kind is not np.ndarray else value)}
    if kind in (tuple, list):
        return {"t": kind.__name__, "v": [encode(v, depth + 1) for v in value]}
    if kind is dict:
        return {"t": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if _is_keras_model(value):
        return {"t": "model", "config": value.to_json(), "weights": [_npy(np.asarray(w)) for w in value.get_weights()]}
    return {"t": "opaque", "type": f"{kind.__module__}.{kind.__qualname__}"}


def decode(data: Any, depth: int = 0) -> Any:
    """The value described by :func:`encode` (plain Python, NumPy, rebuilt models); ValueError if malformed."""
    if not isinstance(data, dict) or depth > 13:
        raise ValueError("malformed record")
    t = data.get("t")
    if t == "none":
        return None
    if t in ("bool", "int", "float", "str"):
        v = data.get("v")
        want = {"bool": bool, "int": int, "float": float, "str": str}[t]
        if type(v) is not want and not (t == "float" and type(v) is int):
            raise ValueError(f"malformed {t} record")
        return want(v)
    if t == "npscalar":
        a = _load_npy(data["v"])
        if a.ndim != 0:
            raise ValueError("malformed NumPy scalar record")
        return a[()]
    if t == "ndarray":
        return _load_npy(data["v"])
    if t in ("tuple", "list"):
        items = [decode(v, depth + 1) for v in data["v"]]
        return tuple(items) if t == "tuple" else items
    if t == "dict":
        out = {}
        for pair in data["v"]:
            key = decode(pair[0], depth + 1)
            if isinstance(key, (list, dict, np.ndarray)):
                raise ValueError("malformed dict key")
            out[key] = decode(pair[1], depth + 1)
        return out
    if t == "model":
        return rebuild_model(data)
    if t == "opaque":
        return Opaque(str(data.get("type", "?")))
    raise ValueError(f"unknown record type {t!r}")


def _foreign_classes(config: Any) -> list[str]:
    """Classes named in a Keras config that are not Keras's own (custom layers, subclassed models)."""
    found = []
    if isinstance(config, dict):
        if "class_name" in config:
            module = config.get("module")
            registered = config.get("registered_name")
            internal = module is None and re.fullmatch(r"__\w+__", str(config["class_name"]))  # tensors, tuples
            if not internal and (
                    not isinstance(module, str) or not (module == "keras" or module.startswith("keras."))
                    or registered not in (None, config["class_name"])):
                found.append(str(config["class_name"]))
        for value in config.values():
            found += _foreign_classes(value)
    elif isinstance(config, list):
        for value in config:
            found += _foreign_classes(value)
    return found


def rebuild_model(data: dict) -> Any:
    """A Keras model from its config JSON and weights: built-in classes only, ``safe_mode`` (no lambdas).

    Raises MalformedAnswer with the reason when the model cannot be rebuilt that way.
    """
    import keras
    try:
        config = json.loads(data["config"])
        weights = [_load_npy(w) for w in data["weights"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedAnswer(f"the model could not be read as data ({type(exc).__name__})") from None
    foreign = _foreign_classes(config)
    if foreign:
        raise MalformedAnswer(f"the model uses classes that are not Keras's own ({', '.join(sorted(set(foreign)))}): "
                              "build it from keras.layers and keras.Model/Sequential only")
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
        if not isinstance(model, keras.Model):
            raise TypeError(f"a {type(model).__name__}")
        model.set_weights(weights)
    except MalformedAnswer:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever Keras refuses scores 0 with its reason
        raise MalformedAnswer(f"the model could not be rebuilt from its config ({type(exc).__name__}: "
                              f"{str(exc)[:200]})") from None
    return model


# ------------------------------------------------ inside the student's kernel
def serve(fn: Callable, request: str) -> str:
    """Kernel side of one call: decode the inputs, call ``fn``, encode the answer (a JSON string).

    The reply says what ``fn`` returned (or which exception it raised) and,
    for every Keras model argument, that model's state after the call.
    """
    req = json.loads(request)
    args = [decode(a) for a in req["args"]]
    kwargs = {k: decode(v) for k, v in req["kwargs"].items()}
    reply: dict[str, Any] = {}
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported to the grader, which re-raises built-in ones
        reply = {"raised": type(exc).__name__, "message": str(exc)[:500]}
    else:
        same = [i for i, a in enumerate(args) if out is a and _is_keras_model(a)]
        try:
            reply = {"returned": {"t": "arg", "i": same[0]} if same else encode(out)}
        except Exception as exc:  # noqa: BLE001 - a value that refuses to be described
            reply = {"unrecordable": f"{type(exc).__name__}: {str(exc)[:200]}"}
    try:
        reply["after"] = {str(i): encode(a) for i, a in enumerate(args) if _is_keras_model(a)}
    except Exception as exc:  # noqa: BLE001
        reply = {"unrecordable": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return json.dumps(reply)


# ------------------------------------------------------- the grader's side
def _strip_trainable(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: _strip_trainable(v) for k, v in config.items() if k != "trainable"}
    if isinstance(config, list):
        return [_strip_trainable(v) for v in config]
    return config


def _copy_state(mine: Any, theirs: Any, name: str) -> None:
    """Copy the trainable flags and weights of the kernel's copy of a model argument onto the grader's own."""
    if _strip_trainable(json.loads(mine.to_json())) != _strip_trainable(json.loads(theirs.to_json())):
        raise MalformedAnswer(f"{name} changed the architecture of the model it was given")

    def walk(a: Any, b: Any) -> None:  # a model's flag first: setting it sets its layers' flags too
        a.trainable = b.trainable
        for la, lb in zip(getattr(a, "layers", []), getattr(b, "layers", [])):
            walk(la, lb)

    walk(mine, theirs)
    mine.set_weights(theirs.get_weights())


def check_plain(value: Any, where: str) -> None:
    """Refuse answers that could compare vacuously: empty or non-numeric arrays, NaN or inf, opaque objects."""
    if isinstance(value, Opaque):
        raise MalformedAnswer(f"{where} returned {value.type_name}, which is not plain data: "
                              "return NumPy arrays, numbers, tuples, lists or dicts")
    if isinstance(value, (np.ndarray, np.generic)):
        a = np.asarray(value)
        if a.dtype.kind not in "biuf":
            raise MalformedAnswer(f"{where} returned an array of dtype {a.dtype}: numbers expected")
        if a.size == 0:
            raise MalformedAnswer(f"{where} returned an empty array")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise MalformedAnswer(f"{where} returned NaN or inf")
    elif isinstance(value, float) and not math.isfinite(value):
        raise MalformedAnswer(f"{where} returned NaN or inf")
    elif isinstance(value, (list, tuple)):
        for v in value:
            check_plain(v, where)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_plain(k, where)
            check_plain(v, where)


class _Remote:
    """The learner's function as the grader calls it: one request to the kernel per call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        where = f"{self.name} (call {self.calls})"
        request = json.dumps({"args": [encode(a) for a in args], "kwargs": {k: encode(v) for k, v in kwargs.items()}})
        if '"opaque"' in request:
            raise RuntimeError(f"{where}: a hidden test passes an argument that is not plain data")
        call = _state["call"]
        if call is None:
            raise MalformedAnswer(f"{where}: no kernel to call")
        text = call(self.name, request)
        if _state["transcript"] is not None:
            _state["transcript"].append({"call": where, "reply": text[:100_000]})
        try:
            if len(text) > MAX_REPLY_CHARS:
                raise ValueError("reply too large")
            reply = json.loads(text)
            if not isinstance(reply, dict):
                raise ValueError("not a dict")
        except (ValueError, TypeError) as exc:
            raise MalformedAnswer(f"{where}: the answer could not be read ({exc})") from None
        if "unrecordable" in reply:
            raise MalformedAnswer(f"{where}: the returned value could not be sent as data ({reply['unrecordable']})")
        try:
            for i, state in dict(reply.get("after", {})).items():
                mine = args[int(i)]
                if not _is_keras_model(mine):
                    raise ValueError("not a model argument")
                _copy_state(mine, decode(state), self.name)
            if "raised" in reply:
                raised, message = str(reply["raised"]), str(reply.get("message", ""))
            else:
                ret = reply["returned"]
                if isinstance(ret, dict) and ret.get("t") == "arg":  # "the model you gave me", changed in place
                    value = args[int(ret["i"])]
                    if not _is_keras_model(value) or str(ret["i"]) not in reply.get("after", {}):
                        raise ValueError("only a model argument can be returned as itself")
                else:
                    value = decode(ret)
                raised = None
        except MalformedAnswer as exc:
            raise MalformedAnswer(f"{where}: {exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise MalformedAnswer(f"{where}: malformed answer ({type(exc).__name__})") from None
        if raised is not None:
            exc_type = getattr(builtins, raised, None)
            if isinstance(exc_type, type) and issubclass(exc_type, Exception):
                raise exc_type(message)
            raise RecordedError(f"{raised}: {message}")
        check_plain(value, where)
        return value


def expect(value: Any, kind: str, shape: tuple | None = None, dtype: str | None = None, length: int | None = None) -> Any:
    """``value`` checked for type and shape before a hidden test compares it; MalformedAnswer if it does not fit.

    ``kind``: ``"array"`` (anything np.asarray turns into numbers: returns the
    array), ``"number"`` (one finite real number: returns a float), ``"pair"``
    (two finite numbers: returns a float array of shape (2,)), ``"dict"``,
    ``"model"``. ``shape`` (None for any axis) and ``dtype`` (``"integer"``,
    ``"number"``) refine arrays; ``length`` refines dicts.
    """
    try:
        if kind == "number":
            numeric = isinstance(value, (int, float, np.integer, np.floating)) or (
                isinstance(value, np.ndarray) and value.dtype.kind in "iuf")
            if isinstance(value, (bool, np.bool_)) or not numeric or np.ndim(value) != 0:
                raise MalformedAnswer(f"expected one number, got {type(value).__name__} of shape {np.shape(value)}")
            out = float(value)
            if not math.isfinite(out):
                raise MalformedAnswer("expected a finite number, got NaN or inf")
            return out
        if kind in ("array", "pair"):
            if value is None or isinstance(value, (str, dict)):
                raise MalformedAnswer(f"expected an array, got {type(value).__name__}")
            a = np.asarray(value)
            if a.dtype.kind not in "biuf" or a.size == 0:
                raise MalformedAnswer(f"expected an array of numbers, got dtype {a.dtype} and shape {a.shape}")
            if kind == "pair":
                shape = (2,)
                a = a.astype(float)
            if shape is not None and (a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape))):
                raise MalformedAnswer(f"expected an array of shape {tuple('N' if s is None else s for s in shape)}, got {a.shape}")
            if dtype == "integer" and a.dtype.kind not in "iu":
                raise MalformedAnswer(f"expected integers, got dtype {a.dtype}")
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise MalformedAnswer("the array holds NaN or inf")
            return a
        if kind == "dict":
            if type(value) is not dict or not value:
                raise MalformedAnswer(f"expected a non-empty dict, got {type(value).__name__}")
            if length is not None and len(value) != length:
                raise MalformedAnswer(f"expected a dict of {length} entries, got {len(value)}")
            return value
        if kind == "model":
            import keras
            if not isinstance(value, keras.Model):
                raise MalformedAnswer(f"expected a keras.Model, got {type(value).__name__}")
            return value
    except MalformedAnswer:
        raise
    except Exception as exc:  # noqa: BLE001 - a value that fails np.asarray or float()
        raise MalformedAnswer(f"expected {kind}, got a value that cannot be read as one ({type(exc).__name__})") from None
    raise ValueError(f"expect(): unknown kind {kind!r}")


# ------------------------------------------------------------------ judge
def _is_hidden_test(cell: Any) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and "### BEGIN HIDDEN TESTS" in cell.source


def judged_cells(source_nb: Any) -> list[str]:
    """grade_ids of the tests cells whose verdict the judge gives (those with a hidden section)."""
    return [c.metadata["nbgrader"]["grade_id"] for c in source_nb.cells if _is_hidden_test(c)]


def strip_hidden(source: str) -> str:
    """A cell's source without its hidden-test sections (what the student's kernel may run)."""
    return re.sub(r"[ \t]*### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", "", source, flags=re.S)


def _prelude(source_nb: Any) -> tuple[list[str], list[str], list[str]]:
    """Instructor code the judge runs first: imports of non-answer cells, tests cells' defs, answer names.

    Only the imports whose names the hidden tests or those defs use are kept
    (lesson 01's hidden tests need NumPy, not TensorFlow).
    """
    imports, defs, answers, hidden = [], [], [], []
    for cell in source_nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        hidden += HIDDEN.findall(cell.source)
        try:
            tree = ast.parse(HIDDEN.sub("", cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if meta.get("solution") and not meta.get("grade"):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    answers.append(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(node)
            elif meta.get("grade") and isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defs.append(ast.unparse(node))
    used: set[str] = set()
    for src in hidden + defs:
        try:
            used |= {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
        except SyntaxError:
            continue
    keep = [ast.unparse(n) for n in imports
            if any((a.asname or a.name).split(".")[0] in used for a in n.names)]
    return keep, defs, answers


def _placeholder(name: str) -> Callable:
    def absent(*args: Any, **kwargs: Any) -> Any:
        raise MalformedAnswer(f"{name} was called outside graded(): the grader only calls graded functions")
    return absent


class Judge:
    """The hidden tests of one source notebook, run in the grader's process for one submission.

    ``call(name, request_json) -> reply_json`` reaches the student's kernel
    (tools.grading's executor sends an execute request and reads the reply
    matched to it); :meth:`run` judges one tests cell and returns its verdict.
    """

    def __init__(self, source_nb: Any, call: Callable[[str, str], str]) -> None:
        self.cells = {c.metadata["nbgrader"]["grade_id"]: "\n".join(HIDDEN.findall(c.source))
                      for c in source_nb.cells if _is_hidden_test(c)}
        self.call = call
        self.transcript: list[dict] = []
        self.ns: dict[str, Any] | None = None
        self._source = source_nb

    def _namespace(self) -> dict[str, Any]:
        if self.ns is None:
            imports, defs, answers = _prelude(self._source)
            ns: dict[str, Any] = {"__name__": "__judge__"}
            for stmt in imports:
                try:
                    exec(stmt, ns)
                except Exception:  # an optional import of the lesson; the hidden test will say if it needed it
                    pass
            for name in answers:
                ns[name] = _placeholder(name)
            for stmt in defs:
                exec(stmt, ns)
            self.ns = ns
        return self.ns

    def run(self, grade_id: str) -> dict[str, Any]:
        """``{"passed": bool, "message": str}`` for one tests cell: the hidden section, run here."""
        code = self.cells[grade_id]
        ns = self._namespace()
        _state.update(mode="judge", call=self.call, transcript=self.transcript)
        try:
            exec(compile(code, f"<hidden tests {grade_id}>", "exec"), ns)
            return {"passed": True, "message": "Hidden tests passed."}
        except MalformedAnswer as exc:
            return {"passed": False, "message": f"Hidden tests: 0 points, malformed answer: {exc}"}
        except RecordedError as exc:
            return {"passed": False, "message": f"Hidden tests: 0 points, your function raised {exc}"[:400]}
        except AssertionError:
            return {"passed": False, "message": "Hidden tests: 0 points, a result differs from the expected one."}
        except BaseException as exc:  # noqa: BLE001 - any other failure of a hidden test scores 0
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return {"passed": False, "message": f"Hidden tests: 0 points ({type(exc).__name__})."}
        finally:
            _state.update(mode="check", call=None, transcript=None)


def local_call(namespace: dict[str, Any]) -> Callable[[str, str], str]:
    """A ``call`` for :class:`Judge` that serves from a namespace in this process (tests, no sandbox)."""
    def call(name: str, request: str) -> str:
        if name not in namespace:
            return json.dumps({"raised": "NameError", "message": f"name {name!r} is not defined"})
        return serve(namespace[name], request)
    return call


def judge_in_process(source_nb: Any, namespace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Verdict of every hidden test, calling answers defined in ``namespace`` (no kernel: tests only)."""
    j = Judge(source_nb, local_call(namespace))
    return {gid: j.run(gid) for gid in j.cells}


def source_of(path: Path | str) -> Any:
    """The instructor notebook at ``path``, read with nbformat."""
    import nbformat
    return nbformat.read(str(path), as_version=4)
