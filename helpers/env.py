"""Every ``COURSE_*`` environment variable the course reads, declared once.

Each :class:`Setting` has its name, default, what it does and who reads it.
Code reads a variable only through :func:`setting` (a test checks that no
other ``COURSE_*`` name appears anywhere in the repository and that nothing
reads one from ``os.environ`` directly), and the instructor guide's table of
variables is rendered from :data:`SETTINGS` (:func:`markdown_table`, checked
by a test and rewritten by ``python -m tools.course readme``).

An empty value counts as unset. Used in every lesson (the data and cache folders).
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One ``COURSE_*`` environment variable: its default (None: unset), what it does and who reads it.

    No lesson calls it directly (lessons reach it through other helpers).
    """

    name: str
    default: str | None
    description: str
    read_by: str


SETTINGS: tuple[Setting, ...] = (
    # ---- learners, instructors, CI
    Setting("COURSE_DATA_DIR", None, "folder holding the data files (searched after an explicit folder, "
            "before the repository's `datasets/`)", "helpers.data, helpers.cache, the grading sandbox"),
    Setting("COURSE_CACHE_DIR", None, "the course cache of trained runs and source models (default "
            "`<repo>/.cache`; never inside COURSE_DATA_DIR)", "helpers.cache, the grading sandbox"),
    Setting("COURSE_LESSONS", None, "comma-separated lesson names: restrict the course command and the "
            "lesson tests to those lessons", "helpers.course_state, tools.course, tests"),
    # ---- the nbgrader cycle
    Setting("COURSE_ROOT", None, "the course folder nbgrader works in (default: this repository)",
            "nbgrader_config.py, tools.grading"),
    Setting("COURSE_ID", "transfer-learning-medicine", "nbgrader's course id (the exchange's folder name)",
            "tools.grading.settings"),
    Setting("COURSE_EXCHANGE", None, "nbgrader's exchange root (default `<course>/exchange`; "
            "`/srv/nbgrader/exchange` on JupyterHub)", "tools.grading.settings, tools.grading.cycle"),
    Setting("COURSE_LATE_PENALTY", "none", "what a late submission costs: `none` (only marked late) or "
            "`zero`", "tools.grading.settings"),
    Setting("COURSE_ZIP_TIMEZONE", "UTC", "time zone of the timestamps in an LMS download's file names",
            "tools.grading.cycle"),
    Setting("COURSE_GRADING_JOBS", "1", "submissions autograded at once (`--jobs` default)",
            "tools.grading.cli"),
    Setting("COURSE_GRADING_TMP", None, "where each submission's temporary folder is made (default: the "
            "system's temporary folder)", "tools.grading.batch"),
    Setting("COURSE_CELL_TIMEOUT", "300", "seconds a cell may run while autograding",
            "tools.grading.settings"),
    Setting("COURSE_SUBMISSION_TIMEOUT", "1800", "seconds a whole submission may take while autograding",
            "tools.grading.settings"),
    Setting("COURSE_GRADING_MEMORY_GB", "6", "address-space cap of a grading kernel, GiB",
            "tools.grading.settings, tools.grading.sandbox"),
    Setting("COURSE_GRADING_CPU_S", "3600", "CPU seconds a grading kernel may use", "tools.grading.settings"),
    Setting("COURSE_GRADING_MAX_FILES", "50", "files a submission may bring back from the sandbox",
            "tools.grading.settings"),
    Setting("COURSE_GRADING_MAX_MB", "50", "megabytes a submission may bring back from the sandbox",
            "tools.grading.settings"),
    Setting("COURSE_JUDGE_CALL_TIMEOUT", "120", "seconds the judge waits for one call into a student's kernel",
            "tools.grading.settings"),
    # ---- set by the grader for its own processes (not for people to set)
    Setting("COURSE_GRADING_SOURCE", None, "internal: the instructor notebook whose hidden tests judge the "
            "submission being executed", "tools.grading.executor (set by tools.grading.batch)"),
    Setting("COURSE_GRADING_IPC_DIR", None, "internal: the folder of a sandboxed kernel's IPC sockets",
            "tools.grading.sandbox (set by tools.grading.batch)"),
    # ---- the test suite
    Setting("COURSE_TEST_CACHE_DIR", None, "tests: reuse this course cache instead of a fresh empty one "
            "(debugging; the lessons then run warm)", "tests/conftest.py"),
    Setting("COURSE_CHROMIUM", None, "tests: the Chromium binary of the browser test (default: found on "
            "PATH)", "tests/lessons/test_browser.py"),
)
"""Every ``COURSE_*`` variable, in the order the instructor guide lists them."""

_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> str | None:
    """The value of the declared variable ``name`` (its default when unset or empty).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    if name not in _BY_NAME:
        raise KeyError(f"{name} is not a declared course setting; declare it in helpers.env.SETTINGS "
                       f"(known: {', '.join(_BY_NAME)}).")
    value = os.environ.get(name)
    return value if value else _BY_NAME[name].default


def markdown_table() -> str:
    """The instructor guide's table of variables, rendered from :data:`SETTINGS`.

    No lesson uses it: tools.course writes it into docs/instructor.md.
    """
    rows = ["| variable | default | what it does | read by |", "| --- | --- | --- | --- |"]
    for s in SETTINGS:
        rows.append(f"| `{s.name}` | {'`' + s.default + '`' if s.default else '(unset)'} | {s.description} | "
                    f"{s.read_by} |")
    return "\n".join(rows)
