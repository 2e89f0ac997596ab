"""helpers.course_state: what a lesson's setup cell says about the cache (written by tools.course, read here)."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers import course_state


def test_setup_in_a_lesson_folder_says_what_the_cold_cache_costs(tmp_path, monkeypatch):
    """A lesson's setup cell on a cold machine: the cache state and the lesson's cold/warm time.

    The status file and the prepared stamp are written by the instructor command (tools.course);
    the setup cell only reads them (helpers.course_state).
    """
    from tools import course

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    lesson = course_state.lessons()[0]
    assert course_state.cache_line("not_a_lesson") is None
    line = course_state.cache_line(lesson)
    assert line.startswith("course cache: empty") and "`python -m tools.course prepare`" in line
    assert "2-core CPU" in line
    cold = course.cold_seconds()[lesson]
    assert course_state.minutes(cold) in line
    course_state.write_status({"state": "running", "pid": os.getpid(), "started": 0, "lessons": 6,
                          "lesson": lesson, "lesson_index": 0, "cell": 4, "cells": 20, "log": "x.log"})
    line = course_state.cache_line(lesson)
    assert "filling in the background (lesson 1/6" in line and "cell 5/20" in line
    course.mark_prepared({lesson: 1.0})
    assert course_state.cache_line(lesson) is None


def test_a_dead_background_prepare_reads_as_stopped(tmp_path, monkeypatch):
    """A prepare that was killed (course stopped) must not be reported as still filling the cache."""
    from tools import course

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not course_state.process_alive(dead.pid)
    course_state.write_status({"state": "running", "pid": dead.pid, "started": 0, "lessons": 6,
                          "lesson": "01_background", "lesson_index": 0, "cell": 0, "cells": 0, "log": "x.log"})
    status = course_state.prepare_status()
    assert status["state"] == "stopped"
    line = course_state.describe_status(status)
    assert "stopped at lesson 1/6 01_background, starting its kernel" in line and "make prepare" in line


def test_the_status_file_holds_only_declared_fields(tmp_path, monkeypatch):
    """The status is a declared type: a misspelt field is refused before anything is written."""
    import pytest

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="lesson_idx"):
        course_state.write_status({"state": "running", "lesson_idx": 2})
    assert not (tmp_path / "cache" / course_state.STATUS_FILE).exists()
    path = course_state.write_status({"state": "failed", "lesson": "01_background", "error": "boom"})
    assert path.name == course_state.STATUS_FILE and course_state.prepare_status()["error"] == "boom"
