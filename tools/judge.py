"""Hidden tests judged outside the student's process (lesson exercises; tools.grading autograde).

A hidden test calls the learner's function through :func:`graded`::

    ### BEGIN HIDDEN TESTS
    from tools.judge import graded
    conv2d = graded("conv2d", conv2d)
    ...                      # the asserts, as readable as ever
    ### END HIDDEN TESTS

``graded`` behaves according to the mode of the process it runs in:

* ``check`` (default: an instructor running the notebook, ``nbgrader validate``,
  the lesson tests): it returns the function itself; the asserts judge in-process.
* ``record`` (the sandboxed grading kernel; tools.grading switches it on): it
  calls the learner's function and sends every return value, as soon as it is
  returned, as plain data (JSON, arrays as ``.npy`` loaded without pickle) down
  a FIFO that the instructor-side grading process reads while the notebook runs.
  Whatever the kernel's asserts conclude is ignored.
* ``judge`` (``python -m tools.judge``, a process that never executes student
  code): the hidden sections of the *source* notebook (solutions/, instructor
  code) run again, with ``graded`` replaying the recorded values; the reference
  values are computed here. A missing or malformed record fails that test.

For exercises that return a Keras model, the hidden test records facts measured
by :func:`model_facts` / :func:`trainable_facts` (outputs on probe inputs,
trainable weights, layer types, batch-norm statistics) and asserts on those.
"""
from __future__ import annotations

import argparse
import ast
import base64
import builtins
import io
import json
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

RECORDS_ENV = "COURSE_JUDGE_LOG"  # the FIFO the sandboxed kernel records into
MAX_RECORD_BYTES = 64 * 2**20
MAX_CALLS = 500  # per graded() wrapper: later calls (outside the hidden tests) are not recorded
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)

_state: dict[str, Any] = {"mode": "check", "stream": None, "records": {}, "wraps": {}}


class MissingRecord(BaseException):
    """No usable record for a call the hidden test makes (a BaseException: `except Exception` cannot swallow it)."""


class RecordedError(Exception):
    """The learner's function raised an exception that is not a built-in one."""


class Opaque:
    """Stands, in the judge, for a value that could not be recorded as plain data (e.g. a Keras model)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<recorded {self.type_name}>"


# ------------------------------------------------------------------ modes
def start_recording(log: Path | str) -> None:
    """Record mode (the sandboxed grading kernel): append one JSON line per call to ``log``.

    In the sandbox ``log`` is a FIFO read by the instructor-side grading process
    as the lines arrive, so a record cannot be rewritten after the call (the
    first record of a call wins; see :func:`read_log`).
    """
    stream = open(log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the kernel
    _state.update(mode="record", stream=stream, wraps={})


def _start_judging(records: dict) -> None:
    _state.update(mode="judge", records=records, wraps={})


def graded(name: str, fn: Callable) -> Callable:
    """The learner's function ``fn`` as the hidden test must call it (see the module docstring)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"graded(name, fn): name must be the function's name as a string, got {name!r}")
    mode = _state["mode"]
    if mode == "check":
        return getattr(fn, "_judge_original", fn)
    k = _state["wraps"].get(name, 0)
    _state["wraps"][name] = k + 1
    key = f"{name}.{k}"
    if mode == "record":
        return _recorder(key, getattr(fn, "_judge_original", fn))
    return _replayer(key, _state["records"])


# -------------------------------------------------------- plain-data codec
def _npy(a: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, np.array(a, copy=True, subok=False), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()


def encode(value: Any, depth: int = 0) -> dict:
    """A JSON-able description of a return value; anything that is not plain data becomes 'opaque'."""
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
    return {"t": "opaque", "type": f"{kind.__module__}.{kind.__qualname__}"}


def _load_npy(text: str) -> np.ndarray:
    return np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)


def decode(data: Any, depth: int = 0) -> Any:
    """The value described by :func:`encode` (plain Python and NumPy types only); ValueError if malformed."""
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
    if t == "opaque":
        return Opaque(str(data.get("type", "?")))
    raise ValueError(f"unknown record type {t!r}")


# ------------------------------------------------------- record and replay
def _recorder(key: str, fn: Callable) -> Callable:
    calls = [0]

    def record(*args: Any, **kwargs: Any) -> Any:
        i = calls[0]
        calls[0] += 1
        if i >= MAX_CALLS:
            return fn(*args, **kwargs)
        try:
            out = fn(*args, **kwargs)
        except Exception as exc:
            _emit({"key": key, "i": i, "raised": type(exc).__name__, "message": str(exc)[:500]})
            raise
        try:  # described now: a lazy object cannot change its answer later
            data = {"key": key, "i": i, "returned": encode(out)}
        except Exception as exc:  # a value that refuses to be described records nothing usable
            data = {"key": key, "i": i, "unrecordable": repr(exc)[:200]}
        _emit(data)
        return out

    record._judge_original = fn  # type: ignore[attr-defined]
    return record


def _emit(data: dict) -> None:
    text = json.dumps(data)
    if len(text) > MAX_RECORD_BYTES:
        text = json.dumps({"key": data["key"], "i": data["i"], "unrecordable": "too large"})
    _state["stream"].write(text + "\n")
    _state["stream"].flush()


def read_log(path: Path) -> dict[tuple[str, int], dict]:
    """Records of one submission: the first line of each call wins; reading stops at a malformed line."""
    records: dict[tuple[str, int], dict] = {}
    if not Path(path).is_file():
        return records
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if len(line) > MAX_RECORD_BYTES + 1000:
                break
            try:
                data = json.loads(line)
                key, i = str(data["key"]), int(data["i"])
            except (ValueError, KeyError, TypeError):
                break
            records.setdefault((key, i), data)
    return records


def _replayer(key: str, records: dict) -> Callable:
    calls = [0]

    def replay(*args: Any, **kwargs: Any) -> Any:
        i = calls[0]
        calls[0] += 1
        data = records.get((key, i))
        if data is None:
            raise MissingRecord(f"no record of call {i} of {key.split('.')[0]} (the hidden test never got there)")
        try:
            raised = str(data["raised"]) if "raised" in data else None
            value = None if raised else decode(data["returned"])
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise MissingRecord(f"malformed record {key}/{i}: {exc}") from None
        if raised is None:
            return value
        exc_type = getattr(builtins, raised, None)
        if isinstance(exc_type, type) and issubclass(exc_type, Exception):
            raise exc_type(str(data.get("message", "")))
        raise RecordedError(f"{raised}: {data.get('message', '')}")

    return replay


def _placeholder(name: str) -> Callable:
    def absent(*args: Any, **kwargs: Any) -> Any:
        raise MissingRecord(f"{name} was called outside graded(): the judge only replays graded calls")
    absent._judge_name = name  # type: ignore[attr-defined]
    return absent


# ------------------------------------------- facts about returned models
def model_facts(model: Any, base: Any, x: np.ndarray) -> dict:
    """Plain facts about a fine-tune model (lesson 04 exercise 1), measured where the model lives.

    The output on ``x`` in inference mode, the trainable weights, the
    layer types and dropout rates, and the base's weights after building and
    after one training-mode call (batch-norm statistics included).
    """
    import keras
    facts: dict[str, Any] = {"is_model": isinstance(model, keras.Model)}
    facts["uses_base"] = bool(facts["is_model"] and any(layer is base for layer in model.layers))
    facts["base_after_build"] = {v.path: np.asarray(v.numpy()) for v in base.weights}
    facts["out"] = np.asarray(model(x, training=False))
    facts["trainable"] = [np.asarray(v.numpy()) for v in model.trainable_weights]
    facts["base_trainable"] = len(base.trainable_weights)
    facts["layers"] = [(type(layer).__name__, float(getattr(layer, "rate", 0.0))) for layer in model.layers]
    facts["base_after_train"] = {v.path: np.asarray(v.numpy()) for v in base.weights}
    return facts


def trainable_facts(set_trainable: Callable, base: Any, n_top_blocks: int, x: np.ndarray | None = None) -> dict:
    """What ``set_trainable(base, n)`` left trainable (lesson 04 exercise 2), and whether batch norm moved."""
    import keras
    out = set_trainable(base, n_top_blocks)
    facts: dict[str, Any] = {"returned_base": out is base,
                             "paths": sorted(v.path for v in base.trainable_weights),
                             "bn_trainable": [bool(layer.trainable) for layer in base.layers
                                              if isinstance(layer, keras.layers.BatchNormalization)]}
    if x is not None:
        before = [np.asarray(v.numpy()) for v in base.weights if "moving" in v.path]
        keras.Sequential([base, keras.layers.Dense(2)])(x, training=True)
        after = [np.asarray(v.numpy()) for v in base.weights if "moving" in v.path]
        facts["moving_before"], facts["moving_after"] = before, after
    return facts


# ------------------------------------------------------------------ judge
def _is_hidden_test(cell: Any) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and "### BEGIN HIDDEN TESTS" in cell.source


def judged_cells(source_nb: Any) -> list[str]:
    """grade_ids of the tests cells whose verdict the judge gives (those with a hidden section)."""
    return [c.metadata["nbgrader"]["grade_id"] for c in source_nb.cells if _is_hidden_test(c)]


def _prelude(source_nb: Any) -> tuple[list[str], list[str], list[str]]:
    """Instructor code the judge runs first: imports of non-answer cells, tests cells' defs, answer names."""
    imports, defs, answers = [], [], []
    for cell in source_nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        try:
            tree = ast.parse(HIDDEN.sub("", cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if meta.get("solution") and not meta.get("grade"):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    answers.append(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(ast.unparse(node))
            elif meta.get("grade") and isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defs.append(ast.unparse(node))
    return imports, defs, answers


def judge(source_nb: Any, records: Path) -> dict[str, dict[str, Any]]:
    """Verdict of every hidden test of ``source_nb`` (instructor version) given one submission's record log.

    Returns ``{grade_id: {"passed": bool, "message": str}}``. Runs instructor
    code only: the prelude, the hidden sections, and replays of the records.
    """
    imports, defs, answers = _prelude(source_nb)
    _start_judging(read_log(records))
    ns: dict[str, Any] = {"__name__": "__judge__"}
    for stmt in imports:
        try:
            exec(stmt, ns)
        except Exception:  # e.g. an optional import of the lesson; the hidden test will say if it needed it
            pass
    for name in answers:
        ns[name] = _placeholder(name)
    for stmt in defs:
        exec(stmt, ns)
    verdicts = {}
    for cell in source_nb.cells:
        if not _is_hidden_test(cell):
            continue
        gid = cell.metadata["nbgrader"]["grade_id"]
        code = "\n".join(HIDDEN.findall(cell.source))
        try:
            exec(compile(code, f"<hidden tests {gid}>", "exec"), ns)
            verdicts[gid] = {"passed": True, "message": "hidden tests passed (judged outside the notebook)"}
        except BaseException as exc:  # noqa: BLE001 - any failure of a hidden test scores 0
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            kind = "no usable record" if isinstance(exc, MissingRecord) else type(exc).__name__
            verdicts[gid] = {"passed": False, "message": f"hidden tests failed ({kind})"}
            print(f"[judge] {gid}: {kind}: {exc}"[:400], file=sys.stderr)
    return verdicts


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.judge SOURCE.ipynb RECORDS_DIR... --out F``: write {records_dir: verdicts} as JSON."""
    parser = argparse.ArgumentParser(prog="python -m tools.judge", description=main.__doc__)
    parser.add_argument("source", help="the instructor notebook (solutions/<lesson>/<lesson>.ipynb)")
    parser.add_argument("records", nargs="+", help="a submission's record log (missing: all tests fail)")
    parser.add_argument("--out", required=True, help="where to write {records_dir: verdicts} as JSON")
    args = parser.parse_args(argv)
    import nbformat
    source = nbformat.read(args.source, as_version=4)
    out = {}
    for folder in args.records:
        try:
            out[folder] = judge(source, Path(folder))
        except Exception:  # the prelude itself failed: an instructor problem, not the student's
            traceback.print_exc()
            return 2
    Path(args.out).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":  # run the imported module, whose state the hidden tests' `graded` reads
    from tools.judge import main as _main
    sys.exit(_main())
