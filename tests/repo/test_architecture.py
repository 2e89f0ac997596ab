"""The layout (docs/architecture.md): which part may import which, and is every public helper used?

Three parts, each a folder: the learner **library** that lessons import
(``helpers/``), the cached experiment **runners** of particular lessons
(``helpers/experiments/``), and the instructor/CI **tools** (``tools/``, outside
the package that learners import). The library never imports a runner or a tool; a runner never
imports a tool; nothing in ``helpers`` imports ``tools``. Imports inside
functions count as much as top-level ones.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from helpers import REPO_ROOT

HELPERS = REPO_ROOT / "helpers"
TOOLS = REPO_ROOT / "tools"
PACKAGES = {"helpers": HELPERS, "tools": TOOLS}
RUNNERS = "experiments"
"""The sub-package of ``helpers`` that holds the runners: a module's folder says its part."""
TOOL_MODULES = {"__init__", "course", "judge", "grading", "grading.__main__", "grading.batch", "grading.benchmark",
                "grading.cli", "grading.cycle", "grading.executor", "grading.feedback_filter", "grading.sandbox",
                "grading.scan", "grading.settings"}
"""The modules of ``tools`` (instructor and CI commands)."""
MAY_IMPORT = {"library": {"library"}, "runners": {"library", "runners"}}


def _layer(module: str) -> str:
    """``"runners"`` for ``experiments`` and ``experiments.<name>``, else ``"library"``."""
    return "runners" if module.split(".")[0] == RUNNERS else "library"


def _module_files(package: str) -> dict[str, Path]:
    """``{module: file}`` below a package, modules dotted below it: ``data``, ``experiments.curves``,
    ``__init__`` (the package's own), ``experiments`` (the sub-package's ``__init__``)."""
    root = PACKAGES[package]
    out = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        if len(parts) > 1 and parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _modules(package: str) -> set[str]:
    return set(_module_files(package))


def _imported_modules(tree: ast.AST, package: str = "helpers") -> set[tuple[str, str]]:
    """``{(package, module)}`` of the course modules (helpers, tools) a parsed file imports, anywhere in it.

    ``package`` is the package of the parsed file (for relative imports). A string
    naming a tools module (``importlib.import_module("tools.judge")``) counts too.
    """
    def split(dotted: str, names: list[str]) -> set[tuple[str, str]]:
        top, _, below = dotted.partition(".")
        if top not in PACKAGES:
            return set()
        modules = _modules(top)
        found = {(top, f"{below}.{n}" if below else n) for n in names
                 if (f"{below}.{n}" if below else n) in modules}
        return found or {(top, below or "__init__")}

    out: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            dotted = (base + ("." + node.module if node.module else "")) if node.level else (node.module or "")
            out |= split(dotted, [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for a in node.names:
                out |= split(a.name, [])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and re.fullmatch(r"tools(\.\w+)?", node.value):
            out |= split(node.value, [])
    return out


def test_the_tree_shows_the_parts_and_the_doc_lists_every_module():
    """The library is ``helpers/*.py``, the runners ``helpers/experiments/*.py``, nothing deeper; tools are fixed."""
    assert {m for m in _modules("helpers") if m.count(".") > 1 or ("." in m and _layer(m) != "runners")} == set(), \
        "helpers has two levels: the library (helpers/*.py) and the runners (helpers/experiments/*.py)"
    assert {"experiments", "experiments.curves"} <= _modules("helpers")
    assert _modules("tools") == TOOL_MODULES, "put a new tools module in TOOL_MODULES and in docs/architecture.md"
    doc = (REPO_ROOT / "docs" / "architecture.md").read_text()
    missing = [f"{pkg}/{m.replace('.', '/')}.py" for pkg in PACKAGES for m, path in _module_files(pkg).items()
               if path.name != "__init__.py" and not re.search(rf"(?<!\w){m.split('.')[-1]}\.py\b", doc)]
    assert not missing, f"docs/architecture.md does not show {missing}"
    assert "helpers/" in doc and "tools/" in doc


@pytest.mark.parametrize("module", sorted(_modules("helpers")))
def test_imports_point_down_the_layers(module):
    """Does a library module import a runner or a tool, or a runner a tool? (helpers never imports tools.)"""
    own = _layer(module)
    path = _module_files("helpers")[module]
    package = ".".join(("helpers", *path.relative_to(HELPERS).parent.parts))
    for package, other in _imported_modules(ast.parse(path.read_text()), package):
        assert package == "helpers", f"helpers.{module} ({own}) imports {package}.{other}: helpers never imports tools"
        if other != module:
            assert _layer(other) in MAY_IMPORT[own], \
                f"helpers.{module} ({own}) imports helpers.{other} ({_layer(other)})"


def test_the_import_check_sees_imports_inside_functions_and_by_name():
    tree = ast.parse("def f():\n    from helpers import course_state\n    import helpers.plots\n"
                     "    from helpers.experiments.curves import compare\n    from tools import judge\n"
                     "    import tools\n    import importlib\n    importlib.import_module('tools.grading')\n"
                     "    from helpers.experiments import ecg\n    from .. import data\n    from .classifiers import tile_to\n")
    assert _imported_modules(tree, "helpers.experiments") == {
        ("helpers", "course_state"), ("helpers", "plots"), ("helpers", "experiments.curves"), ("tools", "judge"),
        ("tools", "__init__"), ("tools", "grading"), ("helpers", "experiments.ecg"), ("helpers", "data"),
        ("helpers", "experiments.classifiers")}


# ------------------------------------------------------------ every public helper has a user
def _sources() -> dict[str, ast.AST]:
    """Every place a helper may be used: lesson code cells, tests, helpers and tools modules, nbgrader config."""
    out: dict[str, ast.AST] = {}
    for nb in sorted((REPO_ROOT / "solutions").glob("*/*.ipynb")):
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        code = "\n".join("".join(c["source"]) for c in cells)
        out[nb.name] = ast.parse(re.sub(r"(?m)^\s*[%!].*$", "", code))  # IPython magics are not Python
    for path in [*sorted(p for p in (REPO_ROOT / "tests").rglob("*.py") if "fixtures" not in p.parts), *sorted(HELPERS.rglob("*.py")),
                 *sorted(TOOLS.rglob("*.py")), REPO_ROOT / "nbgrader_config.py"]:
        out[str(path.relative_to(REPO_ROOT))] = ast.parse(path.read_text())
    return out


def _uses(tree: ast.AST) -> set[str]:
    """``{'module.name'}`` that the file uses, through imports, aliases and attribute access."""
    modules = _modules("helpers")
    alias: dict[str, str] = {}   # local name -> helpers module ("data", "experiments.curves")
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "helpers":
            below = node.module.partition(".")[2]
            for a in node.names:
                full = f"{below}.{a.name}" if below else a.name
                if full in modules:
                    alias[a.asname or a.name] = full
                else:
                    used.add(f"{below or '__init__'}.{a.name}")
        elif isinstance(node, ast.Import) and any(a.name == "helpers" for a in node.names):
            alias["helpers"] = "__init__"
        elif isinstance(node, ast.Import):
            alias.update({a.asname: a.name.partition(".")[2] for a in node.names
                          if a.asname and a.name.startswith("helpers.")})
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Name) \
                and node.args[0].id in alias and isinstance(node.args[1], ast.Constant):
            used.add(f"{alias[node.args[0].id]}.{node.args[1].value}")  # getattr / monkeypatch.setattr
        if isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id in alias:
                used.add(f"{alias[base.id]}.{node.attr}")
            if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) and base.value.id == "helpers":
                used.add(f"{base.attr}.{node.attr}")
    return used


def _public_helpers() -> dict[str, ast.AST]:
    """Public functions and classes of the library and the runners (the tools are commands: not checked)."""
    out = {}
    for module, path in sorted(_module_files("helpers").items()):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                out[f"{module}.{node.name}"] = node
    return out


def test_every_public_helper_is_used_by_a_lesson_a_test_or_another_module():
    """A public helper nobody calls is either dead or should be private (its module's own use does not count)."""
    uses: set[str] = set()
    classes_used: set[str] = set()
    for where, tree in _sources().items():
        uses |= _uses(tree)
        classes_used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    unused = [name for name, node in _public_helpers().items() if name not in uses
              and not (isinstance(node, ast.ClassDef) and node.name in classes_used)]  # a type its module returns
    assert not unused, f"public helpers that no lesson, test or other module uses (make them private?): {unused}"


def test_the_usage_check_follows_aliases_and_attribute_access():
    tree = ast.parse("from helpers.experiments import curves as C\nimport helpers.experiments.ecg as E\n"
                     "from helpers.data import Split\nfrom helpers import REPO_ROOT, plots\n"
                     "from helpers.experiments.classifiers import tile_to\n"
                     "C.run_cell(); E.resample(); helpers.metrics.roc_auc(); plots.montage()")
    assert _uses(tree) == {"experiments.curves.run_cell", "experiments.ecg.resample", "data.Split",
                           "metrics.roc_auc", "__init__.REPO_ROOT", "plots.montage", "experiments.classifiers.tile_to"}


# ------------------------------------------------- every public helper names the lessons that use it
LESSONS = sorted(nb.name[:2] for nb in (REPO_ROOT / "solutions").glob("*/*.ipynb"))
_TAUGHT = re.compile(r"Taught in lesson (\d\d)\.")
_NOT_TAUGHT = ("No lesson calls it directly", "No lesson uses it:")


def _taught_in(doc: str) -> str | None:
    """The lesson a docstring's 'Taught in lesson NN.' sentence names (``None``: no such sentence)."""
    match = _TAUGHT.search(" ".join(doc.split()))
    return match.group(1) if match else None


def _lessons_using() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``({'module.name': lessons calling it}, {'module.name': lessons reaching it, through other helpers too})``."""
    from helpers import code_key

    direct: dict[str, set[str]] = {}
    reached: dict[str, set[str]] = {}
    sources = _sources()
    for lesson in LESSONS:
        tree = next(t for where, t in sources.items() if where.startswith(lesson) and where.endswith(".ipynb"))
        for name in _uses(tree):
            direct.setdefault(name, set()).add(lesson)
            module, _, func = name.rpartition(".")
            try:
                closure = code_key.reachable(f"helpers.{module}", func)
            except ValueError:  # not a top-level definition (a module constant)
                closure = {}
            for ref in {name, *(k.replace("helpers.", "", 1).replace(":", ".") for k in closure)}:
                reached.setdefault(ref, set()).add(lesson)
    return direct, reached


def test_the_lesson_sentence_is_read_as_written():
    assert _taught_in("Train it.\n\n    Taught in lesson\n    04.") == "04"
    assert _taught_in("Used in lessons 01, 04.") is None
    assert _taught_in("No lesson calls it directly (lessons reach it through other helpers).") is None


def test_every_public_helper_docstring_names_the_lesson_that_teaches_it():
    """d2l's convention: a helper names the one lesson where it is taught ("Taught in lesson 04.").

    That lesson must call it. A helper that no lesson calls says "No lesson calls it directly" (lessons
    reach it through other helpers) or "No lesson uses it:" and who does. Which lessons merely reach a
    helper is computed here (``_lessons_using``), never written by hand, so no "Used in lessons" list.
    """
    direct, reached = _lessons_using()
    problems = []
    for name, node in _public_helpers().items():
        doc = " ".join((ast.get_docstring(node) or "").split())
        taught, calls = _taught_in(doc), direct.get(name, set())
        if "Used in lesson" in doc or "Used in every lesson" in doc:
            problems.append(f"{name}: replace its 'Used in ...' list (computed by this test) with the teaching lesson")
        if calls and taught not in calls:
            problems.append(f"{name}: lessons {sorted(calls)} call it; say 'Taught in lesson NN.' with the one that "
                            f"teaches it (now: {taught})")
        if not calls and taught is not None:
            problems.append(f"{name}: says it is taught in lesson {taught}, but no lesson calls it")
        if not calls and not any(p in doc for p in _NOT_TAUGHT):
            reach = sorted(reached.get(name, set()))
            problems.append(f"{name}: no lesson calls it (lessons {reach} reach it); say 'No lesson calls it "
                            "directly' or 'No lesson uses it: <who does>.'")
    assert not problems, "\n".join(problems)


def test_every_module_docstring_names_its_lessons_or_its_role():
    """The first lines of each module say who uses it: a lesson number for helpers, the instructor/CI role for tools."""
    for path in sorted(HELPERS.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert re.search(r"lessons? \d\d|every (lesson|notebook)", doc[:600], re.I), \
            f"{path.relative_to(REPO_ROOT)}: its docstring should name the lesson(s) that use it"
    for path in sorted(TOOLS.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert re.search(r"instructor|\bCI\b|course command|grading", doc[:600], re.I), \
            f"tools/{path.name}: its docstring should say which instructor or CI command it is"


def test_make_test_fast_runs_the_fast_folders_and_conftest_orders_every_slow_file():
    """`make test-fast` runs tests/unit and tests/repo (two processes); every other test file is one conftest runs
    last, in order."""
    import conftest

    make = (REPO_ROOT / "Makefile").read_text()
    fast = re.search(r"^test-fast:.*\n\t.*pytest (.*)$", make, re.M).group(1).split()  # type: ignore[union-attr]
    assert [a for a in fast if a.startswith("tests/")] == [f"tests/{folder}" for folder in conftest.FAST]
    assert fast[:2] == ["-n", "2"], "test-fast runs on two processes (pytest-xdist)"
    tests = REPO_ROOT / "tests"
    slow = sorted(p.relative_to(tests).as_posix() for p in tests.glob("*/test_*.py")
                  if p.parent.name not in conftest.FAST)
    assert slow == sorted(conftest._LATE), "add a new end-to-end test file to conftest._LATE"
    assert {p.parent.name for p in tests.glob("*/test_*.py")} == {"unit", "repo", "lessons", "grading"}


TOOLS_WITH_UNIT_TESTS = {"judge", "grading", "course"}
"""The tools whose modules have unit tests (``tools/course.py`` also end to end, in tests/lessons)."""


def test_unit_tests_mirror_the_package():
    """One unit-test file per module, at the same place: ``helpers/x.py`` -> ``tests/unit/test_x.py``,
    ``helpers/experiments/x.py`` -> ``tests/unit/experiments/test_x.py``, ``tools/judge.py`` ->
    ``tests/unit/tools/test_judge.py``, ``tools/grading/x.py`` -> ``tests/unit/tools/grading/test_x.py``
    (and no test file of a module that is gone)."""
    def mirror(module: str, *top: str) -> str:
        *folders, name = module.split(".")
        return "/".join(["tests", "unit", *top, *folders, f"test_{name}.py"])

    expected = {mirror(m) for m in _modules("helpers") if m not in {"__init__", RUNNERS}}
    expected |= {mirror(m, "tools") for m, path in _module_files("tools").items()
                 if m.split(".")[0] in TOOLS_WITH_UNIT_TESTS and path.name not in ("__init__.py", "__main__.py")}
    found = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "tests" / "unit").rglob("test_*.py")}
    assert found == expected, (f"missing: {sorted(expected - found)}; without a module: {sorted(found - expected)}")
