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


def lesson_stamp(name: str) -> Path:
    """The file that says lesson ``name`` ran to its end against this version of the cache.

    ``tools.course prepare`` writes one after each lesson it executes, so a setup cell
    can tell a cached lesson from one still to be trained while the rest of the cache fills.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    from helpers.cache import cache_dir, code_fingerprint

    return cache_dir() / f"lesson-{name}-{code_fingerprint()}.done"


def remaining_seconds(cold: dict[str, float], names: list[str], index: int,
                      spent: float, elapsed: float) -> tuple[float, float]:
    """Seconds a ``prepare`` still needs, and its pace, re-estimated from its progress so far.

    ``cold`` holds the reference cold seconds per lesson (``reports/timing.json``),
    ``names[index]`` is the lesson executing for ``spent`` seconds, and ``elapsed``
    seconds have passed since ``prepare`` started. The pace is the time taken so far
    over the reference time of the same work (the lessons done, plus the current one
    up to its reference time): on a machine twice as busy it is 2 and the time left
    doubles; a lesson that overruns its reference raises the pace as it goes, so the
    estimate grows instead of sticking at the next lessons' sum.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    ref_now = cold.get(names[index], 0.0)
    done = sum(cold.get(n, 0.0) for n in names[:index]) + min(spent, ref_now)
    pace = elapsed / done if done >= 30 else 1.0  # too little done yet to judge the machine
    here = max(ref_now - spent / pace, 0.0)
    after = sum(cold.get(n, 0.0) for n in names[index + 1:])
    return (here + after) * pace, pace


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
    left_s: float         # estimated seconds left (:func:`remaining_seconds`)
    pace: float           # time taken so far / the reference cold time of the same work
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
        try:
            filled = any(Path(status.get("cache", "")).iterdir())
        except OSError:
            filled = False
        if filled:
            return ("course cache: not prepared (it holds what earlier runs trained; `make prepare` or "
                    "`python -m tools.course prepare` fills the rest)")
        return ("course cache: empty (nothing prepared yet; `make prepare` or "
                "`python -m tools.course prepare` fills it)")
    where = (f"lesson {status.get('lesson_index', 0) + 1}/{status.get('lessons', '?')} {status.get('lesson', '')}, "
             + (f"cell {status['cell'] + 1}/{status['cells']}" if status.get("cells") else "starting its kernel"))
    end = time.time() if status["state"] == "running" else status.get("updated", 0)
    elapsed = minutes(end - status.get("started", end))
    if status["state"] == "running":
        pace = status.get("pace") or 1.0
        slower = f", running {pace:.1f}x slower than the timing report" if pace >= 1.3 else ""
        left = f", about {minutes(status['left_s'])} left{slower}" if status.get("left_s") else ""
        shown = f"log {status['log']}" if status.get("log") else "progress in the terminal running `make prepare`"
        return f"course cache: filling in the background ({where}; {elapsed} so far{left}; {shown})"
    what = "failed" if status["state"] == "failed" else "stopped"
    return (f"course cache: the background prepare {what} at {where} after {elapsed}"
            + (f" ({status['error']})" if status.get("error") else "")
            + "; `make prepare` resumes it (what is cached is kept)")


def cache_line(lesson: str | None = None) -> str | None:
    """In a lesson folder while the cache is not prepared: what is filling it and how long this lesson takes.

    ``None`` outside a lesson folder or once ``prepare`` has run (then every lesson is warm).
    The times come from the committed ``reports/timing.json``, whose cold runs went in
    lesson order into one cache: a lesson opened before the lessons ahead of it are
    cached may also train what they would have (it then takes up to their cold time
    too), and a lesson a ``prepare`` already ran (:func:`lesson_stamp`) takes its warm time.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    lesson = lesson or Path.cwd().name
    try:
        names = lessons()
        if lesson not in names:
            return None
        status = prepare_status()
        if status["state"] == "prepared":
            return None
        ran = lesson_stamp(lesson).is_file()
        missing = [n for n in names[:names.index(lesson)] if not lesson_stamp(n).is_file()]
    except (OSError, ValueError):
        return None
    try:
        report = json.loads(TIMING_COMMITTED.read_text())["lessons"]
        cold, warm = report[lesson]["cold"]["seconds"], report[lesson]["warm"]["seconds"]
        before = sum(report[n]["cold"]["seconds"] for n in missing)
    except (OSError, ValueError, KeyError, TypeError):
        cost = "this lesson trains what is not cached yet itself (slower the first time)"
    else:
        if ran:
            cost = f"this lesson is cached (the prepare ran it): about {minutes(warm)} on a 2-core CPU"
        elif missing and minutes(cold + before) != minutes(cold):
            them = f"lesson {missing[0][:2]}" if len(missing) == 1 else f"lessons {missing[0][:2]}-{missing[-1][:2]}"
            cost = (f"this lesson takes between {minutes(cold)} and {minutes(cold + before)} on a 2-core CPU "
                    f"while its results are not cached (the more of what {them} would have cached it "
                    f"trains itself, the longer) and about {minutes(warm)} once they are")
        else:
            cost = (f"this lesson takes about {minutes(cold)} on a 2-core CPU while its results are not "
                    f"cached (the first run trains them) and about {minutes(warm)} once they are")
    return f"{describe_status(status)}. Meanwhile {cost}."
