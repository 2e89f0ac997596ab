"""helpers.code_key: is a cached run keyed by the code it executes, and by nothing else?

Each test copies ``helpers/`` to a temporary folder, edits one function there,
and compares the code key of every cached run before and after the edit.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from helpers import REPO_ROOT, code_key

# Keyed by their code without the @cached decorator: the saved classifier of lesson 06
# and the source models of lessons 01 and 04.
ALSO_KEYED = [("helpers.experiments.classifiers", "trained_classifier"), ("helpers.pretrain", "pretrain")]


def _runs(root: Path) -> list[tuple[str, str]]:
    """Every function decorated with ``@cached`` in the package at ``root``, plus :data:`ALSO_KEYED`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(("helpers", *path.relative_to(root).with_suffix("").parts))
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any(
                    getattr(d.func if isinstance(d, ast.Call) else d, "id", None) == "cached"
                    for d in node.decorator_list):
                found.append((module, node.name))
    return found + ALSO_KEYED


def _keys(root: Path) -> dict[str, str]:
    return {f"{m}.{n}": code_key.code_key(m, n, root) for m, n in _runs(root)}


def _edit(root: Path, module: str, func: str, line: str = "_edited = 1") -> None:
    """Insert ``line`` as the first statement (after any docstring) of ``func`` in the copy.

    ``module`` is dotted below the package: ``"models"``, ``"experiments.curves"``.
    """
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    src = path.read_text().splitlines(keepends=True)
    node = next(n for n in ast.parse("".join(src)).body if getattr(n, "name", None) == func)
    first = node.body[1] if ast.get_docstring(node) and len(node.body) > 1 else node.body[0]
    indent = " " * first.col_offset
    src.insert(first.lineno - 1, f"{indent}{line}\n")
    path.write_text("".join(src))


@pytest.fixture(scope="module")
def before() -> dict[str, str]:
    """The keys of the unedited package (a key depends on the code, not on the folder it is read from)."""
    return _keys(REPO_ROOT / "helpers")


@pytest.fixture
def copy(tmp_path) -> Path:
    root = tmp_path / "helpers"
    shutil.copytree(REPO_ROOT / "helpers", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_every_cached_run_is_found(before):
    names = set(before)
    assert {"helpers.experiments.curves.run_cell", "helpers.experiments.classifiers.predictions",
            "helpers.experiments.classifiers.summarise_runs", "helpers.experiments.ecg.run_ecg200",
            "helpers.experiments.ecg.pretrain_encoder", "helpers.pretrain.pretrain"} <= names


@pytest.mark.parametrize("module, func", [
    ("experiments.curves", "format_table"),        # a text formatter beside lesson 04's label-budget runs
    ("experiments.curves", "write_report"),
    ("experiments.classifiers", "plot_method_comparison"),  # a plot beside lesson 06's 30 imbalance runs
    ("calibration", "format_threshold_table"),
    ("explain", "plot_maps"),
    ("plots", "roc_with_ci"),
])
def test_editing_a_formatter_or_a_plot_keeps_every_key(copy, before, module, func):
    _edit(copy, module, func)
    assert _keys(copy) == before


def test_docstrings_comments_and_type_hints_do_not_count(copy, before):
    path = copy / "models.py"
    text = path.read_text()
    text = text.replace('def train_classifier(', '# a comment\ndef train_classifier(', 1)
    text = text.replace('"""Compile and fit', '"""Reworded docstring. Compile and fit', 1)
    path.write_text(text)
    path = copy / "experiments" / "classifiers.py"
    path.write_text(path.read_text().replace("min_samples: int,", "min_samples: float,", 1))
    _edit(copy, "experiments.classifiers", "trained_classifier", "r: dict")  # a bare annotation of a local does nothing
    assert _keys(copy) == before


def test_editing_training_code_changes_exactly_the_runs_that_execute_it(copy):
    """train_classifier is the compile-and-fit with early stopping of lesson 06's CNNs and of lesson 03's
    ECG5000 source (so of every ECG200 run, which may start from it); the label-budget curves, which train
    a fixed number of steps, and the statistics do not call it."""
    before = _keys(copy)
    _edit(copy, "models", "train_classifier")
    after = _keys(copy)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"helpers.experiments.classifiers.predictions", "helpers.experiments.classifiers.trained_classifier",
                       "helpers.experiments.ecg.pretrain_encoder", "helpers.experiments.ecg.run_ecg200"}


@pytest.mark.parametrize("module, name, must_change", [
    ("experiments.classifiers", "tile_to", "helpers.experiments.classifiers.predictions"),  # a helper it calls
    ("data", "draw_labels", "helpers.experiments.classifiers.predictions"),    # two modules away
    ("contrastive", "nt_xent", "helpers.pretrain.pretrain"),                   # the source model's loss
    ("experiments.curves", "training_order", "helpers.experiments.curves.run_cell"),
    ("metrics", "roc_auc", "helpers.experiments.classifiers.summarise_runs"),
    ("models", "ecg_encoder", "helpers.experiments.ecg.run_ecg200"),
])
def test_editing_called_code_changes_the_key(copy, before, module, name, must_change):
    _edit(copy, module, name)
    assert _keys(copy)[must_change] != before[must_change]


def test_a_constant_the_run_reads_counts(copy, before):
    path = copy / "experiments" / "classifiers.py"
    path.write_text(path.read_text().replace("epochs: int = 20", "epochs: int = 21", 1))
    run = "helpers.experiments.classifiers.predictions"
    assert _keys(copy)[run] != before[run]


def test_a_module_used_as_a_value_counts_whole(tmp_path):
    root = tmp_path / "helpers"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "metrics.py").write_text("def a(x):\n    return x\n\ndef b(x):\n    return -x\n")
    (root / "run.py").write_text("from helpers import metrics\n\n"
                                 "def by_name(name, x):\n    return getattr(metrics, name)(x)\n\n"
                                 "def direct(x):\n    return metrics.a(x)\n\n"
                                 "def local(x):\n    from helpers import metrics as m\n    return m.b(x)\n")
    assert set(code_key.reachable("helpers.run", "by_name", root)) == {
        "helpers.run:by_name", "helpers.metrics:a", "helpers.metrics:b"}
    assert set(code_key.reachable("helpers.run", "direct", root)) == {"helpers.run:direct", "helpers.metrics:a"}
    assert set(code_key.reachable("helpers.run", "local", root)) == {"helpers.run:local", "helpers.metrics:b"}


def test_unknown_function_is_a_clear_error():
    with pytest.raises(ValueError, match="not a top-level definition in the course package"):
        code_key.reachable("helpers.experiments.classifiers", "no_such_run")


def test_a_recipe_counts_for_the_runs_that_use_it_and_no_other(copy, before):
    """The from-scratch recipes of the curves are frozen dataclasses: a changed default re-keys the curves only."""
    path = copy / "experiments" / "curves.py"
    text = path.read_text()
    assert "    lr: float = 3e-3\n" in text
    path.write_text(text.replace("    lr: float = 3e-3\n", "    lr: float = 2.5e-3\n", 1))
    after = _keys(copy)
    assert {name for name in before if before[name] != after[name]} == {"helpers.experiments.curves.run_cell"}
