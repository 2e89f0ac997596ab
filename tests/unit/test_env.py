"""helpers.env: every COURSE_* variable declared once, read through setting(), documented from the declaration."""
from __future__ import annotations

import re
import subprocess

import pytest

from helpers import REPO_ROOT
from helpers import env

NAME = re.compile(r"\bCOURSE_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
DIRECT_READ = re.compile(r"""(?:os\.environ\.get|os\.getenv)\(\s*["'](COURSE_\w+)["']"""
                         r"""|os\.environ\[\s*["'](COURSE_\w+)["']\s*\](?!\s*=[^=])""")


def _tracked_text_files() -> list:
    out = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    paths = [REPO_ROOT / p for p in out.splitlines()]
    return [p for p in paths if p.is_file() and p.suffix in {".py", ".md", ".ipynb", ".yml", ".toml", ".cfg", ".txt", ""}]


def test_every_course_variable_in_the_repository_is_declared():
    declared = {s.name for s in env.SETTINGS}
    found: dict[str, str] = {}
    for path in _tracked_text_files():
        for name in NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, str(path.relative_to(REPO_ROOT)))
    undeclared = {n: p for n, p in found.items() if n not in declared}
    assert not undeclared, f"declare these in helpers.env.SETTINGS: {undeclared}"
    assert len(declared) == len(env.SETTINGS), "a setting is declared twice"


def test_the_library_tools_and_nbgrader_config_read_them_only_through_setting():
    files = [*(REPO_ROOT / "helpers").rglob("*.py"), *(REPO_ROOT / "tools").rglob("*.py"), REPO_ROOT / "nbgrader_config.py"]
    direct = {str(p.relative_to(REPO_ROOT)): m for p in files if p.name != "env.py"
              for m in DIRECT_READ.findall(p.read_text())}
    assert not direct, f"read COURSE_* variables with helpers.env.setting(): {direct}"
    assert DIRECT_READ.search('x = os.environ.get("COURSE_DATA_DIR")')
    assert not DIRECT_READ.search('os.environ["COURSE_EXCHANGE"] = "x"'), "a write is not a read"


def test_setting_returns_the_value_or_the_default_and_refuses_unknown_names(monkeypatch):
    monkeypatch.setenv("COURSE_ZIP_TIMEZONE", "Europe/Paris")
    assert env.setting("COURSE_ZIP_TIMEZONE") == "Europe/Paris"
    monkeypatch.setenv("COURSE_ZIP_TIMEZONE", "")
    assert env.setting("COURSE_ZIP_TIMEZONE") == "UTC", "an empty value counts as unset"
    monkeypatch.delenv("COURSE_GRADING_TMP", raising=False)
    assert env.setting("COURSE_GRADING_TMP") is None
    with pytest.raises(KeyError, match="not a declared course setting"):
        env.setting("COURSE_" + "TYPO")  # (split: an undeclared name may appear nowhere in the repository)


def test_the_instructor_guide_lists_every_setting_from_the_declaration():
    guide = (REPO_ROOT / "docs" / "instructor.md").read_text(encoding="utf-8")
    assert env.markdown_table() in guide, "run `python -m tools.course readme` to rewrite the guide's table"
    for s in env.SETTINGS:
        assert f"`{s.name}`" in env.markdown_table()
