"""Limits, file names and the nbgrader settings of the course, in one place.

nbgrader_config.py (the course root's config) and the config of every throwaway
grading course call :func:`apply_course_settings`; the sandbox adds :func:`apply_sandbox_settings`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from helpers import REPO_ROOT
from helpers.env import setting


KERNEL_NAME = "course-sandbox"
# Limits: see docs/instructor.md for how they were chosen (measured while grading ran).
CELL_TIMEOUT_S = int(setting("COURSE_CELL_TIMEOUT"))
MEMORY_LIMIT_GB = float(setting("COURSE_GRADING_MEMORY_GB"))
SUBMISSION_TIMEOUT_S = int(setting("COURSE_SUBMISSION_TIMEOUT"))
CPU_LIMIT_S = int(setting("COURSE_GRADING_CPU_S"))
FILE_SIZE_LIMIT_MB = 512
# What one graded submission may bring back into autograded/ (the notebook counts): the rest is left out.
COPY_BACK_MAX_FILES = int(setting("COURSE_GRADING_MAX_FILES"))
COPY_BACK_MAX_MB = float(setting("COURSE_GRADING_MAX_MB"))
CANARY = "course-solution"  # the instructor's own answers, graded first in every batch (never imported)
TIMEOUT_GRACE_S = 10  # after an interrupt, a kernel that does not answer within this is killed
USAGE_FILE = ".grading-usage.json"
VERDICTS_FILE = "judge-verdicts.json"  # written by the executor, outside the sandbox (course copy root)
TRANSCRIPT_FILE = "judge-transcript.jsonl"  # what the kernel answered to every call
JUDGE_CALL_TIMEOUT_S = int(setting("COURSE_JUDGE_CALL_TIMEOUT"))

def course_root() -> Path:
    """The course being graded: ``COURSE_ROOT`` if set, else this repository."""
    return Path(setting("COURSE_ROOT") or REPO_ROOT).resolve()


def _venv_path(path: str) -> str:
    """PATH with this interpreter's bin/ first (nbgrader runs ``alembic`` from PATH)."""
    return os.pathsep.join([str(Path(sys.executable).parent), *filter(None, path.split(os.pathsep))])


LATE_PENALTIES = ("none", "zero")  # nbgrader's LateSubmissionPlugin methods


def late_penalty() -> str:
    """What a late submission costs: ``COURSE_LATE_PENALTY`` = none (only marked late) or zero."""
    method = setting("COURSE_LATE_PENALTY")
    if method not in LATE_PENALTIES:
        raise ValueError(f"COURSE_LATE_PENALTY={method!r}: use one of {', '.join(LATE_PENALTIES)}")
    return method


FEEDBACK_PREPROCESSORS = [  # nbgrader's default feedback shows the hidden tests: the course's filter strips them
    "nbgrader.preprocessors.GetGrades",
    "tools.grading.FeedbackFilter",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def apply_course_settings(c: Any, root: Path) -> None:
    """The course's nbgrader settings (folders, gradebook, exchange, stubs, timeouts, feedback) on config ``c``."""
    root = Path(root)
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = setting("COURSE_ID")
    c.CourseDirectory.source_directory = "solutions"
    c.CourseDirectory.release_directory = "notebooks"
    c.CourseDirectory.db_url = "sqlite:///" + str(root / "gradebook.db")
    c.Exchange.root = setting("COURSE_EXCHANGE") or str(root / "exchange")
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    c.ExecutePreprocessor.timeout = CELL_TIMEOUT_S
    c.ExecutePreprocessor.interrupt_on_timeout = True
    c.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)
    # plain `nbgrader autograde` (and the formgrader's button) would run hidden tests in the student's kernel:
    # refused before a kernel starts; apply_sandbox_settings replaces the list for the sandboxed autograde
    c.Autograde.autograde_preprocessors = ["tools.grading.RefusePlainAutograde"]


def apply_sandbox_settings(c: Any, runtime: Path, cell_timeout: int, penalty: str) -> None:
    """What a throwaway grading course adds: the sandboxed executor and kernel, ipc sockets, late penalty."""
    from tools.grading import SandboxExecute
    c.Autograde.create_student = True
    c.Autograde.autograde_preprocessors = [
        SandboxExecute, "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata"]
    c.OverwriteCells.add_missing_cells = True
    c.SandboxExecute.kernel_name = KERNEL_NAME
    c.SandboxExecute.timeout = int(cell_timeout)
    c.SandboxExecute.startup_timeout = 120
    c.SandboxExecute.interrupt_on_timeout = True
    c.SandboxExecute.raise_on_iopub_timeout = False
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = f"{runtime}/k"
    c.LateSubmissionPlugin.penalty_method = penalty
