"""Autograding a batch: one throwaway course and sandbox per submission, the instructor's solution
first (a course-side failure stops the batch), scores and verdicts imported into the real gradebook."""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import REPO_ROOT
from helpers.env import setting

from tools.grading.scan import scan_notebook
from tools.grading.settings import (CANARY, CELL_TIMEOUT_S, COPY_BACK_MAX_FILES, COPY_BACK_MAX_MB, CPU_LIMIT_S,
    JUDGE_CALL_TIMEOUT_S, KERNEL_NAME, MEMORY_LIMIT_GB, SUBMISSION_TIMEOUT_S, TRANSCRIPT_FILE, USAGE_FILE, VERDICTS_FILE, _venv_path, course_root,
    late_penalty)


@dataclass
class Result:
    """What happened to one submission."""
    student: str
    ok: bool
    seconds: float
    log: str = ""
    flags: dict[str, list[str]] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, dict] | None = field(default_factory=dict)

    @property
    def slowest_cell(self) -> float:
        """Longest cell execution in seconds (from the grading log)."""
        times = [float(t) for t in re.findall(r"\[grading\] cell \d+ took ([\d.]+) s", self.log)]
        return max(times, default=0.0)

    @property
    def slowest_hidden_tests(self) -> float:
        """Longest run of one cell's hidden tests in seconds, the judge's calls into the kernel included (log)."""
        times = [float(t) for t in re.findall(r"\[grading\] hidden tests of \S+ took ([\d.]+) s", self.log)]
        return max(times, default=0.0)

    def limit_use(self) -> dict[str, tuple[float, float]]:
        """How close this submission came to each grading limit: ``{limit: (used, limit)}``.

        The submission's and its slowest cell's wall time, the slowest cell's
        hidden tests (an upper bound on any one call of the judge into the
        kernel), the kernel's CPU seconds and its peak address space (what the
        memory cap limits). A limit the kernel did not report is left out.
        """
        use = {"submission s": (self.seconds, float(SUBMISSION_TIMEOUT_S)),
               "cell s": (self.slowest_cell, float(CELL_TIMEOUT_S)),
               "judge call s": (self.slowest_hidden_tests, float(JUDGE_CALL_TIMEOUT_S))}
        if "cpu_s" in self.usage:
            use["kernel CPU s"] = (float(self.usage["cpu_s"]), float(CPU_LIMIT_S))
        if "VmPeak" in self.usage:
            use["kernel memory GiB"] = (int(self.usage["VmPeak"].split()[0]) / 2**20, MEMORY_LIMIT_GB)
        return use

    @property
    def closest_limit(self) -> tuple[str, float]:
        """The limit this submission came closest to, and the share of it used."""
        return max(((name, used / limit) for name, (used, limit) in self.limit_use().items()), key=lambda t: t[1])


_CONFIG = """\
from pathlib import Path
from tools.grading.settings import apply_course_settings, apply_sandbox_settings
c = get_config()  # noqa: F821
apply_course_settings(c, Path({root!r}))
apply_sandbox_settings(c, Path({runtime!r}), {timeout}, {penalty!r})
"""


def _copy_regular(src: Path, dst: Path, max_files: int | None = None, max_bytes: int | None = None) -> list[str]:
    """Copy a folder's regular files only (a symlink could point at solutions/). Returns skipped names.

    With caps (what a graded submission brings back): notebooks first, then the
    other files in name order, until ``max_files`` files or ``max_bytes`` bytes.
    """
    skipped: list[str] = []
    files, size = 0, 0
    paths = sorted(src.rglob("*"), key=lambda p: (p.suffix != ".ipynb", str(p)))
    for path in paths:
        rel = path.relative_to(src)
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            skipped.append(str(rel))
        elif path.is_dir():
            continue
        elif not any(p.is_symlink() for p in path.parents if src in p.parents):
            n = path.stat().st_size
            if (max_files is not None and files >= max_files) or (max_bytes is not None and size + n > max_bytes):
                skipped.append(f"{rel} (over the cap of {max_files} files / {max_bytes} bytes)")
                continue
            files, size = files + 1, size + n
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dst / rel)
    return skipped


def _grade_in_sandbox(root: Path, assignment: str, student: str, timeout: int,
                      cell_timeout: int, memory_gb: float, folder: Path | None = None) -> tuple[Result, Path]:
    """Autograde one submission (``folder``, default submitted/<student>/<assignment>) in a throwaway
    course copy; return the result and that copy."""
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="cg-", dir=setting("COURSE_GRADING_TMP")))
    runtime = tmp / "run"
    for sub in ("run", "config", "share/jupyter/kernels/" + KERNEL_NAME, "solutions/" + assignment):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    # The gradebook copy holds the hidden tests: the nbgrader process needs it, the kernel never sees it.
    with sqlite3.connect(root / "gradebook.db") as src, sqlite3.connect(tmp / "gradebook.db") as dst:
        src.backup(dst)
    skipped = _copy_regular(folder or root / "submitted" / student / assignment, tmp / "submitted" / student / assignment)
    for extra in (root / "solutions" / assignment).iterdir():  # instructor's non-notebook files only
        if extra.is_file() and extra.suffix != ".ipynb" and not extra.is_symlink():
            shutil.copyfile(extra, tmp / "solutions" / assignment / extra.name)
    (tmp / "nbgrader_config.py").write_text(_CONFIG.format(
        root=str(tmp), timeout=cell_timeout, runtime=str(runtime),
        penalty=late_penalty()))
    spec = {"argv": [sys.executable, "-m", "tools.grading", "kernel", "{connection_file}"],
            "display_name": "Python 3 (grading sandbox)", "language": "python",
            "interrupt_mode": "message"}  # a signal would stop at bwrap; ipykernel interrupts itself
    (tmp / "share/jupyter/kernels" / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_PATH": str(tmp / "share/jupyter"),
           "JUPYTER_DATA_DIR": str(tmp / "share/jupyter"), "JUPYTER_RUNTIME_DIR": str(runtime),
           "COURSE_GRADING_SOURCE": str(root / "solutions" / assignment / f"{assignment}.ipynb"),
           "COURSE_ROOT": str(tmp), "PYTHONPATH": str(REPO_ROOT), "COURSE_GRADING_IPC_DIR": str(runtime), "COURSE_GRADING_MEMORY_GB": str(memory_gb)}
    env.pop("COURSE_EXCHANGE", None)
    env["PATH"] = _venv_path(env.get("PATH", ""))
    cmd = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", student, "--force"]
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        out += f"\n[grading] submission exceeded {timeout} s and was stopped\n"
        ok = False
    if skipped:
        out += f"\n[grading] not copied (symlinks or special files): {skipped}\n"
    graded = tmp / "autograded" / student / assignment
    ok = ok and graded.is_dir() and any(graded.glob("*.ipynb"))
    return Result(student, ok, time.perf_counter() - start, log=out), tmp


def _import_scores(root: Path, assignment: str, result: Result, tmp: Path) -> None:
    """Copy one sandboxed result into the real gradebook and autograded/ (instructor side)."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    dest = root / "autograded" / result.student / assignment
    if dest.exists():
        shutil.rmtree(dest)
    graded = tmp / "autograded" / result.student / assignment
    usage_file = graded / USAGE_FILE
    if usage_file.is_file():
        try:
            result.usage = json.loads(usage_file.read_text())
        except ValueError:
            pass
        usage_file.unlink()
    flags: dict[str, dict[str, list[str]]] = {}
    records = _records_path(root, assignment, result.student)
    records.unlink(missing_ok=True)
    if result.ok:
        left_out = _copy_regular(graded, dest, COPY_BACK_MAX_FILES, int(COPY_BACK_MAX_MB * 2**20))
        if left_out:
            result.log += f"\n[grading] not copied back to autograded/: {left_out[:20]}\n"
        if (tmp / TRANSCRIPT_FILE).is_file():
            records.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp / TRANSCRIPT_FILE, records)
        try:
            result.verdicts = json.loads((tmp / VERDICTS_FILE).read_text())
        except (OSError, ValueError):
            result.verdicts = None  # the grader's judge did not finish: 0, and ask a human
        for path in sorted(dest.glob("*.ipynb")):
            found = scan_notebook(nbformat.read(path, as_version=4))
            if found:
                flags[path.stem] = found
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        gb.update_or_create_student(result.student)
        sub_kwargs = {}
        if result.ok:
            with Gradebook(f"sqlite:///{tmp}/gradebook.db") as tgb:
                tsub = tgb.find_submission(assignment, result.student)
                sub_kwargs = {"timestamp": tsub.timestamp} if tsub.timestamp else {}
                copied = {(nb.name, g.name): (g.auto_score, g.needs_manual_grade)
                          for nb in tsub.notebooks for g in nb.grades}
                comments = {(nb.name, c.name): c.auto_comment for nb in tsub.notebooks for c in nb.comments}
                penalties = {nb.name: nb.late_submission_penalty for nb in tsub.notebooks}
        sub = gb.update_or_create_submission(assignment, result.student, **sub_kwargs)
        for nb in sub.notebooks:
            for grade in nb.grades:
                if result.ok and (nb.name, grade.name) in copied:
                    grade.auto_score, grade.needs_manual_grade = copied[nb.name, grade.name]
                else:  # grading failed as a whole: zero, and ask a human
                    grade.auto_score, grade.needs_manual_grade = 0.0, True
                if nb.name in flags and grade.auto_score is not None:
                    grade.auto_score, grade.needs_manual_grade = 0.0, True  # held for review
            for comment in nb.comments:
                text = comments.get((nb.name, comment.name)) if result.ok else "Autograding failed: see the grading log."
                if nb.name in flags and comment.name in flags[nb.name]:
                    text = "Held for review (tests scored 0 until a grader looks): " + "; ".join(flags[nb.name][comment.name])
                comment.auto_comment = text
            if result.ok:
                nb.late_submission_penalty = penalties.get(nb.name)
            nb.flagged = nb.name in flags or not result.ok
        gb.db.commit()
        result.flags = {f"{nb}/{cell}": why for nb, cells in flags.items() for cell, why in cells.items()}
        try:
            subm = gb.find_submission(assignment, result.student)
            result.scores = {g.name: g.score for nb in subm.notebooks for g in nb.grades}
        except MissingEntry:
            pass


def _records_path(root: Path, assignment: str, student: str) -> Path:
    """Where a submission's records are kept for the judge (instructor side, never in a sandbox)."""
    return root / "grading-records" / assignment / f"{student}.jsonl"


def _apply_verdicts(root: Path, assignment: str, result: Result, verdicts: dict[str, dict] | None) -> None:
    """Replace the kernel's scores of the judged tests cells by the judge's verdicts (instructor side)."""
    import nbformat
    from nbgrader.api import Gradebook

    from tools.judge import judged_cells
    source = root / "solutions" / assignment / f"{assignment}.ipynb"
    judged = set(judged_cells(nbformat.read(source, as_version=4))) if source.is_file() else set()
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        sub = gb.find_submission(assignment, result.student)
        for nb in sub.notebooks:
            for grade in nb.grades:
                if grade.name not in judged or grade.auto_score is None:
                    continue
                if not result.ok or grade.needs_manual_grade:  # failed as a whole, or held for review: stays 0
                    grade.auto_score = 0.0
                    continue
                if verdicts is None:  # the judge itself failed: 0, and ask a human
                    grade.auto_score, grade.needs_manual_grade = 0.0, True
                    continue
                verdict = verdicts.get(grade.name, {"passed": False})
                grade.auto_score = float(grade.max_score) if verdict.get("passed") else 0.0
        gb.db.commit()
        subm = gb.find_submission(assignment, result.student)
        result.scores = {g.name: g.score for nb in subm.notebooks for g in nb.grades}
        result.verdicts = verdicts


class CourseSideFailure(RuntimeError):
    """The instructor's own solution does not get full marks in the sandbox: nothing is graded."""


def _write_canary(root: Path, assignment: str, folder: Path) -> Path:
    """The student release with the instructor's answers (no hidden test), as a submission folder."""
    import nbformat
    source = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", c.source)
               for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(root / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    nbformat.write(nb, folder / f"{assignment}.ipynb")
    return folder


def _canary_problem(root: Path, assignment: str, result: Result, tmp: Path) -> str:
    """Why the instructor's solution failed in the sandbox ('' when it ran without an error and passed)."""
    import nbformat
    try:
        (root / "grading-logs" / assignment / f"{CANARY}.log").write_text(result.log)
        if not result.ok:
            tail = result.log.strip().splitlines()[-1:] or ["no output"]
            return f"the instructor's solution could not be graded in the sandbox ({tail[0][:300]})"
        graded = tmp / "autograded" / CANARY / assignment / f"{assignment}.ipynb"
        nb = nbformat.read(graded, as_version=4)
        for i, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return (f"the instructor's solution raised {out.get('ename')} in cell {i} "
                            f"({str(out.get('evalue', ''))[:300]})")
        verdicts = json.loads((tmp / VERDICTS_FILE).read_text())
        failed = sorted(g for g, v in verdicts.items() if not v.get("passed"))
        if failed:
            return f"the instructor's solution failed the hidden tests of {failed}"
        return ""
    except (OSError, ValueError) as exc:
        return f"the instructor's solution left no graded notebook or verdicts ({type(exc).__name__})"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def autograde(assignment: str, students: list[str] | None = None, jobs: int = 1,
              root: Path | None = None, timeout: int | None = None, quiet: bool = False,
              cell_timeout: int | None = None, memory_gb: float | None = None) -> list[Result]:
    """Autograde submissions one sandbox each (``jobs`` at a time); import scores serially.

    Logs go to grading-logs/<assignment>/<student>.log. A submission whose
    grading fails as a whole gets 0 on every cell and is flagged for a human.
    """
    root = root or course_root()
    timeout = timeout or SUBMISSION_TIMEOUT_S
    cell_timeout = cell_timeout or CELL_TIMEOUT_S
    memory_gb = memory_gb or MEMORY_LIMIT_GB
    if not (root / "gradebook.db").is_file():
        raise RuntimeError("no gradebook.db: run `python -m tools.grading release ASSIGNMENT` first")
    if not (root / "solutions" / assignment / f"{assignment}.ipynb").is_file():
        raise RuntimeError(f"solutions/{assignment}/{assignment}.ipynb is missing: the judge computes the "
                           "hidden tests' verdicts from the instructor's notebook (see docs/instructor.md)")
    available = sorted(p.parent.name for p in (root / "submitted").glob(f"*/{assignment}") if p.is_dir())
    students = [s for s in (students or available) if s in available]
    logs = root / "grading-logs" / assignment
    logs.mkdir(parents=True, exist_ok=True)
    graded: list[tuple[Result, Path]] = []
    canary_dir = Path(tempfile.mkdtemp(prefix="canary-", dir=setting("COURSE_GRADING_TMP")))
    try:
        _write_canary(root, assignment, canary_dir)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            canary = pool.submit(_grade_in_sandbox, root, assignment, CANARY, timeout, cell_timeout, memory_gb,
                                 canary_dir)
            futures = [pool.submit(_grade_in_sandbox, root, assignment, s, timeout, cell_timeout, memory_gb)
                       for s in students]
            problem = _canary_problem(root, assignment, *canary.result())
            if problem:
                for future in futures:
                    future.cancel()
            for future in as_completed([f for f in futures if not f.cancelled()]):
                graded.append(future.result())
        if problem:
            raise CourseSideFailure(
                f"Autograding of {assignment} stopped: {problem}. This is a failure on the course's side "
                "(data, cache, a setup cell or the sandbox), not the students': no grade was changed. "
                f"Fix it and run autograde again (log: grading-logs/{assignment}/{CANARY}.log).")
        results = []
        for result, tmp in graded:  # every grade is imported only once the course is known to work
            _import_scores(root, assignment, result, tmp)
            (logs / f"{result.student}.log").write_text(result.log)
            results.append(result)
    finally:
        shutil.rmtree(canary_dir, ignore_errors=True)
        for _, tmp in graded:
            shutil.rmtree(tmp, ignore_errors=True)
    for result in results:
        _apply_verdicts(root, assignment, result, result.verdicts)
        if not quiet:
            total = sum(v for v in result.scores.values() if v is not None)
            note = "" if result.ok else "  GRADING FAILED (0, flagged)"
            note += f"  held for review: {sorted(result.flags)}" if result.flags else ""
            limit, share = result.closest_limit
            print(f"{result.student:>20}: {total:5.1f} points in {result.seconds:5.1f} s "
                  f"(slowest cell {result.slowest_cell:.1f} s; closest to a limit: {share:.0%} of {limit}){note}",
                  flush=True)
    return sorted(results, key=lambda r: r.student)
