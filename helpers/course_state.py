"""The course's lessons and the state of its cache, as every lesson's setup cell reports it.

Read-only: :func:`helpers.device.setup` (the first cell of every lesson) asks
:func:`prepare_status` whether the cache is prepared or a background
``prepare`` is still filling it, and says so in one line (:func:`describe_status`).
The instructor command ``python -m tools.course`` writes what is read here
(the status file, the prepared stamp) and lists the lessons with :func:`lessons`.
Imports nothing but the standard library at the top.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Literal, TypedDict

from helpers import REPO_ROOT
from helpers.env import setting

SOLUTIONS = REPO_ROOT / "solutions"
REPORTS = REPO_ROOT / "reports"
TIMING_COMMITTED = REPORTS / "timing.json"
STATUS_FILE = "prepare-status.json"
"""Written in the cache folder by a running ``prepare`` (``tools.course``), read by :func:`prepare_status`."""


def lessons() -> list[str]:
    """Lesson names, in order: the folders of ``solutions/`` holding ``<name>.ipynb``.

    ``COURSE_LESSONS=01_background,04_finetune`` restricts commands and tests to those.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    names = sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file())
    only = [n for n in (setting("COURSE_LESSONS") or "").split(",") if n]
    return [n for n in names if n in only] if only else names


def prepared_stamp() -> Path:
    """The file that says every lesson ran against this version of the course's cache. No lesson calls it directly (lessons reach it through other helpers)."""
    from helpers.cache import cache_dir, code_fingerprint

    return cache_dir() / f"prepared-{code_fingerprint()}.json"


def minutes(seconds: float) -> str:
    """A duration as people say it: ``"12 min"`` from 90 s on, else ``"40 s"``. No lesson calls it directly (lessons reach it through other helpers)."""
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (POSIX); on Windows, trust the status file's freshness.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class PrepareStatus(TypedDict, total=False):
    """The status file a running ``prepare`` keeps in the cache folder (:data:`STATUS_FILE`).

    :func:`write_status` writes it (``tools.course.prepare``), :func:`prepare_status`
    reads it (every lesson's setup cell, ``python -m tools.course status``).

    No lesson uses it: tools.course writes it and the setup cell reads it.
    """

    state: Literal["cold", "running", "stopped", "failed", "done", "prepared"]
    cache: str            # the cache folder
    pid: int              # the prepare process
    started: float        # time.time() when prepare started
    updated: float        # time.time() of the last write (a status older than 25 min is stale)
    lessons: int          # how many lessons prepare executes
    lesson: str           # the lesson executing now
    lesson_index: int     # its position, from 0
    cell: int             # the cell executing now, from 0
    cells: int            # code cells in that lesson (0 while its kernel starts)
    left_s: float         # estimated seconds left
    log: str | None       # the background prepare's log file
    error: str            # why it failed


def write_status(status: PrepareStatus) -> Path:
    """Write ``status`` (stamped with ``updated``) atomically: a setup cell never reads half a file.

    No lesson uses it: tools.course calls it.
    """
    from helpers.cache import cache_dir

    unknown = set(status) - set(PrepareStatus.__annotations__)
    if unknown:
        raise ValueError(f"not fields of PrepareStatus: {sorted(unknown)}")
    path = cache_dir() / STATUS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({**status, "updated": time.time()}, indent=1))
    os.replace(tmp, path)
    return path


def prepare_status() -> PrepareStatus:
    """The cache's state, for ``python -m tools.course status`` and every lesson's setup cell.

    ``{"state": "prepared"}``, ``{"state": "running", ...progress}`` (a ``prepare``
    is filling the cache), ``{"state": "stopped"|"failed", ...}`` or ``{"state": "cold"}``.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    from helpers.cache import cache_dir

    if prepared_stamp().is_file():
        return {"state": "prepared", "cache": str(cache_dir())}
    try:
        status = json.loads((cache_dir() / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {"state": "cold", "cache": str(cache_dir())}
    stale = time.time() - status.get("updated", 0) > 1500  # longer than any cell's timeout
    if status.get("state") == "running" and (not process_alive(int(status.get("pid", 0))) or stale):
        status["state"] = "stopped"
    return status


def describe_status(status: PrepareStatus) -> str:
    """One line saying what the cache holds and what a ``prepare`` is doing. No lesson calls it directly (lessons reach it through other helpers)."""
    if status["state"] == "prepared":
        return "course cache: prepared (every lesson reads its trained models from it)"
    if status["state"] == "cold":
        return ("course cache: empty (nothing prepared yet; `make prepare` or "
                "`python -m tools.course prepare` fills it)")
    where = (f"lesson {status.get('lesson_index', 0) + 1}/{status.get('lessons', '?')} {status.get('lesson', '')}, "
             + (f"cell {status['cell'] + 1}/{status['cells']}" if status.get("cells") else "starting its kernel"))
    end = time.time() if status["state"] == "running" else status.get("updated", 0)
    elapsed = minutes(end - status.get("started", end))
    if status["state"] == "running":
        left = f", about {minutes(status['left_s'])} left" if status.get("left_s") else ""
        shown = f"log {status['log']}" if status.get("log") else "progress in the terminal running `make prepare`"
        return f"course cache: filling in the background ({where}; {elapsed} so far{left}; {shown})"
    what = "failed" if status["state"] == "failed" else "stopped"
    return (f"course cache: the background prepare {what} at {where} after {elapsed}"
            + (f" ({status['error']})" if status.get("error") else "")
            + "; `make prepare` resumes it (what is cached is kept)")


def cache_line(lesson: str | None = None) -> str | None:
    """In a lesson folder while the cache is not prepared: what is filling it and how long this lesson takes.

    ``None`` outside a lesson folder or once ``prepare`` has run (then every lesson is warm).
    The lesson's cold and warm times come from the committed ``reports/timing.json``.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    lesson = lesson or Path.cwd().name
    try:
        if lesson not in lessons():
            return None
        status = prepare_status()
    except (OSError, ValueError):
        return None
    if status["state"] == "prepared":
        return None
    try:
        report = json.loads(TIMING_COMMITTED.read_text())["lessons"].get(lesson, {})
        cold, warm = report["cold"]["seconds"], report["warm"]["seconds"]
        cost = (f"this lesson takes about {minutes(cold)} on a 2-core CPU while its results are not "
                f"cached (the first run trains them) and about {minutes(warm)} once they are")
    except (OSError, ValueError, KeyError, TypeError):
        cost = "this lesson trains what is not cached yet itself (slower the first time)"
    return f"{describe_status(status)}. Meanwhile {cost}."
