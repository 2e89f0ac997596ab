"""tools.grading.sandbox: what the kernel's bubblewrap command mounts and what its environment holds."""
from __future__ import annotations

import shutil

import pytest

from helpers import REPO_ROOT
from tools.grading import sandbox


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap missing")
def test_the_sandbox_mounts_course_code_read_only_and_only_scratch_writable(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_CACHE_DIR", raising=False)
    cmd = sandbox._bwrap_command(tmp_path / "scratch", tmp_path / "run", ["python"], {"A": "1"})
    pairs = {(cmd[i], cmd[i + 1]) for i in range(len(cmd) - 1)}
    assert "--unshare-all" in cmd and "--clearenv" in cmd and ("--setenv", "A") in pairs
    assert ("--ro-bind-try", str(REPO_ROOT / "tools")) in pairs and ("--ro-bind-try", str(REPO_ROOT / "helpers")) in pairs
    writable = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--bind"]
    assert writable == [str(tmp_path / "scratch"), str(tmp_path / "run")]
    assert not any("solutions" in a or "gradebook" in a for a in cmd)


def test_the_kernel_environment_holds_no_grading_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_SOURCE", "/course/solutions/a/a.ipynb")
    monkeypatch.setenv("COURSE_ROOT", "/course")
    env = sandbox._kernel_env(tmp_path)
    assert "COURSE_GRADING_SOURCE" not in env and "COURSE_ROOT" not in env
    assert env["HOME"] == str(tmp_path) and env["PYTHONPATH"] == str(REPO_ROOT)


def test_the_kernel_refuses_to_start_outside_the_grading_command(tmp_path):
    conn = tmp_path / "kernel.json"
    conn.write_text('{"transport": "tcp", "ip": "127.0.0.1"}')
    with pytest.raises(SystemExit, match="tools.grading autograde"):
        sandbox.kernel_main(str(conn), [])
