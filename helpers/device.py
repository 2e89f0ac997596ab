"""One call at the top of every notebook: seeds, quiet TensorFlow, GPU if any.

The setup cell also says, in one line each and only when it matters: that the
installed TensorFlow/Keras/NumPy differ from the course's pins, and, in a lesson
folder while the course cache is not prepared, what a background ``prepare`` is
doing and how long this lesson takes cold (from ``reports/timing.json``; both read
by :mod:`helpers.course_state`).

``python -m helpers.device check-python`` (run by ``make setup`` before it
creates ``.venv``) says whether this interpreter and machine can install the
pinned requirements, and what to use instead; it imports nothing but the
standard library so that it runs on any Python 3.
"""
from __future__ import annotations

import os
import platform
import random
import re
import sys
from pathlib import Path

import helpers  # sets the TensorFlow log variables before TF loads
from helpers.course_state import cache_line

# The Python versions for which every pinned package has a wheel on every supported
# platform (checked with `pip install --dry-run --platform ...`; see README "Platforms").
PYTHONS = ((3, 11), (3, 12), (3, 13))
PINNED_IN_SETUP = ("tensorflow", "keras", "numpy")


def platform_problem(version: tuple[int, int] | None = None, system: str | None = None,
                     machine: str | None = None) -> str | None:
    """Why the pinned requirements cannot install here (``None`` when they can).

    No lesson uses it: ``make setup`` (``python -m helpers.device check-python``) runs it before pip.
    """
    version = version or sys.version_info[:2]
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    supported = ", ".join(f"{a}.{b}" for a, b in PYTHONS)
    if system == "Darwin" and machine in ("x86_64", "amd64", "i386"):
        return ("This is an Intel Mac (macOS x86_64): TensorFlow 2.21 publishes no wheel for it, so the pinned "
                "requirements cannot install. Use an Apple Silicon Mac, a Linux or Windows machine, a JupyterHub "
                "the course runs on, or Google Colab / a Linux VM or container (docs in README, 'Platforms').")
    if system not in ("Linux", "Windows", "Darwin"):
        return f"{system} is not supported: TensorFlow 2.21 has wheels for Linux, Windows and macOS (arm64) only."
    if machine not in ("x86_64", "amd64", "aarch64", "arm64"):
        return f"{system} on {machine} is not supported: TensorFlow 2.21 has wheels for x86_64 and arm64 only."
    if system == "Windows" and machine in ("arm64", "aarch64"):
        return ("Windows on ARM is not supported: TensorFlow 2.21 has no Windows arm64 wheel. "
                "Use WSL2 (Linux aarch64) or another machine.")
    if tuple(version) not in PYTHONS:
        hint = "py -3.11 -m venv .venv" if system == "Windows" else "make setup PYTHON=python3.11"
        return (f"Python {version[0]}.{version[1]} cannot install the pinned requirements (TensorFlow 2.21 and "
                f"NumPy 2.4 have wheels for Python {supported} only). Install Python 3.11 and use it, "
                f"e.g. `{hint}`.")
    return None


def pins(path: Path | None = None, environment: dict[str, str] | None = None) -> dict[str, str]:
    """The pinned versions in ``requirements.txt`` that apply to this platform, by package name.

    ``environment`` overrides marker variables (e.g. ``{"sys_platform": "darwin",
    "platform_machine": "arm64"}``) to read the pins of another platform.

    No lesson calls it directly (lessons reach it through other helpers).
    """
    path = path or helpers.REPO_ROOT / "requirements.txt"
    found: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^;\s#]+)\s*(?:;\s*([^#]+))?", line)
        if not m:
            continue
        marker = m.group(3)
        if marker:
            try:
                from packaging.markers import Marker

                if not Marker(marker.strip()).evaluate(environment):
                    continue
            except Exception:  # no packaging module, or an odd marker: keep the pin
                pass
        name = m.group(1).lower().replace("_", "-")
        found["tensorflow" if name.startswith("tensorflow") else name] = m.group(2)
    return found


def version_warning(installed: dict[str, str], pinned: dict[str, str] | None = None) -> str | None:
    """One line naming the packages whose installed version differs from the pin (``None`` if all match).

    No lesson calls it directly (lessons reach it through other helpers).
    """
    pinned = pins() if pinned is None else pinned
    odd = [f"{name} {installed[name]} (course pins {pinned[name]})" for name in PINNED_IN_SETUP
           if name in pinned and name in installed and installed[name] != pinned[name]]
    if not odd:
        return None
    return ("WARNING: " + ", ".join(odd) + " installed: results and speed may differ from the course's; "
            "`make setup` (or `pip install -r requirements.txt`) installs the pinned versions.")


def setup(seed: int = 42, mixed_precision: bool = False, verbose: bool = True) -> dict:
    """Seed Python, NumPy and Keras; enable GPU memory growth; print one line.

    ``mixed_precision=True`` uses float16 compute on a GPU (ignored on a CPU,
    where it is slower). Never fails on a CPU-only machine. Returns what it found.

    Taught in lesson 01.
    """
    import numpy as np

    tf = helpers.import_tensorflow()
    import keras

    tf.get_logger().setLevel("ERROR")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # already initialised: keep going
            pass
    policy = "float32"
    if mixed_precision and gpus:
        keras.mixed_precision.set_global_policy("mixed_float16")
        policy = "mixed_float16"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"GPU x{len(gpus)} ({details.get('device_name', 'unknown')})"
    else:
        device = f"CPU ({os.cpu_count()} cores; no GPU found, training runs on the CPU)"
    info = {"tensorflow": tf.__version__, "keras": keras.__version__, "device": device,
            "gpus": len(gpus), "seed": seed, "policy": policy, "python": platform.python_version()}
    info["version_warning"] = version_warning({"tensorflow": tf.__version__, "keras": keras.__version__,
                                               "numpy": np.__version__})
    info["cache"] = cache_line()
    if verbose:
        print(f"TensorFlow {info['tensorflow']} | Keras {info['keras']} | {device} | seed {seed}"
              + (f" | {policy}" if policy != "float32" else ""))
        for line in (info["version_warning"], info["cache"]):
            if line:
                print(line)
    return info



def _main(argv: list[str] | None = None) -> int:
    """``python -m helpers.device check-python``: exit 1 with the reason when the pins cannot install here."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["check-python"]:
        print("usage: python -m helpers.device check-python", file=sys.stderr)
        return 2
    problem = platform_problem()
    if problem:
        print(f"Cannot set up the course with {sys.executable}:\n  {problem}", file=sys.stderr)
        return 1
    print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}: supported")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
