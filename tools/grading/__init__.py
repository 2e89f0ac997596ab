"""Instructor commands for one nbgrader cycle, with sandboxed autograding.

    python -m tools.grading release  ASSIGNMENT            generate notebooks/ + release to the exchange
    python -m tools.grading due      ASSIGNMENT WHEN       due date (ISO 8601 with time zone)
    python -m tools.grading collect  ASSIGNMENT [--zip F]  from the exchange, or an LMS zip download
    python -m tools.grading autograde ASSIGNMENT [--student S] [--jobs N]
    python -m tools.grading feedback ASSIGNMENT             generate (and release) feedback
    python -m tools.grading export   [--to grades.csv]
    python -m tools.grading scan     NOTEBOOK               list the tampering patterns in its answers

Why autograde is not plain ``nbgrader autograde``: nbgrader executes a
submission as the instructor, in the course folder, so student code can read
``solutions/`` (the hidden tests) and rewrite ``gradebook.db``. Here every
submission is graded in a throwaway course copy (a temporary folder holding a
copy of the gradebook and of that one submission; no ``solutions/`` notebook),
and its kernel runs inside bubblewrap: only the submission's scratch folder is
writable; the Python installation, ``helpers/``, ``tools/``, the data and the cache are
mounted read-only; the course folder, other submissions, the gradebook and the
network are not there at all; memory, file size and CPU time are capped by
rlimits and each cell by a timeout. No hidden test runs in the kernel: the
executor strips the hidden sections before a tests cell reaches it, and then
runs them itself, outside the sandbox (tools.judge.Judge), calling the
learner's functions in the kernel one execute request at a time and reading
the answer, as plain data, from the reply to that request. The instructor-side
process imports the scores and the verdicts into the real gradebook. See
docs/instructor.md for the guarantee and its limits.

One concept per module: ``settings`` (limits, file names, the nbgrader
settings), ``cycle`` (the one nbgrader runner and the cycle's steps; its
``release`` is also behind ``python -m tools.course release``),
``feedback_filter``, ``scan`` (the answer scan), ``sandbox`` (bubblewrap and
the kernel), ``executor`` (nbgrader's executor and the calls into the
kernel), ``batch`` (autograde: batches, the instructor's solution first, imports into
the gradebook), ``benchmark`` and ``cli``. This package re-exports their public
names.

Importable inside the sandboxed kernel (``load_ipython_extension`` reports the
kernel's memory and CPU time), so this module imports nothing heavy at the top.
"""
from __future__ import annotations

from typing import Any

from tools.grading.batch import (CourseSideFailure, Result, _copy_regular, _import_scores, _records_path,
                                     autograde)
from tools.grading.benchmark import bench
from tools.grading.cli import main
from tools.grading.cycle import (collect, export, feedback, lms_regexp, nbgrader, parse_due, release,
                                 set_due_date)
from tools.grading.feedback_filter import WITHHELD, strip_hidden_tests
from tools.grading.sandbox import kernel_main, load_ipython_extension
from tools.grading.scan import scan_notebook, scan_source
from tools.grading.settings import (CANARY, CELL_TIMEOUT_S, KERNEL_NAME, MEMORY_LIMIT_GB, SUBMISSION_TIMEOUT_S,
                                    _venv_path, course_root, late_penalty)

__all__ = ["CANARY", "CELL_TIMEOUT_S", "CourseSideFailure", "KERNEL_NAME", "MEMORY_LIMIT_GB", "Result",
           "SUBMISSION_TIMEOUT_S", "WITHHELD", "autograde", "bench", "collect", "course_root", "export",
           "feedback", "kernel_main", "late_penalty", "lms_regexp", "load_ipython_extension", "main", "nbgrader",
           "parse_due", "release", "scan_notebook", "scan_source", "set_due_date", "strip_hidden_tests",
           "_copy_regular", "_import_scores", "_records_path", "_venv_path"]


def __getattr__(name: str) -> Any:  # lazy: nbgrader is only needed on the instructor side
    """``SandboxExecute``, ``RefusePlainAutograde`` and ``FeedbackFilter``, the nbgrader classes named in the
    course's config."""
    if name in ("SandboxExecute", "FeedbackFilter", "RefusePlainAutograde"):
        if name == "SandboxExecute":
            from tools.grading.executor import _sandbox_execute_class as make
        elif name == "RefusePlainAutograde":
            from tools.grading.executor import _refuse_plain_class as make
        else:
            from tools.grading.feedback_filter import _feedback_filter_class as make
        cls = make()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
