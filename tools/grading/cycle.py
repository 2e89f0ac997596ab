"""The nbgrader cycle: the one nbgrader runner, release, collect (exchange or LMS zip), due dates,
feedback (exchange and LMS students) and the grades export."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from helpers import REPO_ROOT

from tools.grading.settings import _venv_path, course_root
from helpers.course_state import lessons
from helpers.env import setting


def nbgrader(*args: str, root: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` with the course config, for the course rooted at ``root`` (default :func:`course_root`).

    nbgrader reads its config from the working folder only: a root without one
    gets a copy of the repository's ``nbgrader_config.py``. Raises RuntimeError
    with nbgrader's output when it fails (unless ``check=False``).
    """
    root = Path(root or course_root())
    config = root / "nbgrader_config.py"
    if not config.is_file():
        shutil.copy(REPO_ROOT / "nbgrader_config.py", config)
    env = {**os.environ, "COURSE_ROOT": str(root)}
    env["PATH"] = _venv_path(env.get("PATH", ""))
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


# ----------------------------------------------------------------- simple steps
def release(assignment: str | None = None, root: Path | None = None, to_exchange: bool = True) -> list[str]:
    """Generate the student version (``notebooks/<lesson>/``) of one assignment, or of every lesson.

    ``to_exchange`` (``python -m tools.grading release A``): also record the
    assignment in gradebook.db and release it to the nbgrader exchange. Without
    it (``python -m tools.course release``, ``make release``) only ``notebooks/``
    is written, and no gradebook is created. Returns the assignments generated.
    """
    root = Path(root or course_root())
    names = [assignment] if assignment else lessons()
    for name in names:
        nbgrader("generate_assignment", name, "--force", *([] if to_exchange else ["--no-db"]), root=root)
        print(f"generated {root / 'notebooks' / name}", flush=True)
    if to_exchange:
        exchange = Path(setting("COURSE_EXCHANGE") or root / "exchange")
        exchange.mkdir(parents=True, exist_ok=True)
        exchange.chmod(0o777)  # nbgrader's exchange must be writable by every student
        for name in names:
            nbgrader("release_assignment", name, "--force", root=root)
    return names


def lms_regexp(assignment: str, root: Path) -> str:
    """Default file-name pattern of an LMS download: ``<student>_<anything>_<notebook>.ipynb``.

    The student id is everything before the first underscore; the notebook
    names come from solutions/<assignment>/, so names with underscores work.
    """
    names = sorted(p.name for p in (root / "solutions" / assignment).glob("*.ipynb"))
    alternatives = "|".join(re.escape(n) for n in names) or r"[^/]+\.ipynb"
    return rf"(?:.*[/\\])?(?P<student_id>[^_/\\]+)_(?:[^/\\]*_)?(?P<file_id>{alternatives})$"


def collect(assignment: str, zip_file: str | None = None, regexp: str | None = None,
            root: Path | None = None) -> None:
    """Collect submissions into submitted/: from the exchange, or from an LMS zip (zip_collect)."""
    root = root or course_root()
    if zip_file is None:
        nbgrader("collect", assignment, "--update", root=root)
        return
    archive = root / "downloaded" / assignment / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    shutil.copy(zip_file, archive / Path(zip_file).name)
    regexp = regexp or lms_regexp(assignment, root)
    nbgrader("zip_collect", assignment, "--force", f"--FileNameCollectorPlugin.named_regexp={regexp}", root=root)
    _stamp_zip_times(assignment, zip_file, regexp, root)


def parse_due(text: str) -> "datetime":
    """A due date with its time zone (ISO 8601, e.g. ``2026-12-01T23:59+01:00`` or ``...Z``), as naive UTC."""
    from datetime import datetime, timezone
    try:
        due = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"due date {text!r} is not ISO 8601: write e.g. 2026-12-01T23:59+01:00") from None
    if due.tzinfo is None:
        raise ValueError(f"due date {text!r} has no time zone: add one, e.g. {text}+00:00 (UTC)")
    return due.astimezone(timezone.utc).replace(tzinfo=None)


def set_due_date(assignment: str, due: str, root: Path | None = None) -> "datetime":
    """Record an assignment's due date in gradebook.db (nbgrader marks later submissions late)."""
    from nbgrader.api import Gradebook
    root = root or course_root()
    when = parse_due(due)
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        gb.update_or_create_assignment(assignment, duedate=when)
    return when


def _stamp_zip_times(assignment: str, zip_file: str, regexp: str, root: Path) -> dict[str, str]:
    """Give every submission collected from an LMS zip a timestamp.txt: the time the zip stores for its file.

    nbgrader's zip_collect keeps none, so without this a zip submission is never late. Zip times carry no
    time zone: they are read in ``COURSE_ZIP_TIMEZONE`` (default UTC). The latest file of a student wins.
    """
    import zipfile
    from datetime import datetime
    from zoneinfo import ZoneInfo
    tz = ZoneInfo(setting("COURSE_ZIP_TIMEZONE"))
    pattern, stamps = re.compile(regexp), {}
    with zipfile.ZipFile(zip_file) as z:
        for info in z.infolist():
            match = pattern.match(info.filename)
            if match:
                when = datetime(*info.date_time, tzinfo=tz).astimezone(ZoneInfo("UTC"))
                student = match.group("student_id")
                stamps[student] = max(stamps.get(student, ""), when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    for student, stamp in stamps.items():
        folder = root / "submitted" / student / assignment
        if folder.is_dir():
            (folder / "timestamp.txt").write_text(stamp)
    return stamps


def feedback(assignment: str, release_to_exchange: bool = True, root: Path | None = None) -> dict[str, list[str]]:
    """Generate HTML feedback in feedback/ and return it to every student; returns who gets it how.

    Students who submitted through the exchange get it there (``nbgrader
    release_feedback``; its errors stop the command). Students collected from
    an LMS zip have no exchange submission to attach feedback to (nbgrader
    would stop on their missing ``submission_secret.txt``): their HTML files go
    into ``feedback-lms/<assignment>.zip``, named ``<student>_<notebook>.html``,
    to upload back through the LMS.
    """
    import zipfile
    root = root or course_root()
    nbgrader("generate_feedback", assignment, "--force", root=root)
    folders = sorted(p for p in (root / "feedback").glob(f"*/{assignment}") if any(p.glob("*.html")))
    exchange = [p.parent.name for p in folders if (p / "submission_secret.txt").is_file()]
    lms = [p.parent.name for p in folders if p.parent.name not in exchange]
    if lms:
        out = root / "feedback-lms" / f"{assignment}.zip"
        out.parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(out, "w") as z:
            for student in lms:
                for html in sorted((root / "feedback" / student / assignment).glob("*.html")):
                    z.write(html, f"{student}_{html.name}")
        print(f"feedback of {len(lms)} LMS-collected student(s) in {out}: upload it through your LMS", flush=True)
    if release_to_exchange and exchange:
        extra = [f"--CourseDirectory.student_id_exclude={','.join(lms)}"] if lms else []
        nbgrader("release_feedback", assignment, *extra, root=root)
        print(f"feedback released through the exchange to {len(exchange)} student(s)", flush=True)
    return {"exchange": exchange, "lms": lms}


def export(to: str = "grades.csv", root: Path | None = None) -> Path:
    """Write every student's scores to a CSV (nbgrader's export)."""
    root = root or course_root()
    out = (root / to) if not Path(to).is_absolute() else Path(to)
    nbgrader("export", f"--CsvExportPlugin.to={out}", root=root)
    return out
