"""The command line: ``python -m tools.grading`` (see the package docstring)."""
from __future__ import annotations

import argparse
import json
import sys
import time

import tools.grading as _pkg
from tools.grading.batch import autograde
from tools.grading.benchmark import bench
from tools.grading.cycle import collect, export, feedback, release, set_due_date
from tools.grading.sandbox import kernel_main
from tools.grading.scan import scan_notebook
from helpers.env import setting


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["kernel"]:  # the kernelspec's entry point
        kernel_main(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m tools.grading", description=(_pkg.__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("release", help="generate notebooks/ and release to the exchange")
    p.add_argument("assignment")
    p = sub.add_parser("collect", help="collect from the exchange, or from an LMS zip")
    p.add_argument("assignment")
    p.add_argument("--zip", help="LMS download (a zip of notebooks named <student>_..._<notebook>.ipynb)")
    p.add_argument("--regexp", help="FileNameCollectorPlugin.named_regexp for other LMS naming schemes")
    p = sub.add_parser("autograde", help="grade every submission, each in its own sandbox")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="only these students (repeatable)")
    p.add_argument("--jobs", type=int, default=int(setting("COURSE_GRADING_JOBS")))
    p = sub.add_parser("due", help="set an assignment's due date (later submissions are marked late)")
    p.add_argument("assignment")
    p.add_argument("when", help="ISO 8601 with a time zone, e.g. 2026-12-01T23:59+01:00")
    p = sub.add_parser("feedback", help="generate feedback (and release it to the exchange)")
    p.add_argument("assignment")
    p.add_argument("--no-release", action="store_true")
    p = sub.add_parser("export", help="write grades.csv")
    p.add_argument("--to", default="grades.csv")
    p = sub.add_parser("scan", help="show tampering patterns in a notebook's answers")
    p.add_argument("notebook")
    p = sub.add_parser("bench", help="time autograding of N synthetic submissions (warm cache)")
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--assignment", default="01_background")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except RuntimeError as exc:  # a failed nbgrader step, a course-side failure: one message, exit 1
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1


def _run(args: argparse.Namespace) -> int:
    """Carry out one parsed command (see :func:`main`)."""
    if args.cmd == "release":
        release(args.assignment)
    elif args.cmd == "collect":
        collect(args.assignment, args.zip, args.regexp)
    elif args.cmd == "autograde":
        t0 = time.perf_counter()
        results = autograde(args.assignment, args.student, jobs=args.jobs)
        failed = [r.student for r in results if not r.ok]
        print(f"{len(results)} submissions in {time.perf_counter() - t0:.0f} s; "
              f"failed as a whole: {failed or 'none'}; logs in grading-logs/{args.assignment}/")
    elif args.cmd == "due":
        print(f"{args.assignment} due {set_due_date(args.assignment, args.when):%Y-%m-%d %H:%M} UTC")
    elif args.cmd == "feedback":
        feedback(args.assignment, release_to_exchange=not args.no_release)
    elif args.cmd == "export":
        print(export(args.to))
    elif args.cmd == "bench":
        bench(args.n, args.jobs, args.assignment)
    elif args.cmd == "scan":
        import nbformat
        found = scan_notebook(nbformat.read(args.notebook, as_version=4))
        print(json.dumps(found, indent=1) if found else "clean")
        return 1 if found else 0
    return 0
