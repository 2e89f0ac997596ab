"""tools.grading.settings: the nbgrader settings in one place, limits, late penalties."""
from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

from helpers import REPO_ROOT
from tools.grading import settings


def test_course_settings_are_the_ones_nbgrader_config_applies(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_EXCHANGE", str(tmp_path / "ex"))
    c = Config()
    settings.apply_course_settings(c, tmp_path)
    assert c.CourseDirectory.source_directory == "solutions" and c.CourseDirectory.release_directory == "notebooks"
    assert c.CourseDirectory.db_url == f"sqlite:///{tmp_path}/gradebook.db"
    assert c.Exchange.root == str(tmp_path / "ex")
    assert "tools.grading.FeedbackFilter" in c.GenerateFeedback.preprocessors
    text = (REPO_ROOT / "nbgrader_config.py").read_text()
    assert "apply_course_settings" in text and "source_directory" not in text  # not written twice
    assert c.Autograde.autograde_preprocessors == ["tools.grading.RefusePlainAutograde"], \
        "plain nbgrader autograde must be refused: it would run hidden tests in the student's kernel"


def test_plain_autograde_is_refused_before_any_kernel_starts():
    import nbformat

    from tools import grading

    step = grading.RefusePlainAutograde()
    with pytest.raises(RuntimeError, match="python -m tools.grading autograde"):
        step.preprocess(nbformat.v4.new_notebook(), {})


def test_sandbox_settings_use_the_sandboxed_executor(tmp_path):
    c = Config()
    settings.apply_sandbox_settings(c, tmp_path / "run", 8, "zero")
    assert c.SandboxExecute.timeout == 8 and c.KernelManager.transport == "ipc"
    assert c.KernelManager.ip == f"{tmp_path / 'run'}/k" and c.LateSubmissionPlugin.penalty_method == "zero"
    assert c.Autograde.autograde_preprocessors[0].__name__ == "SandboxExecute"
    course = Config()
    settings.apply_course_settings(course, tmp_path)
    settings.apply_sandbox_settings(course, tmp_path / "run", 8, "zero")
    assert course.Autograde.autograde_preprocessors[0].__name__ == "SandboxExecute", "the sandbox replaces the refusal"
    assert c.OverwriteCells.add_missing_cells is True


def test_late_penalty_is_checked(monkeypatch):
    monkeypatch.setenv("COURSE_LATE_PENALTY", "zero")
    assert settings.late_penalty() == "zero"
    monkeypatch.setenv("COURSE_LATE_PENALTY", "half")
    with pytest.raises(ValueError, match="none, zero"):
        settings.late_penalty()


def test_course_root_and_venv_path(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    assert settings.course_root() == tmp_path.resolve()
    first = settings._venv_path("/usr/bin:/bin").split(":")[0]
    assert Path(first, "python").exists() or Path(first, "python3").exists()
