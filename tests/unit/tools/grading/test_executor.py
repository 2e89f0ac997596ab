"""tools.grading.executor: the grader's judge of a submission and where its verdicts go."""
from __future__ import annotations

import json

from helpers import REPO_ROOT
from tools.grading import executor, settings


def test_the_judge_reads_the_source_named_by_the_grading_command(monkeypatch):
    monkeypatch.delenv("COURSE_GRADING_SOURCE", raising=False)
    assert executor._grader_judge(lambda n, r: "") is None
    src = REPO_ROOT / "tests" / "fixtures" / "grading" / "zz_grading_fixture" / "zz_grading_fixture.ipynb"
    monkeypatch.setenv("COURSE_GRADING_SOURCE", str(src))
    judge = executor._grader_judge(lambda n, r: json.dumps({"returned": {"t": "int", "v": 3}}))
    assert sorted(judge.cells) == ["ex_add_tests", "ex_square_tests"]
    assert judge.run("ex_add_tests")["passed"] is False  # add(-5, 10) answered 3


def test_verdicts_and_transcript_are_written_beside_the_course_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))

    class FakeJudge:
        transcript = [{"call": "f (call 1)", "reply": "{}"}]

    executor._save_verdicts(FakeJudge(), {"ex_tests": {"passed": True}})
    assert json.loads((tmp_path / settings.VERDICTS_FILE).read_text()) == {"ex_tests": {"passed": True}}
    assert json.loads((tmp_path / settings.TRANSCRIPT_FILE).read_text()) == FakeJudge.transcript[0]


def test_the_executor_class_builds():
    cls = executor._sandbox_execute_class()
    assert cls.__name__ == "SandboxExecute" and hasattr(cls, "_async_call")
