"""The static scan of answer cells for code that tampers with the interpreter (held for review)."""
from __future__ import annotations

import io
import re
import tokenize
from typing import Any, Iterable


_SUSPICIOUS = [
    (r"\bget_ipython\b", "reaches into the IPython kernel"),
    (r"\b__builtins__\b|\bbuiltins\b", "touches builtins"),
    (r"\bsys\s*\.\s*(modules|_getframe|settrace|setprofile|meta_path|path_hooks)\b", "rewires the interpreter"),
    (r"\b(setattr|delattr|vars)\s*\(", "sets attributes dynamically"),
    (r"__(code|globals|dict|class__|subclasses|closure)__", "rewrites code objects or namespaces"),
    (r"\b(exec|eval|compile|__import__)\s*\(", "executes generated code"),
    (r"\bimport\s+(gc|ctypes|importlib|inspect|subprocess|signal|sqlite3)\b"
     r"|\bfrom\s+(gc|ctypes|importlib|inspect|subprocess|signal|sqlite3)\b", "imports an introspection or system module"),
    (r"\bglobals\s*\(\s*\)", "edits the notebook's globals"),
    (r"\bos\s*\.\s*(system|popen|exec\w*|spawn\w*|fork|kill|_exit)\b", "starts or kills processes"),
]


def _code_without_comments(source: str) -> str:
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source


def _module_names(sources: Iterable[str]) -> set[str]:
    """Names bound by import statements anywhere in the notebook (np, metrics, ...)."""
    import ast
    names = {"np", "numpy", "math", "sklearn", "keras", "tf", "sys", "os", "helpers", "tools", "builtins"}
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    names.add((alias.asname or alias.name).split(".")[0])
    return names


def scan_source(source: str, module_names: set[str]) -> list[str]:
    """Reasons why an answer cell looks like it tampers with the grader (empty list: clean)."""
    import ast
    code = _code_without_comments(source)
    reasons = [f"{why}: {m.group(0)!r}" for pat, why in _SUSPICIOUS for m in [re.search(pat, code)] if m]
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return reasons
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if target is not root and isinstance(root, ast.Name) and root.id in module_names:
                reasons.append(f"assigns to a module attribute: {ast.unparse(target)!r}")
        if isinstance(node, (ast.Global, ast.Nonlocal)) and set(node.names) & module_names:
            reasons.append(f"rebinds a module name: {', '.join(node.names)}")
    return reasons


def scan_notebook(nb: Any) -> dict[str, list[str]]:
    """Tampering reasons per answer (solution) cell of a notebook: {grade_id: [reasons]}."""
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    modules = _module_names(sources)
    found = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            reasons = scan_source(cell.source, modules)
            if reasons:
                found[meta.get("grade_id", "?")] = reasons
    return found
