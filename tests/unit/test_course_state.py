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
    (tmp_path / "cache" / "some-run").mkdir(parents=True)  # a lesson run by hand cached something
    assert course_state.cache_line(lesson).startswith("course cache: not prepared (it holds what earlier runs")
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


def test_time_left_follows_the_pace_of_this_machine():
    """The time left is re-estimated from progress: twice as slow, twice as long; an overrun keeps it growing."""
    cold = {"a": 100.0, "b": 200.0, "c": 300.0}
    names = list(cold)
    assert course_state.remaining_seconds(cold, names, 0, 0.0, 0.0) == (600.0, 1.0)
    left, pace = course_state.remaining_seconds(cold, names, 1, 50.0, 150.0)  # on time
    assert pace == 1.0 and left == 450.0
    left, pace = course_state.remaining_seconds(cold, names, 1, 100.0, 400.0)  # a machine twice as busy
    assert pace == 2.0 and left == (150.0 + 300.0) * 2
    # lesson b overruns its 200 s: the estimate grows with it instead of sticking at c's 300 s
    stuck = [course_state.remaining_seconds(cold, names, 1, spent, 100.0 + spent)[0] for spent in (300, 600, 900)]
    assert stuck[0] < stuck[1] < stuck[2], stuck
    assert course_state.remaining_seconds(cold, names, 2, 310.0, 610.0)[0] == 0.0, "past the last lesson's reference"


def test_setup_line_tells_a_cached_lesson_and_one_opened_ahead_of_the_cache(tmp_path, monkeypatch):
    """A lesson the prepare already ran says its warm time; one opened before earlier lessons are cached
    gives the range from its own cold time to that plus theirs (the timing report ran lessons in order)."""
    import json

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    names = course_state.lessons()
    report = json.loads(course_state.TIMING_COMMITTED.read_text())["lessons"]
    first, last = names[0], names[-1]
    line = course_state.cache_line(last)
    cold = report[last]["cold"]["seconds"]
    upper = cold + sum(report[n]["cold"]["seconds"] for n in names[:-1])
    assert f"between {course_state.minutes(cold)} and {course_state.minutes(upper)}" in line, line
    assert f"lessons {names[0][:2]}-{names[-2][:2]}" in line, line
    course_state.lesson_stamp(first).parent.mkdir(parents=True)
    for name in names[:-1]:
        course_state.lesson_stamp(name).write_text("{}")
    line = course_state.cache_line(last)
    assert f"takes about {course_state.minutes(cold)}" in line and "between" not in line, line
    line = course_state.cache_line(first)
    assert f"is cached (the prepare ran it): about {course_state.minutes(report[first]['warm']['seconds'])}" in line


def test_a_slow_prepare_says_so(tmp_path, monkeypatch):
    """The status line names a pace well behind the timing report, so a learner knows why it takes longer."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    status = {"state": "running", "pid": os.getpid(), "started": 0, "lessons": 6, "lesson": "03_rnn_formula",
              "lesson_index": 2, "cell": 3, "cells": 30, "left_s": 1200.0, "pace": 2.04}
    line = course_state.describe_status(status)
    assert "about 20 min left, running 2.0x slower than the timing report" in line, line
    assert "slower" not in course_state.describe_status({**status, "pace": 1.1})
