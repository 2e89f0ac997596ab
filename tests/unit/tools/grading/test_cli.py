"""tools.grading.cli: the commands, and errors that reach the instructor as one message."""
from __future__ import annotations

import subprocess
import sys

from helpers import REPO_ROOT
from tools.grading import cli

FIXTURE_NB = REPO_ROOT / "tests" / "fixtures" / "grading" / "zz_grading_fixture" / "zz_grading_fixture.ipynb"


def test_scan_of_a_clean_notebook(capsys):
    assert cli.main(["scan", str(FIXTURE_NB)]) == 0
    assert capsys.readouterr().out.strip() == "clean"


def test_an_error_is_one_message_and_exit_status_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    assert cli.main(["autograde", "01_background"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no gradebook.db") and "Traceback" not in err


def test_python_m_tools_grading_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "tools.grading", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "autograde" in proc.stdout
