"""Claims tables: every comparative or numeric sentence of a lesson, checked against its executed outputs.

Each lesson with such sentences has a module here (``c04_finetune.py`` for
``04_finetune``) holding ``CLAIMS``, a list of :class:`Claim`. A claim quotes a
fragment of one markdown cell of ``solutions/<lesson>/<lesson>.ipynb`` verbatim
(``says``) and a check that reads the executed notebook (``holds``) and raises
``AssertionError`` with a message when the printed numbers do not support the
sentence. ``tests/lessons/test_claims.py`` runs every table: the quotes always
(so a reworded sentence must be re-checked), the checks once the lesson has
executed in the test session (``reports/executed/<lesson>.ipynb``).

A sentence whose truth depends on numbers that change with the machine is
better printed by code (a verdict line) than claimed here; a claim is for
prose that must stay in markdown.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import nbformat


@dataclass(frozen=True)
class Claim:
    """One sentence of a lesson's markdown and the check that its executed outputs support it."""

    says: str
    """A fragment of exactly one markdown cell, verbatim (whitespace is normalised)."""
    holds: Callable[["Executed"], None]
    """Raises AssertionError (with a message naming the numbers) when the outputs contradict ``says``."""


def _squash(text: str) -> str:
    return " ".join(text.split())


class Executed:
    """An executed lesson notebook, read as a reader would: cells found by a fragment of their source."""

    def __init__(self, nb: nbformat.NotebookNode):
        self.nb = nb

    def _cells(self, kind: str, containing: str) -> list:
        frag = _squash(containing)
        return [c for c in self.nb.cells if c.cell_type == kind and frag in _squash(c.source)]

    def code(self, containing: str):
        """The one code cell whose source contains ``containing``."""
        found = self._cells("code", containing)
        assert len(found) == 1, f"{len(found)} code cells contain {containing!r} (need exactly one)"
        return found[0]

    def markdown(self, containing: str):
        """The one markdown cell whose source contains ``containing``."""
        found = self._cells("markdown", containing)
        assert len(found) == 1, f"{len(found)} markdown cells contain {containing!r} (need exactly one)"
        return found[0]

    def text(self, containing: str) -> str:
        """Everything the code cell containing ``containing`` printed (streams and text/plain results)."""
        parts = []
        for out in self.code(containing).get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out and "text/plain" in out["data"]:
                parts.append(out["data"]["text/plain"])
        return "".join(parts)

    def numbers(self, containing: str, pattern: str) -> list[float]:
        """Every match of ``pattern`` (its first group, else the whole match) in that cell's output, as floats."""
        text = self.text(containing)
        found = [float(m.group(1) if m.groups() else m.group(0)) for m in re.finditer(pattern, text)]
        assert found, f"no match of {pattern!r} in the output of the cell containing {containing!r}:\n{text[:800]}"
        return found

    def number(self, containing: str, pattern: str) -> float:
        """The first match of ``pattern`` in the output of the code cell containing ``containing``."""
        return self.numbers(containing, pattern)[0]
