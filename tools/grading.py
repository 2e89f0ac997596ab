"""Instructor commands for one nbgrader cycle, with sandboxed autograding.

    python -m tools.grading release  ASSIGNMENT            generate notebooks/ + release to the exchange
    python -m tools.grading due      ASSIGNMENT WHEN       due date (ISO 8601 with time zone)
    python -m tools.grading collect  ASSIGNMENT [--zip F]  from the exchange, or an LMS zip download
    python -m tools.grading autograde ASSIGNMENT [--student S] [--jobs N]
    python -m tools.grading feedback ASSIGNMENT             generate (and release) feedback
    python -m tools.grading export   [--to grades.csv]
    python -m tools.grading scan     NOTEBOOK               list the tampering patterns in its answers

Why autograde is not plain ``nbgrader autograde``: nbgrader executes a
submission as the instructor, in the course folder, so student code can read
``solutions/`` (the hidden tests) and rewrite ``gradebook.db``. Here every
submission is graded in a throwaway course copy (a temporary folder holding a
copy of the gradebook and of that one submission; no ``solutions/`` notebook),
and its kernel runs inside bubblewrap: only the submission's scratch folder is
writable; the Python installation, ``helpers/``, ``tools/``, the data and the cache are
mounted read-only; the course folder, other submissions, the gradebook and the
network are not there at all; memory, file size and CPU time are capped by
rlimits and each cell by a timeout. No hidden test runs in the kernel: the
executor strips the hidden sections before a tests cell reaches it, and then
runs them itself, outside the sandbox (tools.judge.Judge), calling the
learner's functions in the kernel one execute request at a time and reading
the answer, as plain data, from the reply to that request. The instructor-side
process imports the scores and the verdicts into the real gradebook. See
docs/instructor.md for the guarantee and its limits.

The course's one nbgrader runner (:func:`nbgrader`) and its one ``release``
(also behind ``python -m tools.course release``, which regenerates
``notebooks/`` without the exchange) live here.

Importable inside the sandboxed kernel (``load_ipython_extension`` reports the
kernel's memory and CPU time), so this module imports nothing heavy at the top.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tokenize
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from helpers import REPO_ROOT
from helpers.course_state import lessons

KERNEL_NAME = "course-sandbox"
# Limits: see docs/instructor.md for how they were chosen (measured while grading ran).
CELL_TIMEOUT_S = int(os.environ.get("COURSE_CELL_TIMEOUT", "300"))
MEMORY_LIMIT_GB = float(os.environ.get("COURSE_GRADING_MEMORY_GB", "6"))
SUBMISSION_TIMEOUT_S = int(os.environ.get("COURSE_SUBMISSION_TIMEOUT", "1800"))
CPU_LIMIT_S = int(os.environ.get("COURSE_GRADING_CPU_S", "3600"))
FILE_SIZE_LIMIT_MB = 512
TIMEOUT_GRACE_S = 10  # after an interrupt, a kernel that does not answer within this is killed
USAGE_FILE = ".grading-usage.json"
VERDICTS_FILE = "judge-verdicts.json"  # written by the executor, outside the sandbox (course copy root)
TRANSCRIPT_FILE = "judge-transcript.jsonl"  # what the kernel answered to every call
JUDGE_CALL_TIMEOUT_S = int(os.environ.get("COURSE_JUDGE_CALL_TIMEOUT", "120"))


def course_root() -> Path:
    """The course being graded: ``COURSE_ROOT`` if set, else this repository."""
    return Path(os.environ.get("COURSE_ROOT", REPO_ROOT)).resolve()


def _venv_path(path: str) -> str:
    """PATH with this interpreter's bin/ first (nbgrader runs ``alembic`` from PATH)."""
    return os.pathsep.join([str(Path(sys.executable).parent), *filter(None, path.split(os.pathsep))])


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
        exchange = Path(os.environ.get("COURSE_EXCHANGE", root / "exchange"))
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
    tz = ZoneInfo(os.environ.get("COURSE_ZIP_TIMEZONE", "UTC"))
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


def feedback(assignment: str, release_to_exchange: bool = True, root: Path | None = None) -> None:
    """Generate HTML feedback in feedback/ (and return it to students through the exchange)."""
    root = root or course_root()
    nbgrader("generate_feedback", assignment, "--force", root=root)
    if release_to_exchange:
        nbgrader("release_feedback", assignment, root=root, check=False)


def export(to: str = "grades.csv", root: Path | None = None) -> Path:
    """Write every student's scores to a CSV (nbgrader's export)."""
    root = root or course_root()
    out = (root / to) if not Path(to).is_absolute() else Path(to)
    nbgrader("export", f"--CsvExportPlugin.to={out}", root=root)
    return out


# ------------------------------------------------------------ feedback filter
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HIDDEN_BLOCK = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS\n?", re.S)
WITHHELD = "[output withheld from feedback: it shows part of a hidden test]\n"


def _output_text(out: Any) -> str:
    data = out.get("data", {})
    parts = [out.get("text", ""), out.get("evalue", ""), "\n".join(out.get("traceback", [])),
             data.get("text/plain", ""), data.get("text/html", ""), data.get("text/markdown", "")]
    return _ANSI.sub("", "\n".join(p if isinstance(p, str) else "".join(p) for p in parts))


def strip_hidden_tests(nb: Any) -> Any:
    """The notebook as students may see it in feedback: no hidden test, no output that quotes one.

    Hidden sections are removed from every cell; any output (a traceback of a
    failing hidden assert, or text a submission printed while graded) that
    contains a line of a hidden test is replaced by a short notice. Used by
    the course's feedback command (``FeedbackFilter`` in nbgrader_config.py).
    """
    lines: set[str] = set()
    for cell in nb.cells:
        for block in _HIDDEN_BLOCK.findall(cell.source):
            lines |= {ln.strip() for ln in block.splitlines() if len(ln.strip()) >= 8}
    for cell in nb.cells:
        cell.source = _HIDDEN_BLOCK.sub("", cell.source)
        for i, out in enumerate(cell.get("outputs", [])):
            text = _output_text(out)
            if any(line in text for line in lines):
                from nbformat.v4 import new_output
                cell.outputs[i] = new_output("stream", name="stderr", text=WITHHELD)
    return nb


def _feedback_filter_class() -> type:
    from nbconvert.preprocessors import Preprocessor
    from traitlets import Bool

    class FeedbackFilter(Preprocessor):
        """nbgrader generate_feedback step: strip hidden tests (see strip_hidden_tests)."""

        enabled = Bool(True).tag(config=True)  # nbconvert registers preprocessors disabled by default

        def preprocess(self, nb, resources):  # type: ignore[override]
            return strip_hidden_tests(nb), resources

    FeedbackFilter.__module__ = __name__
    return FeedbackFilter


# ------------------------------------------------------------- tampering scan
_SUSPICIOUS = [
    (r"\bget_ipython\b", "reaches into the IPython kernel"),
    (r"\b__builtins__\b|\bbuiltins\b", "touches builtins"),
    (r"\bsys\s*\.\s*(modules|_getframe|settrace|setprofile|meta_path|path_hooks)\b", "rewires the interpreter"),
    (r"\b(setattr|delattr|vars)\s*\(", "sets attributes dynamically"),
    (r"__(code|globals|dict|class__|subclasses|closure)__", "rewrites code objects or namespaces"),
    (r"\b(exec|eval|compile|__import__)\s*\(", "executes generated code"),
    (r"\bimport\s+(gc|ctypes|importlib|inspect|subprocess|signal|sqlite3)\b"
     r"|\bfrom\s+(gc|ctypes|importlib|inspect|subprocess|signal|sqlite3)\b", "imports an introspection or system module"),
    (r"\bglobals\s*\(\s*\)", "edits the notebook's globals"),
    (r"\bos\s*\.\s*(system|popen|exec\w*|spawn\w*|fork|kill|_exit)\b", "starts or kills processes"),
]


def _code_without_comments(source: str) -> str:
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source


def _module_names(sources: Iterable[str]) -> set[str]:
    """Names bound by import statements anywhere in the notebook (np, metrics, ...)."""
    import ast
    names = {"np", "numpy", "math", "sklearn", "keras", "tf", "sys", "os", "helpers", "tools", "builtins"}
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    names.add((alias.asname or alias.name).split(".")[0])
    return names


def scan_source(source: str, module_names: set[str]) -> list[str]:
    """Reasons why an answer cell looks like it tampers with the grader (empty list: clean)."""
    import ast
    code = _code_without_comments(source)
    reasons = [f"{why}: {m.group(0)!r}" for pat, why in _SUSPICIOUS for m in [re.search(pat, code)] if m]
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return reasons
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if target is not root and isinstance(root, ast.Name) and root.id in module_names:
                reasons.append(f"assigns to a module attribute: {ast.unparse(target)!r}")
        if isinstance(node, (ast.Global, ast.Nonlocal)) and set(node.names) & module_names:
            reasons.append(f"rebinds a module name: {', '.join(node.names)}")
    return reasons


def scan_notebook(nb: Any) -> dict[str, list[str]]:
    """Tampering reasons per answer (solution) cell of a notebook: {grade_id: [reasons]}."""
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    modules = _module_names(sources)
    found = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            reasons = scan_source(cell.source, modules)
            if reasons:
                found[meta.get("grade_id", "?")] = reasons
    return found


# ------------------------------------------------------ the sandboxed kernel
def _bwrap_command(scratch: Path, runtime: Path, kernel_argv: list[str], env: dict[str, str]) -> list[str]:
    """bubblewrap command line: read-only system and course code, writable scratch only."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise RuntimeError("bubblewrap is not installed: `apt-get install bubblewrap` (see docs/instructor.md)")
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--hostname", "grader", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    if os.geteuid() == 0:  # never look like root inside (the mapping still is the caller's)
        cmd += ["--uid", "65534", "--gid", "65534"]
    for top in ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/sbin"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts",
                 "/etc/localtime", "/etc/alternatives", "/etc/passwd", "/etc/group",
                 "/etc/nsswitch.conf", "/etc/mime.types", "/etc/ssl/certs"):
        cmd += ["--ro-bind-try", path, path]
    ro = {Path(sys.base_prefix).resolve(), Path(sys.prefix), REPO_ROOT / "helpers", REPO_ROOT / "tools",
          REPO_ROOT / "datasets"}
    for var in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR"):
        if env.get(var):
            ro.add(Path(env[var]).resolve())
    if not env.get("COURSE_CACHE_DIR"):
        ro.add(REPO_ROOT / ".cache")
    for path in sorted(ro, key=lambda p: len(p.parts)):
        cmd += ["--ro-bind-try", str(path), str(path)]
    # The private /tmp is made read-only after the binds: when the course itself lives under
    # /tmp, the folders bwrap creates there as mount points must not be writable either.
    cmd += ["--bind", str(scratch), str(scratch), "--bind", str(runtime), str(runtime),
            "--remount-ro", "/", "--remount-ro", "/tmp",
            "--chdir", str(scratch), "--clearenv"]  # the skeleton folders too
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--", *kernel_argv]


def _kernel_env(scratch: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "COURSE_DATA_DIR", "COURSE_CACHE_DIR", "TF_CPP_MIN_LOG_LEVEL",
            "TF_ENABLE_ONEDNN_OPTS", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "PYTHONHASHSEED", "KERAS_BACKEND")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    for var in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR"):  # symlinked folders: the sandbox mounts the target
        if env.get(var):
            env[var] = str(Path(env[var]).expanduser().resolve())
    env["PYTHONPATH"] = str(REPO_ROOT)  # the same helpers/ and tools/ as the instructor's process (mounted read-only)
    env.update(HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch / ".matplotlib"),
               KERAS_HOME=str(scratch / ".keras"), IPYTHONDIR=str(scratch / ".ipython"),
               PYTHONDONTWRITEBYTECODE="1", JPY_SESSION_NAME="submission")
    env.setdefault("PATH", "/usr/bin:/bin")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env


def _set_limits() -> None:
    """rlimits of the kernel (inherited through bwrap): memory, CPU, file size, no core dumps."""
    import resource  # Unix only: imported here so that the tests collect on Windows

    mem = int(float(os.environ.get("COURSE_GRADING_MEMORY_GB", MEMORY_LIMIT_GB)) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT_MB * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:  # root is exempt from RLIMIT_NPROC (see docs/instructor.md)
        resource.setrlimit(resource.RLIMIT_NPROC, (4096, 4096))


def kernel_main(connection_file: str, extra: list[str]) -> None:
    """Entry point of the ``course-sandbox`` kernelspec: exec ipykernel inside bubblewrap.

    Only two host folders are writable inside: the kernel's working folder (the
    submission's scratch copy) and the private ipc folder that the grading
    command created (``COURSE_GRADING_IPC_DIR``); the connection file is copied
    there, because jupyter_client writes it to a shared temporary folder.
    """
    scratch = Path.cwd().resolve()
    info = json.loads(Path(connection_file).read_text())
    ipc_dir = Path(os.environ.get("COURSE_GRADING_IPC_DIR", "/nonexistent")).resolve()
    if info.get("transport") != "ipc" or Path(info.get("ip", "")).resolve().parent != ipc_dir:
        raise SystemExit("course-sandbox: start this kernel through `python -m tools.grading autograde` "
                         "(ipc transport in COURSE_GRADING_IPC_DIR)")
    if scratch in (Path("/"), Path.home(), Path(tempfile.gettempdir()).resolve()) or scratch in REPO_ROOT.parents \
            or scratch == REPO_ROOT:
        raise SystemExit(f"course-sandbox: refusing to use {scratch} as the writable folder")
    conn = ipc_dir / ("connection-" + Path(connection_file).name)
    shutil.copyfile(connection_file, conn)
    kernel_argv = [sys.executable, "-m", "ipykernel_launcher", "-f", str(conn),
                   "--IPKernelApp.extensions=tools.grading", *extra]
    cmd = _bwrap_command(scratch, ipc_dir, kernel_argv, _kernel_env(scratch))
    _set_limits()
    os.execv(cmd[0], cmd)


def load_ipython_extension(ip: Any) -> None:  # pragma: no cover - runs inside the kernel
    """Inside the sandboxed kernel: write the kernel's peak memory and CPU time at exit (the bench reads them).

    Nothing else: no hidden test runs in the kernel, so there is no checker to protect there.
    """
    import atexit

    def usage() -> None:
        import resource  # Unix only, like the sandbox that loads this extension

        status = Path("/proc/self/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        used = {k: fields[k].strip() for k in ("VmPeak", "VmHWM") if k in fields}
        used["cpu_s"] = round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1)
        Path(USAGE_FILE).write_text(json.dumps(used))

    atexit.register(usage)


# ------------------------------------------------- nbgrader executor (instructor side)
def _grader_judge(call: Any) -> Any:
    """The judge of the submission being graded (``COURSE_GRADING_SOURCE``), or None when nothing is judged."""
    from tools.judge import Judge, source_of
    path = os.environ.get("COURSE_GRADING_SOURCE")
    if not path:
        return None
    return Judge(source_of(path), call)


def _save_verdicts(judge: Any, verdicts: dict) -> None:
    """Write the verdicts and the transcript of calls beside the course copy (outside the sandbox)."""
    if judge is None:
        return
    root = Path(os.environ.get("COURSE_ROOT", "."))
    (root / VERDICTS_FILE).write_text(json.dumps(verdicts))
    with open(root / TRANSCRIPT_FILE, "w", encoding="utf-8") as f:
        for entry in judge.transcript:
            f.write(json.dumps(entry) + "\n")


def _sandbox_execute_class() -> type:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from tools import judge as _judge
    from tools.judge import strip_hidden
    from nbclient.util import ensure_async, run_sync
    from nbformat.notebooknode import NotebookNode
    from nbgrader.preprocessors import Execute

    def error(ename: str, evalue: str) -> NotebookNode:
        return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                            traceback=[f"{ename}: {evalue}"])

    class SandboxExecute(Execute):
        """nbgrader's Execute that survives a dead or stuck kernel.

        A kernel that dies (os._exit, a crash, the memory cap) or ignores the
        timeout interrupt is killed; that cell and every later code cell get
        an error output (so their tests score 0) and grading goes on.
        """

        def preprocess(self, nb, resources, km=None):  # type: ignore[override]
            self._gone = ""
            self._judge, self._verdicts = _grader_judge(self._call_in_kernel), {}
            try:
                return super().preprocess(nb, resources, km=km)
            finally:
                _save_verdicts(self._judge, self._verdicts)

        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            if cell.cell_type == "code":  # the kernel never sees a hidden test (nbgrader put them back)
                cell.source = strip_hidden(cell.source)
            if self._gone:
                if cell.cell_type == "code" and cell.source.strip():
                    cell.outputs = [error("KernelGone", f"not executed: {self._gone}")]
                self._judge_cell(cell)
                return cell
            start = time.perf_counter()
            try:
                out = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
                if cell.cell_type == "code" and cell.source.strip():
                    self.log.info("[grading] cell %d took %.1f s", cell_index, time.perf_counter() - start)
            except (DeadKernelError, CellTimeoutError) as exc:
                self._gone = self._gone or f"the kernel died in cell {cell_index} ({type(exc).__name__})"
                cell.outputs = list(cell.get("outputs", [])) + [error("DeadKernelError", self._gone)]
                out = cell
            await self._async_judge_cell(cell)
            return out

        def _judge_cell(self, cell) -> dict | None:
            """Verdict of a tests cell whose kernel is gone: 0, with the reason."""
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if self._judge is None or gid not in self._judge.cells:
                return None
            verdict = {"passed": False, "message": f"Hidden tests: 0 points, {self._gone or 'not run'}."}
            self._verdicts[gid] = verdict
            cell.outputs = list(cell.get("outputs", [])) + [error("HiddenTestsFailed", verdict["message"])]
            return verdict

        async def _async_judge_cell(self, cell) -> None:
            """Run the cell's hidden tests here (the grader), calling the student's functions in the kernel."""
            import asyncio
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if self._judge is None or gid not in self._judge.cells:
                return
            if self._gone:
                self._judge_cell(cell)
                return
            self._loop = asyncio.get_running_loop()
            start = time.perf_counter()
            verdict = await self._loop.run_in_executor(None, self._judge.run, gid)
            self.log.info("[grading] hidden tests of %s took %.1f s: %s", gid, time.perf_counter() - start,
                          verdict["message"])
            self._verdicts[gid] = verdict
            if verdict["passed"]:
                cell.outputs = list(cell.get("outputs", [])) + [
                    NotebookNode(output_type="stream", name="stdout", text=verdict["message"] + "\n")]
            else:
                cell.outputs = list(cell.get("outputs", [])) + [error("HiddenTestsFailed", verdict["message"])]

        def _call_in_kernel(self, name: str, request: str) -> str:
            """One call of the student's function (from the judge's thread): the reply to our request only."""
            import asyncio
            if self._gone:
                raise _judge.MalformedAnswer(f"{name}: {self._gone}")
            future = asyncio.run_coroutine_threadsafe(self._async_call(name, request), self._loop)
            return future.result()

        async def _async_call(self, name: str, request: str) -> str:
            import ast as _ast
            expr = f"__import__('tools.judge').judge.serve({name}, {request!r})"
            msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={"r": expr},
                                     allow_stdin=False)
            deadline = time.monotonic() + JUDGE_CALL_TIMEOUT_S
            while True:
                left = deadline - time.monotonic()
                try:
                    if left <= 0:
                        raise TimeoutError
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
                except Exception:
                    await ensure_async(self.km.interrupt_kernel())
                    if not await self._responsive(TIMEOUT_GRACE_S):
                        self._gone = f"{name} did not answer within {JUDGE_CALL_TIMEOUT_S} s; the kernel was killed"
                        await ensure_async(self.km.shutdown_kernel(now=True))
                    raise _judge.MalformedAnswer(f"{name} did not answer within {JUDGE_CALL_TIMEOUT_S} s") from None
                if msg.get("parent_header", {}).get("msg_id") == msg_id:  # the reply to this request, no other
                    break
            content = msg.get("content", {})
            result = content.get("user_expressions", {}).get("r", {})
            if content.get("status") != "ok" or result.get("status") != "ok":
                what = result.get("ename") or content.get("ename") or content.get("status")
                if what == "NameError":
                    raise _judge.MalformedAnswer(f"{name} is not defined in the notebook")
                raise _judge.MalformedAnswer(f"the call of {name} failed in the kernel ({what})")
            try:
                text = _ast.literal_eval(result["data"]["text/plain"])
                if not isinstance(text, str):
                    raise ValueError
            except (ValueError, SyntaxError, KeyError, TypeError, MemoryError, RecursionError):
                raise _judge.MalformedAnswer(f"the answer of {name} could not be read") from None
            return text

        execute_cell = run_sync(async_execute_cell)

        async def _async_handle_timeout(self, timeout, cell=None):
            reply = await super()._async_handle_timeout(timeout, cell)
            if not await self._responsive(TIMEOUT_GRACE_S):
                self._gone = f"the kernel ignored the interrupt after the {timeout} s cell timeout and was killed"
                self.log.error(self._gone)
                await ensure_async(self.km.shutdown_kernel(now=True))
            return reply

        async def _responsive(self, seconds: float) -> bool:
            msg_id = self.kc.kernel_info()
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
                except Exception:
                    return False
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    return True
            return False

    SandboxExecute.__module__ = __name__
    return SandboxExecute


def __getattr__(name: str) -> Any:  # lazy: nbgrader is only needed on the instructor side
    if name in ("SandboxExecute", "FeedbackFilter"):
        cls = _sandbox_execute_class() if name == "SandboxExecute" else _feedback_filter_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


# ----------------------------------------------------------- orchestration
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


_CONFIG = """\
c = get_config()  # noqa: F821
from tools.grading import SandboxExecute
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.Autograde.create_student = True
c.Autograde.autograde_preprocessors = [
    SandboxExecute, "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata"]
c.OverwriteCells.add_missing_cells = True
c.SandboxExecute.kernel_name = {kernel!r}
c.SandboxExecute.timeout = {timeout}
c.SandboxExecute.startup_timeout = 120
c.SandboxExecute.interrupt_on_timeout = True
c.SandboxExecute.raise_on_iopub_timeout = False
c.KernelManager.transport = "ipc"
c.KernelManager.ip = "{runtime}/k"
c.LateSubmissionPlugin.penalty_method = {penalty!r}
"""
LATE_PENALTIES = ("none", "zero")  # nbgrader's LateSubmissionPlugin methods


def _copy_regular(src: Path, dst: Path) -> list[str]:
    """Copy a folder's regular files only (a symlink could point at solutions/). Returns skipped names."""
    skipped = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            skipped.append(str(rel))
        elif path.is_dir():
            (dst / rel).mkdir(parents=True, exist_ok=True)
        elif not any(p.is_symlink() for p in path.parents if src in p.parents):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dst / rel)
    return skipped


def late_penalty() -> str:
    """What a late submission costs: ``COURSE_LATE_PENALTY`` = none (only marked late) or zero."""
    method = os.environ.get("COURSE_LATE_PENALTY", "none")
    if method not in LATE_PENALTIES:
        raise ValueError(f"COURSE_LATE_PENALTY={method!r}: use one of {', '.join(LATE_PENALTIES)}")
    return method


def _grade_in_sandbox(root: Path, assignment: str, student: str, timeout: int,
                      cell_timeout: int, memory_gb: float) -> tuple[Result, Path]:
    """Autograde one submission in a throwaway course copy; return the result and that copy."""
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="cg-", dir=os.environ.get("COURSE_GRADING_TMP")))
    runtime = tmp / "run"
    for sub in ("run", "config", "share/jupyter/kernels/" + KERNEL_NAME, "solutions/" + assignment):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    # The gradebook copy holds the hidden tests: the nbgrader process needs it, the kernel never sees it.
    with sqlite3.connect(root / "gradebook.db") as src, sqlite3.connect(tmp / "gradebook.db") as dst:
        src.backup(dst)
    skipped = _copy_regular(root / "submitted" / student / assignment, tmp / "submitted" / student / assignment)
    for extra in (root / "solutions" / assignment).iterdir():  # instructor's non-notebook files only
        if extra.is_file() and extra.suffix != ".ipynb" and not extra.is_symlink():
            shutil.copyfile(extra, tmp / "solutions" / assignment / extra.name)
    course_id = os.environ.get("COURSE_ID", "transfer-learning-medicine")
    (tmp / "nbgrader_config.py").write_text(_CONFIG.format(
        root=str(tmp), course_id=course_id, kernel=KERNEL_NAME, timeout=cell_timeout, runtime=runtime,
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
        _copy_regular(graded, dest)
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
    results = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_grade_in_sandbox, root, assignment, s, timeout, cell_timeout, memory_gb): s for s in students}
        for future in as_completed(futures):
            result, tmp = future.result()
            try:
                _import_scores(root, assignment, result, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            (logs / f"{result.student}.log").write_text(result.log)
            results.append(result)
    for result in results:
        _apply_verdicts(root, assignment, result, result.verdicts)
        if not quiet:
            total = sum(v for v in result.scores.values() if v is not None)
            note = "" if result.ok else "  GRADING FAILED (0, flagged)"
            note += f"  held for review: {sorted(result.flags)}" if result.flags else ""
            print(f"{result.student:>20}: {total:5.1f} points in {result.seconds:5.1f} s "
                  f"(slowest cell {result.slowest_cell:.1f} s){note}", flush=True)
    return sorted(results, key=lambda r: r.student)


# ------------------------------------------------------------------ benchmark
def bench(n: int = 30, jobs: int = 2, assignment: str = "01_background", keep: bool = False) -> float:
    """Autograde ``n`` synthetic submissions of a lesson in a throwaway course copy; return seconds.

    A third are perfect, a third half right, a third untouched. Run it with a
    warm cache (``make prepare``): it measures grading, not training.
    """
    import nbformat
    tmp = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    root = tmp / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root)
    shutil.copytree(REPO_ROOT / "solutions" / assignment, root / "solutions" / assignment)
    shutil.copytree(REPO_ROOT / "datasets", root / "datasets", ignore=shutil.ignore_patterns("*.npz", "*.zip"))
    os.environ["COURSE_EXCHANGE"] = str(root / "exchange")
    release(assignment, root=root)
    source = nbformat.read(root / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", c.source)
               for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    first = sorted(answers)[:1]
    for i in range(n):
        nb = nbformat.read(root / "notebooks" / assignment / f"{assignment}.ipynb", as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers and (i % 3 == 0 or (i % 3 == 1 and gid in first)):
                cell.source = answers[gid]
        folder = root / "submitted" / f"student{i:03d}" / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")
    start = time.perf_counter()
    results = autograde(assignment, jobs=jobs, root=root)
    seconds = time.perf_counter() - start
    slowest = max(results, key=lambda r: r.seconds)
    peak_mb = max(int(r.usage.get("VmHWM", "0 kB").split()[0]) // 1024 for r in results)
    slowest_cell = max(r.slowest_cell for r in results)
    print(f"{n} submissions of {assignment}, {jobs} at a time: {seconds:.0f} s "
          f"({seconds / n:.1f} s each on average; slowest {slowest.seconds:.0f} s; "
          f"failed: {sum(not r.ok for r in results)}; slowest cell {slowest_cell:.0f} s; "
          f"peak RSS of a kernel {peak_mb} MB)")
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return seconds


# ------------------------------------------------------------------------ CLI
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["kernel"]:  # the kernelspec's entry point
        kernel_main(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m tools.grading", description=__doc__.split("\n\n")[0])
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
    p.add_argument("--jobs", type=int, default=int(os.environ.get("COURSE_GRADING_JOBS", "1")))
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


if __name__ == "__main__":
    sys.exit(main())
