"""The layout of helpers/ (docs/architecture.md): which part may import which, and is every public helper used?

Three parts, declared here and in the doc: the learner **library** that lessons
import, the cached experiment **runners** of particular lessons, and the
instructor/CI **tools**. The library never imports a runner or a tool; a runner
never imports a tool. Imports inside functions count as much as top-level ones.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from helpers import REPO_ROOT

LAYERS: dict[str, set[str]] = {
    "library": {"__init__", "data", "models", "metrics", "plots", "device", "imagenet", "pretrain",
                "recipes", "cache", "code_key", "contrastive"},
    "runners": {"ecg", "evaluation", "curves"},
    "tools": {"course", "grading", "judge"},
}
MAY_IMPORT = {"library": {"library"}, "runners": {"library", "runners"}, "tools": {"library", "runners", "tools"}}
EXCEPTIONS = {("device", "course"): "setup() reports a background `prepare` (status file, cold time of the lesson)"}
"""The one import against the layers, and why (docs/architecture.md says the same)."""
HELPERS = REPO_ROOT / "helpers"


def _layer(module: str) -> str:
    return next(layer for layer, names in LAYERS.items() if module in names)


def _imported_modules(tree: ast.AST) -> set[str]:
    """The helpers modules that a parsed file imports, anywhere in it."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "helpers":
            if node.module == "helpers":
                out |= {a.name for a in node.names if (HELPERS / f"{a.name}.py").is_file()} or {"__init__"}
            else:
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] if "." in a.name else "__init__"
                    for a in node.names if a.name.split(".")[0] == "helpers"}
    return out


def test_every_module_belongs_to_one_part_and_the_doc_lists_it():
    modules = {p.stem for p in HELPERS.glob("*.py")}
    declared = [m for names in LAYERS.values() for m in names]
    assert sorted(declared) == sorted(modules), "put a new module in LAYERS and in docs/architecture.md"
    doc = (REPO_ROOT / "docs" / "architecture.md").read_text()
    missing = [m for m in modules - {"__init__"} if f"{m}.py" not in doc]
    assert not missing, f"docs/architecture.md does not show {missing}"


@pytest.mark.parametrize("module", sorted(p.stem for p in HELPERS.glob("*.py")))
def test_imports_point_down_the_layers(module):
    """Does a library module import a runner or a tool, or a runner a tool?"""
    own = _layer(module)
    for other in _imported_modules(ast.parse((HELPERS / f"{module}.py").read_text())) - {module}:
        if (module, other) in EXCEPTIONS:
            continue
        assert _layer(other) in MAY_IMPORT[own], f"helpers.{module} ({own}) imports helpers.{other} ({_layer(other)})"


def test_the_import_check_sees_imports_inside_functions():
    tree = ast.parse("def f():\n    from helpers import course\n    import helpers.grading\n"
                     "    from helpers.curves import compare\n")
    assert _imported_modules(tree) == {"course", "grading", "curves"}


# ------------------------------------------------------------ every public helper has a user
def _sources() -> dict[str, ast.AST]:
    """Every place a helper may be used: lesson code cells, tests, helpers modules, nbgrader config."""
    out: dict[str, ast.AST] = {}
    for nb in sorted((REPO_ROOT / "solutions").glob("*/*.ipynb")):
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        code = "\n".join("".join(c["source"]) for c in cells)
        out[nb.name] = ast.parse(re.sub(r"(?m)^\s*[%!].*$", "", code))  # IPython magics are not Python
    for path in [*sorted(p for p in (REPO_ROOT / "tests").rglob("*.py") if "fixtures" not in p.parts), *sorted(HELPERS.glob("*.py")),
                 REPO_ROOT / "nbgrader_config.py"]:
        out[str(path.relative_to(REPO_ROOT))] = ast.parse(path.read_text())
    return out


def _uses(tree: ast.AST) -> set[str]:
    """``{'module.name'}`` that the file uses, through imports, aliases and attribute access."""
    alias: dict[str, str] = {}   # local name -> helpers module
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "helpers":
            alias.update({a.asname or a.name: a.name for a in node.names})
            used |= {f"__init__.{a.name}" for a in node.names if not (HELPERS / f"{a.name}.py").is_file()}
        elif isinstance(node, ast.Import) and any(a.name == "helpers" for a in node.names):
            alias["helpers"] = "__init__"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers."):
            used |= {f"{node.module.split('.')[1]}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            alias.update({a.asname: a.name.split(".")[1] for a in node.names
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
    """Public functions and classes of the library and the runners (the tools are commands)."""
    out = {}
    for module in sorted(LAYERS["library"] | LAYERS["runners"]):
        path = HELPERS / ("__init__.py" if module == "__init__" else f"{module}.py")
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
    tree = ast.parse("from helpers import curves as C\nimport helpers.ecg as E\nfrom helpers.data import Split\n"
                     "C.run_cell(); E.resample(); helpers.metrics.roc_auc()")
    assert _uses(tree) == {"curves.run_cell", "ecg.resample", "data.Split", "metrics.roc_auc"}


def test_every_module_docstring_names_its_lessons_or_its_role():
    """The first lines of each module say who uses it: a lesson number, or that it is a tool."""
    for path in sorted(HELPERS.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert re.search(r"lessons? \d\d|every (lesson|notebook)|instructor|course command", doc[:600], re.I), \
            f"helpers/{path.name}: its docstring should name the lesson(s) that use it"


def test_make_test_fast_runs_the_fast_folders_and_conftest_orders_every_slow_file():
    """`make test-fast` runs tests/unit and tests/repo; every other test file is one conftest runs last, in order."""
    import conftest

    make = (REPO_ROOT / "Makefile").read_text()
    fast = re.search(r"^test-fast:.*\n\t.*pytest (.*)$", make, re.M).group(1).split()  # type: ignore[union-attr]
    assert fast == [f"tests/{folder}" for folder in conftest.FAST]
    tests = REPO_ROOT / "tests"
    slow = sorted(p.relative_to(tests).as_posix() for p in tests.glob("*/test_*.py")
                  if p.parent.name not in conftest.FAST)
    assert slow == sorted(conftest._LATE), "add a new end-to-end test file to conftest._LATE"
    assert {p.parent.name for p in tests.glob("*/test_*.py")} == {"unit", "repo", "lessons", "grading"}
