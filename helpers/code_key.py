"""What a cached run executes: the course code a function reaches, read from the source.

Used by :mod:`helpers.cache` (every cached run of lessons 01 and 03-06) and
:mod:`helpers.pretrain` (the source models of lessons 01 and 04) to key a run
by the code it actually executes, not by its neighbours in the same file.

Starting from one function, :func:`reachable` follows every name its body
uses (calls, constants, classes, imports inside the function) through the
course package's modules, statically, without importing anything, and
:func:`code_key` hashes what it found. Each definition is hashed as its
syntax tree with docstrings, type annotations and ``@cached`` left out, so
editing a comment, a docstring, a hint, a text formatter or a plot that the
run never calls keeps the key; editing anything the run calls changes it.

Rules, chosen to err on the side of retraining:

- a course module used as a value (``getattr(metrics, name)``) counts whole;
- a class counts whole (every method), since its instances can call any;
- ``helpers.cache`` and this module do not count: they decide where a result
  is stored, not what it is.

Third-party code (Keras, NumPy, scikit-learn) is covered by the library
versions that :func:`helpers.cache.cache_key` adds to the key.

>>> from helpers import code_key
>>> "helpers.models:train_classifier" in code_key.reachable("helpers.experiments.classifiers", "predictions")
True
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "helpers"
"""The course package whose code is followed (everything else is third-party)."""

NOT_RESULTS = frozenset({"helpers.cache", "helpers.code_key"})
"""Modules that decide where results are stored, not what they are: never part of a key."""


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def _module_file(module: str, root: Path) -> Path | None:
    """The source file of course ``module`` under ``root`` (the package folder), or None."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _strip(node: ast.AST) -> ast.AST:
    """``node`` without docstrings, annotations and ``@cached`` (none of them changes a result)."""
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = sub.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                sub.body = body[1:] or [ast.Pass()]
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            sub.returns = None
            sub.decorator_list = [d for d in sub.decorator_list
                                  if not (isinstance(d, ast.Name) and d.id == "cached")]
        if isinstance(sub, ast.arg):
            sub.annotation = None
        if isinstance(sub, ast.AnnAssign):
            sub.annotation = ast.Constant(None)
        for field in ("body", "orelse", "finalbody"):  # ``x: int`` alone binds nothing
            stmts = getattr(sub, field, None)
            if isinstance(stmts, list) and any(isinstance(s, ast.AnnAssign) and s.value is None for s in stmts):
                setattr(sub, field, [s for s in stmts if not (isinstance(s, ast.AnnAssign) and s.value is None)]
                        or [ast.Pass()])
    return node


class _Module:
    """One parsed course module: its top-level definitions and what its names refer to."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.defs: dict[str, list[ast.stmt]] = {}   # name -> statements that define it
        self.imports: dict[str, tuple[str, str | None]] = {}  # name -> (module, attribute or None)
        for stmt in self._top_level(tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs.setdefault(stmt.name, []).append(stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for leaf in ast.walk(target):
                        if isinstance(leaf, ast.Name):
                            self.defs.setdefault(leaf.id, []).append(stmt)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self.imports.update(_import_bindings(stmt, name))

    @staticmethod
    def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in body:
            if isinstance(stmt, (ast.If, ast.Try)):
                out += _Module._top_level(stmt.body + getattr(stmt, "orelse", [])
                                          + [s for h in getattr(stmt, "handlers", []) for s in h.body]
                                          + getattr(stmt, "finalbody", []))
            else:
                out.append(stmt)
        return out


def _import_bindings(stmt: ast.Import | ast.ImportFrom, current: str) -> dict[str, tuple[str, str | None]]:
    """The names an import statement binds: ``{name: (module, attribute or None)}``."""
    out: dict[str, tuple[str, str | None]] = {}
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname:
                out[alias.asname] = (alias.name, None)
            else:  # ``import helpers.data`` binds ``helpers``
                out[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
        return out
    module = stmt.module or ""
    if stmt.level:  # relative import inside the package
        base = current.split(".")[: -stmt.level] if stmt.level else []
        module = ".".join(base + ([module] if module else []))
    for alias in stmt.names:
        out[alias.asname or alias.name] = (module, alias.name)
    return out


def _chains(node: ast.AST) -> list[list[str]]:
    """Every dotted name the node uses (``a.b.c`` -> ``['a', 'b', 'c']``; a bare ``a`` -> ``['a']``)."""
    chains: list[list[str]] = []
    inner: set[int] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and id(sub) not in inner:
            parts, cur = [], sub
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                inner.add(id(cur.value))
                cur = cur.value
            if isinstance(cur, ast.Name):
                inner.add(id(cur))
                chains.append([cur.id, *reversed(parts)])
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and id(sub) not in inner:
            chains.append([sub.id])
    return chains


class _Index:
    """The course package under ``root``, parsed lazily, module by module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: dict[str, _Module | None] = {}
        self.definitions: dict[str, tuple[str, set[str]]] = {}

    def module(self, name: str) -> _Module | None:
        if name not in self.modules:
            path = _module_file(name, self.root)
            self.modules[name] = _Module(name, path) if path else None
        return self.modules[name]

    def resolve(self, module: str, chain: list[str], local: dict[str, tuple[str, str | None]]) -> set[str]:
        """The definitions (``'module:name'``) that ``chain`` reaches from ``module``; empty if none in the course."""
        head, rest = chain[0], chain[1:]
        mod = self.module(module)
        if head in local:
            target = local[head]
        elif mod is not None and head in mod.defs:
            return {f"{module}:{head}"}
        elif mod is not None and head in mod.imports:
            target = mod.imports[head]
        else:
            return set()  # a local variable, a builtin or a parameter
        return self._follow(*target, rest)

    def _follow(self, module: str, attr: str | None, rest: list[str]) -> set[str]:
        if module.split(".")[0] != PACKAGE or module in NOT_RESULTS:
            return set()
        if attr is not None:
            mod = self.module(module)
            if mod is not None and attr in mod.defs:
                return {f"{module}:{attr}"}
            if mod is not None and attr in mod.imports:  # re-exported name
                return self._follow(*mod.imports[attr], rest)
            if self.module(f"{module}.{attr}") is not None:  # ``from helpers import metrics``
                return self._follow(f"{module}.{attr}", None, rest)
            return set()
        if rest:  # ``metrics.roc_auc`` or ``helpers.data.load_dataset``
            return self._follow(module, rest[0], rest[1:])
        if module in NOT_RESULTS:
            return set()
        mod = self.module(module)  # a module used as a value: all of it counts
        return {f"{module}:{name}" for name in mod.defs} if mod is not None else set()

    def definition(self, ref: str) -> tuple[str, set[str]]:
        """The normalised source of ``ref`` ('module:name') and the definitions it uses."""
        if ref not in self.definitions:
            self.definitions[ref] = self._definition(ref)
        return self.definitions[ref]

    def _definition(self, ref: str) -> tuple[str, set[str]]:
        module, name = ref.split(":")
        mod = self.module(module)
        assert mod is not None
        text, deps = [], set()
        for stmt in mod.defs[name]:
            node = _strip(ast.parse(ast.unparse(stmt)).body[0])  # a copy: the index stays intact
            text.append(ast.dump(node))
            local: dict[str, tuple[str, str | None]] = {}
            for sub in ast.walk(node):  # imports inside the function: followed where the names are used
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    local.update(_import_bindings(sub, module))
            for chain in _chains(node):
                deps |= self.resolve(module, chain, local)
        return "\n".join(text), deps - {ref}


def _stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Size and modification time of every source file under ``root``: an edit invalidates the memos."""
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*.py")))


@functools.lru_cache(maxsize=4)
def _index(root: Path, stamp: tuple) -> _Index:
    return _Index(root)


def reachable(module: str, name: str, root: Path | None = None) -> dict[str, str]:
    """``{'module:name': normalised source}`` of ``module.name`` and every course definition it reaches.

    ``root`` is the package folder to read (default: the installed ``helpers/``);
    tests point it at an edited copy.

    No lesson calls it directly: every cached run of a lesson goes through it.
    """
    root = Path(root).resolve() if root is not None else _package_dir()
    index = _index(root, _stamp(root))
    if index.module(module) is None or name not in index.module(module).defs:  # type: ignore[union-attr]
        raise ValueError(f"{module}.{name} is not a top-level definition in the course package "
                         f"({index.root}); only course functions can be keyed by their code.")
    seen: dict[str, str] = {}
    todo = [f"{module}:{name}"]
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen[ref], deps = index.definition(ref)
        todo += sorted(deps - set(seen))
    return seen


@functools.lru_cache(maxsize=None)
def _cached_key(module: str, name: str, root: Path, stamp: tuple) -> str:
    digest = hashlib.sha256()
    for ref, text in sorted(reachable(module, name, root).items()):
        digest.update(ref.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:16]


def code_key(module: str, name: str, root: Path | None = None) -> str:
    """A short hash of the code :func:`reachable` finds from ``module.name`` (memoised until a file changes).

    No lesson calls it directly: every cached run of a lesson goes through it.
    """
    root = Path(root).resolve() if root is not None else _package_dir()
    return _cached_key(module, name, root, _stamp(root))
