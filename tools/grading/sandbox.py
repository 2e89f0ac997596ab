"""The sandboxed kernel: bubblewrap command line, environment, rlimits, and its IPython extension."""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from helpers import REPO_ROOT

from tools.grading.settings import CPU_LIMIT_S, FILE_SIZE_LIMIT_MB, MEMORY_LIMIT_GB, USAGE_FILE
from helpers.env import setting


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

    mem = int(float(setting("COURSE_GRADING_MEMORY_GB") or MEMORY_LIMIT_GB) * 2**30)
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
    ipc_dir = Path(setting("COURSE_GRADING_IPC_DIR") or "/nonexistent").resolve()
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
