"""tools.grading.batch: what a submission brings back, the instructor's solution as a submission."""
from __future__ import annotations

import nbformat
import pytest

from helpers import REPO_ROOT
from tools.grading import batch as autograde

FIXTURE = "zz_grading_fixture"


def test_copy_back_skips_symlinks_and_caps_files_and_bytes(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.ipynb").write_text("{}")
    for i in range(5):
        (src / f"f{i}.bin").write_bytes(b"x" * 100)
    (src / "link").symlink_to(tmp_path)
    skipped = autograde._copy_regular(src, dst, max_files=3, max_bytes=10_000)
    assert sorted(p.name for p in dst.iterdir()) == ["a.ipynb", "f0.bin", "f1.bin"]  # the notebook first
    assert "link" in skipped and sum("over the cap" in s for s in skipped) == 3
    dst2 = tmp_path / "dst2"
    autograde._copy_regular(src, dst2, max_bytes=250)
    assert sorted(p.name for p in dst2.iterdir()) == ["a.ipynb", "f0.bin", "f1.bin"]


def test_the_instructors_solution_becomes_a_submission_without_hidden_tests(tmp_path):
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    src = REPO_ROOT / "tests" / "fixtures" / "grading" / FIXTURE / f"{FIXTURE}.ipynb"
    (root / "solutions" / FIXTURE).mkdir()
    nb = nbformat.read(src, as_version=4)
    nbformat.write(nb, root / "solutions" / FIXTURE / f"{FIXTURE}.ipynb")
    for cell in nb.cells:  # a release: solutions stubbed, hidden tests gone
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "raise NotImplementedError()"
        cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0]
    (root / "notebooks" / FIXTURE).mkdir(parents=True)
    nbformat.write(nb, root / "notebooks" / FIXTURE / f"{FIXTURE}.ipynb")
    folder = tmp_path / "canary"
    folder.mkdir()
    autograde._write_canary(root, FIXTURE, folder)
    text = (folder / f"{FIXTURE}.ipynb").read_text()
    assert "return np.asarray(x) ** 2" in text and "HIDDEN" not in text and "NotImplementedError" not in text


def test_slowest_cell_comes_from_the_log():
    r = autograde.Result("s", True, 1.0, log="[grading] cell 3 took 2.5 s\n[grading] cell 4 took 7.0 s\n")
    assert r.slowest_cell == 7.0


def test_limit_use_reports_every_limit_and_the_closest_one():
    from tools.grading import settings

    log = ("[grading] cell 3 took 2.5 s\n[grading] hidden tests of ex1_tests took 4.0 s: passed\n"
           "[grading] cell 7 took 30.0 s\n[grading] hidden tests of ex2_tests took 12.0 s: passed\n")
    usage = {"VmPeak": f"{3 * 2**20} kB", "VmHWM": "900000 kB", "cpu_s": 40.0}
    result = autograde.Result("alice", True, seconds=90.0, log=log, usage=usage)
    use = result.limit_use()
    assert use["submission s"] == (90.0, settings.SUBMISSION_TIMEOUT_S)
    assert use["cell s"] == (30.0, settings.CELL_TIMEOUT_S)
    assert use["judge call s"] == (12.0, settings.JUDGE_CALL_TIMEOUT_S), "the slowest hidden tests bound any call"
    assert use["kernel CPU s"] == (40.0, settings.CPU_LIMIT_S)
    assert use["kernel memory GiB"] == (3.0, settings.MEMORY_LIMIT_GB), "the cap limits the address space"
    shares = {name: used / limit for name, (used, limit) in use.items()}
    assert result.closest_limit == max(shares.items(), key=lambda t: t[1])
    bare = autograde.Result("bob", False, seconds=1.0).limit_use()
    assert set(bare) == {"submission s", "cell s", "judge call s"}, "a kernel that reported nothing: wall times only"


def test_autograde_needs_a_gradebook_and_the_source(tmp_path):
    with pytest.raises(RuntimeError, match="gradebook.db"):
        autograde.autograde(FIXTURE, root=tmp_path)
    (tmp_path / "gradebook.db").write_text("")
    with pytest.raises(RuntimeError, match="solutions/"):
        autograde.autograde(FIXTURE, root=tmp_path)
