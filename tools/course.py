"""The course command: ``python -m tools.course {prepare,workspace,release,timing,lessons}``.

- ``prepare``: check (or download) the data, execute every lesson once so the
  cache holds every sweep and pretrained model, then confirm the course runs
  offline, printing which lesson and cell runs, how many are left and the
  elapsed time. What a workshop presenter runs the night before.
  ``prepare --background`` (what ``make course`` runs) starts the same work as
  a detached, low-priority process writing to ``<cache>/prepare.log`` and
  ``<cache>/prepare-status.json``, and returns at once: JupyterLab opens while
  the cache fills, and a lesson computes whatever is still missing itself.
- ``status``: what the background ``prepare`` is doing (or whether the cache is ready).
- ``check-data``: check (or download) the data only.
- ``workspace``: copy the student release (``notebooks/``) into the ignored
  ``workspace/`` folder, never overwriting a file a learner already has.
- ``release``: regenerate ``notebooks/`` from ``solutions/`` with nbgrader
  (:func:`tools.grading.release`, without the exchange).
- ``timing``: print the timing report written by the lesson tests.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from helpers import REPO_ROOT
# What a lesson's setup cell reads (the status file, the prepared stamp) is defined in the library.
from helpers.course_state import (REPORTS, SOLUTIONS, TIMING_COMMITTED, PrepareStatus, describe_status,
                                  lesson_stamp, lessons, minutes, prepare_status, prepared_stamp,
                                  remaining_seconds, write_status)
from tools import grading

RELEASE = REPO_ROOT / "notebooks"
WORKSPACE = REPO_ROOT / "workspace"
TIMING_LATEST = REPORTS / "timing-latest.json"


# ----------------------------------------------------------------------- lessons
def lesson_title(name: str, root: Path = SOLUTIONS) -> str:
    """The first heading of a lesson's first markdown cell."""
    nb = json.loads((root / name / f"{name}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).strip().splitlines()[0]
            return first.lstrip("# ").strip()
    return name


# --------------------------------------------------------------------- executing
def _seconds(meta: dict) -> float | None:
    start, end = meta.get("iopub.execute_input"), meta.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def execute_notebook(path: Path, timeout: int = 600, env: dict[str, str] | None = None,
                     allow_errors: bool = False,
                     on_cell: Callable[[int, int, Any], None] | None = None) -> dict[str, Any]:
    """Execute a notebook top to bottom in its own folder; return timings and the executed notebook.

    ``on_cell(index, total, cell)`` is called before each cell runs (``prepare``'s progress).

    Returns ``{"seconds", "slowest_cell", "slowest_seconds", "peak_mib", "cells", "notebook"}``.
    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell
    unless ``allow_errors``.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old_env = dict(os.environ)
    os.environ.update(env or {})
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(Path(path).parent)}})
    peak: list[float | None] = [None]
    start = time.perf_counter()
    try:
        with client.setup_kernel():
            pid = getattr(getattr(client.km, "provisioner", None), "process", None)
            pid = getattr(pid, "pid", None)
            try:
                for index, cell in enumerate(nb.cells):
                    if on_cell is not None:
                        on_cell(index, len(nb.cells), cell)
                    client.execute_cell(cell, index)
            finally:
                peak[0] = _peak_rss_mib(pid) if pid else None
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    total = time.perf_counter() - start
    cells = [(i, _seconds(c.metadata.get("execution", {})) or 0.0) for i, c in enumerate(nb.cells)
             if c.cell_type == "code"]
    slow_i, slow_s = max(cells, key=lambda t: t[1]) if cells else (None, 0.0)
    return {"seconds": round(total, 1), "slowest_cell": slow_i, "slowest_seconds": round(slow_s, 1),
            "peak_mib": round(peak[0]) if peak[0] else None, "cells": cells, "notebook": nb}


# ------------------------------------------------------------------------ report
def write_timing(name: str, phase: str, result: dict[str, Any], path: Path = TIMING_LATEST) -> None:
    """Record one execution (phase 'cold' or 'warm') of a lesson in the timing report."""
    report = json.loads(path.read_text()) if path.is_file() else {}
    report.setdefault("machine", f"{os.cpu_count()} CPU cores, {sys.platform}")
    entry = report.setdefault("lessons", {}).setdefault(name, {})
    entry[phase] = {k: result[k] for k in ("seconds", "slowest_cell", "slowest_seconds", "peak_mib")}
    report["written"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


CURVES_LATEST = REPORTS / "transfer_curves-latest.json"


def write_curves_report(path: Path = CURVES_LATEST) -> Path:
    """Lesson 04's comparison tables, read from the course cache, as ``reports/transfer_curves-latest.json``.

    Called after lesson 04 executes (the tests, ``make bench``), so that no lesson cell writes into the
    repository and a lesson runs unchanged from a read-only checkout.
    """
    from helpers.experiments import curves

    return curves.write_report(curves.report(progress=False), path)


def timing_table(path: Path = TIMING_COMMITTED) -> str:
    """The README's lesson table, rendered from a timing report."""
    report = json.loads(path.read_text())
    rows = ["| lesson | what it teaches | cold s | warm s | slowest cell (warm) s | peak memory MiB |",
            "|---|---|---:|---:|---:|---:|"]
    for name in lessons():
        t = report.get("lessons", {}).get(name, {})
        cold, warm = t.get("cold", {}), t.get("warm", {})
        rows.append(f"| `{name}` | {lesson_title(name)} | {cold.get('seconds', '—')} | "
                    f"{warm.get('seconds', '—')} | {warm.get('slowest_seconds', '—')} | "
                    f"{max(cold.get('peak_mib') or 0, warm.get('peak_mib') or 0) or '—'} |")
    return "\n".join(rows)


def validation_problems(nb, expect_pass: bool = True, ignore_checksums: bool = False) -> dict:
    """nbgrader's validator verdict on an already executed notebook (no second execution).

    Returns nbgrader's result dict: empty when the notebook validates; with
    ``expect_pass=False`` (nbgrader's ``--invert``) it lists graded cells that pass.
    ``ignore_checksums`` for a notebook graded in the sandbox, whose tests cells
    ran without their hidden part (nbgrader would only say they "changed").
    """
    import tempfile

    import nbformat
    from nbgrader.preprocessors import CheckCellMetadata
    from nbgrader.validator import Validator

    validator = Validator(invert=not expect_pass, ignore_checksums=ignore_checksums)
    validator.preprocessors = [CheckCellMetadata]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "executed.ipynb"
        nbformat.write(nb, path)
        return validator.validate(str(path))


def mark_prepared(seconds: dict[str, float]) -> Path:
    """Record that every lesson executed against the current cache (what ``prepare`` checks)."""
    stamp = prepared_stamp()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(seconds, indent=2))
    return stamp


def _rewrite_block(path: Path, marker: str, body: str) -> None:
    """Replace what lies between ``<!-- marker...-->`` and ``<!-- /marker -->`` in ``path`` with ``body``."""
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- {marker}", f"<!-- /{marker} -->"
    head, rest = text.split(start, 1)
    marker_line, _, tail = rest.partition("\n")
    _, _, after = tail.partition(end)
    path.write_text(f"{head}{start}{marker_line}\n{body}\n{end}{after}", encoding="utf-8")


def update_readme(readme: Path = REPO_ROOT / "README.md", report: Path = TIMING_COMMITTED) -> None:
    """Rewrite the README's lesson table (between its lesson-table markers) from a timing report."""
    _rewrite_block(readme, "lesson-table", timing_table(report))


def update_settings_table(guide: Path = REPO_ROOT / "docs" / "instructor.md") -> None:
    """Rewrite the instructor guide's table of ``COURSE_*`` variables (between its settings-table markers)."""
    from helpers.env import markdown_table

    _rewrite_block(guide, "settings-table", markdown_table())


# ----------------------------------------------------------------------- prepare
LOG_FILE = "prepare.log"


def check_data() -> int:
    """Check every registered data file (MD5), downloading what is missing; 0 when all are there.

    The first step of ``prepare`` and of ``make course`` (which opens JupyterLab only after it).
    """
    from helpers.data import DataError, check_all, download, registry

    missing = {p: s for p, s in check_all().items() if not s.startswith("ok")}
    for name, info in registry().items():
        if any(f["path"] in missing for f in info["files"]):
            print(f"{name}: not found locally, downloading...", flush=True)
            try:
                download(name)
            except (DataError, OSError, Exception) as exc:  # offline, server down...
                print(f"Could not download {name}: {exc}\n{missing[info['files'][0]['path']]}")
                return 1
    print("data: every registered file present and MD5-checked", flush=True)
    return 0


def cold_seconds(path: Path = TIMING_COMMITTED) -> dict[str, float]:
    """Each lesson's cold seconds from the committed timing report (empty when there is none)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {name: t["cold"]["seconds"] for name, t in report.get("lessons", {}).items()
            if isinstance(t.get("cold", {}).get("seconds"), (int, float))}


def prepare(force: bool = False, log: Path | None = None) -> int:
    """Check data, execute every lesson once (fills the cache), confirm offline readiness.

    Prints (and records in the status file) which lesson and cell runs, how many
    lessons are left, the elapsed time and the time left by the committed cold timings.
    """
    from helpers.cache import cache_dir

    if check_data() != 0:
        return 1
    stamp = prepared_stamp()
    if stamp.is_file() and not force:
        print(f"cache: already prepared for this version of the course ({stamp.name}); "
              "`python -m tools.course prepare --force` redoes it")
        return 0
    names, cold = lessons(), cold_seconds()
    status: PrepareStatus = {"state": "running", "pid": os.getpid(), "started": time.time(),
                              "lessons": len(names), "log": str(log) if log else None}
    total_cold = sum(cold.get(n, 0.0) for n in names)
    print(f"filling the cache: {len(names)} lessons"
          + (f", about {minutes(total_cold)} cold on 2 CPU cores (reports/timing.json)" if total_cold else ""),
          flush=True)
    done: dict[str, float] = {}
    for i, name in enumerate(names):
        lesson_start = time.time()
        left_s, pace = remaining_seconds(cold, names, i, 0.0, lesson_start - status["started"])
        status.update(lesson=name, lesson_index=i, cell=0, cells=0, left_s=left_s, pace=pace)
        print(f"[{i + 1}/{len(names)}] {name}: executing ({len(names) - i - 1} lesson(s) after it; "
              f"{minutes(time.time() - status['started'])} elapsed"
              + (f", about {minutes(left_s)} left" if cold else "") + ")", flush=True)
        last = [time.time(), ""]

        def progress(index: int, total: int, cell: Any, i: int = i) -> None:
            now = time.time()
            if last[1] and now - last[0] >= 5:  # name the slow cells, not every one
                print(f"    cell {last[1]} took {now - last[0]:.0f} s "
                      f"({minutes(now - status['started'])} elapsed)", flush=True)
            first = next((ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")), "")
            last[:] = [now, f"{index + 1}/{total} `{first[:60]}`" if cell.cell_type == "code" else ""]
            left_s, pace = remaining_seconds(cold, names, i, now - lesson_start, now - status["started"])
            status.update(cell=index, cells=total, left_s=left_s, pace=pace)
            write_status(status)

        write_status(status)
        try:
            result = execute_notebook(SOLUTIONS / name / f"{name}.ipynb", timeout=1200, on_cell=progress)
        except KeyboardInterrupt:
            write_status({**status, "state": "stopped"})
            raise
        except Exception as exc:
            write_status({**status, "state": "failed", "error": f"{type(exc).__name__}: {str(exc)[-300:]}"})
            print(f"{name} failed: {exc}", flush=True)
            return 1
        done[name] = result["seconds"]
        lesson_stamp(name).write_text(json.dumps({"seconds": result["seconds"]}))  # its setup cell: cached
        print(f"  {name}: {result['seconds']:.0f} s  ({minutes(time.time() - status['started'])} elapsed, "
              f"{len(names) - i - 1} lesson(s) left)", flush=True)
    mark_prepared(done)
    write_status({**status, "state": "done", "left_s": 0})
    print("ready: the course now runs offline from the cache in", cache_dir(), flush=True)
    return 0


def prepare_in_background() -> int:
    """Start ``prepare`` as a low-priority process logging to ``<cache>/prepare.log``; return at once.

    ``make course`` runs this after the data check, then opens JupyterLab. Nothing is
    started when the cache is already prepared or a ``prepare`` is already running.
    The process stays in the caller's process group, so stopping the course (Ctrl-C,
    or a test ending ``make course``) stops it too; the next ``make course`` resumes it.
    """
    from helpers.cache import cache_dir

    status = prepare_status()
    if status["state"] in ("prepared", "running"):
        print(describe_status(status))
        return 0
    log = cache_dir() / LOG_FILE
    log.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.BELOW_NORMAL_PRIORITY_CLASS  # type: ignore[attr-defined]
    else:
        kwargs["preexec_fn"] = lambda: os.nice(10)  # the learner's own kernel comes first
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-u", "-m", "tools.course", "prepare", "--log", str(log)],
                                cwd=REPO_ROOT,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
    names, cold = lessons(), cold_seconds()
    total = sum(cold.get(n, 0.0) for n in names)
    print(f"course cache: empty or incomplete, so `prepare` now fills it in the background (pid {proc.pid}, "
          f"low priority{f', about {minutes(total)} on 2 CPU cores' if total else ''}); progress: "
          f"{log} or `python -m tools.course status`. Meanwhile every lesson trains what is not "
          "cached yet itself.", flush=True)
    return 0


LAB_SETTINGS = REPO_ROOT / "jupyterlab-settings" / "overrides.json"


def install_lab_settings(prefix: Path = Path(sys.prefix)) -> Path:
    """Install the course's JupyterLab defaults (no news pop-up, no update check) into this environment.

    JupyterLab reads ``<prefix>/share/jupyter/lab/settings/overrides.d/*.json`` as defaults that a
    learner can still change. ``make setup`` runs it (``python -m tools.course lab-settings``).
    """
    target = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "transfer-learning-medicine.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    json.loads(LAB_SETTINGS.read_text())  # refuse to install a broken file
    shutil.copy(LAB_SETTINGS, target)
    return target


def workspace(dest: Path = WORKSPACE) -> list[Path]:
    """Copy the student release into ``dest``; never overwrite what is there. Returns the new files."""
    copied, kept = [], 0
    for src in sorted(RELEASE.rglob("*")):
        if src.is_dir() or ".ipynb_checkpoints" in src.parts:
            continue
        target = dest / src.relative_to(RELEASE)
        if target.exists():
            kept += target.suffix == ".ipynb"  # the learner's copy of a released lesson (checkpoints not counted)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        copied.append(target)
    print(f"workspace {dest}: {len(copied)} new file(s) copied, {kept} existing notebook(s) kept as they are")
    return copied


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="check data, fill the cache, confirm offline readiness")
    p.add_argument("--force", action="store_true", help="execute every lesson even if the cache is prepared")
    p.add_argument("--background", action="store_true",
                   help="start it as a low-priority background process (log in the cache folder) and return")
    p.add_argument("--log", type=Path, help=argparse.SUPPRESS)  # where the background process's output goes
    sub.add_parser("status", help="what the background prepare is doing, or whether the cache is prepared")
    sub.add_parser("check-data", help="check (or download) the data only")
    sub.add_parser("workspace", help="copy notebooks/ into workspace/ without overwriting")
    sub.add_parser("release", help="regenerate notebooks/ from solutions/ (nbgrader generate_assignment)")
    t = sub.add_parser("timing", help="print the timing report")
    t.add_argument("--committed", action="store_true", help="the committed reports/timing.json")
    sub.add_parser("lessons", help="list the lessons")
    sub.add_parser("lab-settings", help="install the course's JupyterLab defaults (no news pop-up) in this environment")
    sub.add_parser("readme", help="copy reports/timing-latest.json to reports/timing.json and "
                                  "rewrite README's lesson table from it (and the guide's table of COURSE_* variables)")
    args = parser.parse_args(argv)
    if args.cmd == "prepare":
        return prepare_in_background() if args.background and not args.force else prepare(args.force, args.log)
    if args.cmd == "check-data":
        return check_data()
    if args.cmd == "status":
        print(describe_status(prepare_status()))
    if args.cmd == "workspace":
        workspace()
    elif args.cmd == "release":
        grading.release(root=REPO_ROOT, to_exchange=False)
    elif args.cmd == "timing":
        path = TIMING_COMMITTED if args.committed or not TIMING_LATEST.is_file() else TIMING_LATEST
        print(f"timing report {path} ({json.loads(path.read_text()).get('written', '')}):")
        print(timing_table(path))
    elif args.cmd == "readme":
        if TIMING_LATEST.is_file():
            shutil.copy(TIMING_LATEST, TIMING_COMMITTED)
        update_readme()
        update_settings_table()
        print(f"README.md lesson table rewritten from {TIMING_COMMITTED}; docs/instructor.md's variables from helpers.env")
    elif args.cmd == "lab-settings":
        print(f"JupyterLab defaults installed: {install_lab_settings()}")
    elif args.cmd == "lessons":
        for name in lessons():
            print(f"{name}: {lesson_title(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
