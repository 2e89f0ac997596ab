"""tools.course prepare's bookkeeping: the status it keeps while filling the cache and the stamps it leaves."""
from __future__ import annotations

import json
from types import SimpleNamespace

from helpers import course_state


def test_prepare_stamps_each_lesson_it_ran_and_re_estimates_the_time_left(tmp_path, monkeypatch):
    """Each lesson that ran to its end gets a stamp (its setup cell then says 'cached'); the time left in
    the status file follows the measured pace, and a failed lesson leaves no stamp."""
    from tools import course

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    names = course_state.lessons()[:3]
    monkeypatch.setattr(course, "lessons", lambda: names)
    monkeypatch.setattr(course, "check_data", lambda: 0)
    monkeypatch.setattr(course, "cold_seconds", lambda: {n: 100.0 for n in names})
    clock = [1000.0]
    monkeypatch.setattr(course.time, "time", lambda: clock[0])
    seen = []

    def execute(path, timeout, on_cell):  # each lesson takes 200 s: twice its reference
        if path.stem == names[2]:
            raise RuntimeError("kernel died")
        for index in range(2):
            clock[0] += 100.0
            on_cell(index, 2, SimpleNamespace(source="x = 1", cell_type="code"))
            seen.append(json.loads((tmp_path / "cache" / course_state.STATUS_FILE).read_text()))
        return {"seconds": 200.0}

    monkeypatch.setattr(course, "execute_notebook", execute)
    assert course.prepare() == 1, "a failed lesson fails prepare"
    assert [course_state.lesson_stamp(n).is_file() for n in names] == [True, True, False]
    in_second = [s for s in seen if s["lesson"] == names[1]]
    assert in_second[-1]["pace"] == 2.0 and in_second[-1]["left_s"] == 200.0, in_second[-1]
    assert course_state.prepare_status()["state"] == "failed"
