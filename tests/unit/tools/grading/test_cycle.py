"""tools.grading.cycle: LMS file names, due dates, nbgrader's errors reaching the instructor."""
from __future__ import annotations

import re
import zipfile
from datetime import datetime

import pytest

from tools.grading import cycle


def test_lms_names_give_the_student_and_the_notebook(tmp_path):
    (tmp_path / "solutions" / "02_x").mkdir(parents=True)
    (tmp_path / "solutions" / "02_x" / "02_x.ipynb").write_text("{}")
    pattern = re.compile(cycle.lms_regexp("02_x", tmp_path))
    m = pattern.match("folder/bob_12345_attempt1_02_x.ipynb")
    assert m and m.group("student_id") == "bob" and m.group("file_id") == "02_x.ipynb"
    assert not pattern.match("bob_other.ipynb")


def test_due_dates_need_a_time_zone():
    assert cycle.parse_due("2026-12-01T23:59+01:00") == datetime(2026, 12, 1, 22, 59)
    assert cycle.parse_due("2026-12-01T23:59Z") == datetime(2026, 12, 1, 23, 59)
    with pytest.raises(ValueError, match="time zone"):
        cycle.parse_due("2026-12-01 23:59")
    with pytest.raises(ValueError, match="ISO 8601"):
        cycle.parse_due("tomorrow")


def test_zip_times_become_submission_timestamps(tmp_path):
    (tmp_path / "submitted" / "bob" / "a").mkdir(parents=True)
    z = tmp_path / "lms.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr(zipfile.ZipInfo("bob_1_a.ipynb", date_time=(2020, 1, 2, 3, 4, 6)), "{}")
    stamps = cycle._stamp_zip_times("a", str(z), r"(?P<student_id>[^_]+)_.*(?P<file_id>a\.ipynb)$", tmp_path)
    assert stamps == {"bob": "2020-01-02 03:04:06.000000 UTC"}
    assert (tmp_path / "submitted" / "bob" / "a" / "timestamp.txt").read_text() == stamps["bob"]


def test_a_failing_nbgrader_step_raises_with_its_output(tmp_path):
    with pytest.raises(RuntimeError, match="release_feedback"):
        cycle.nbgrader("release_feedback", "no_such_assignment", root=tmp_path)
    assert (tmp_path / "nbgrader_config.py").is_file()  # the course's config was copied in
