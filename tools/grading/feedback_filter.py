"""What students see in feedback: no hidden test, no output quoting one (nbgrader's feedback step)."""
from __future__ import annotations

import re
from typing import Any


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HIDDEN_BLOCK = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS\n?", re.S)
WITHHELD = "[output withheld from feedback: it shows part of a hidden test]\n"


def _output_text(out: Any) -> str:
    data = out.get("data", {})
    parts = [out.get("text", ""), out.get("evalue", ""), "\n".join(out.get("traceback", [])),
             data.get("text/plain", ""), data.get("text/html", ""), data.get("text/markdown", "")]
    return _ANSI.sub("", "\n".join(p if isinstance(p, str) else "".join(p) for p in parts))


def strip_hidden_tests(nb: Any) -> Any:
    """The notebook as students may see it in feedback: no hidden test, no output that quotes one.

    Hidden sections are removed from every cell; any output (a traceback of a
    failing hidden assert, or text a submission printed while graded) that
    contains a line of a hidden test is replaced by a short notice. Used by
    the course's feedback command (``FeedbackFilter`` in nbgrader_config.py).
    """
    lines: set[str] = set()
    for cell in nb.cells:
        for block in _HIDDEN_BLOCK.findall(cell.source):
            lines |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) >= 8}
    for cell in nb.cells:
        cell.source = _HIDDEN_BLOCK.sub("", cell.source)
        for i, out in enumerate(cell.get("outputs", [])):
            text = _output_text(out)
            if any(line in text for line in lines):
                from nbformat.v4 import new_output
                cell.outputs[i] = new_output("stream", name="stderr", text=WITHHELD)
    return nb


def _feedback_filter_class() -> type:
    from nbconvert.preprocessors import Preprocessor
    from traitlets import Bool

    class FeedbackFilter(Preprocessor):
        """nbgrader generate_feedback step: strip hidden tests (see strip_hidden_tests)."""

        enabled = Bool(True).tag(config=True)  # nbconvert registers preprocessors disabled by default

        def preprocess(self, nb, resources):  # type: ignore[override]
            return strip_hidden_tests(nb), resources

    FeedbackFilter.__module__ = __name__
    return FeedbackFilter
