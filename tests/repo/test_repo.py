"""Repository rules: no outputs or data in git, one pinned environment, README from the report."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from helpers import REPO_ROOT, data
from tools import course

SETUP_CELL = "from helpers.device import setup\n\ninfo = setup(seed=42)"


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [REPO_ROOT / p for p in out.stdout.split("\0") if p]


def _notebooks() -> list[Path]:
    return sorted(list(course.SOLUTIONS.rglob("*.ipynb")) + list(course.RELEASE.rglob("*.ipynb")))


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_committed_notebooks_store_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} store outputs; clear them before committing"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_notebook_opens_with_the_same_setup_cell(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and code[0].strip() == SETUP_CELL, f"{path.name}: the first code cell must be\n{SETUP_CELL}"
    assert nb["cells"][0]["cell_type"] == "markdown" and "".join(nb["cells"][0]["source"]).startswith("# ")


def test_no_tracked_file_is_a_registered_data_file():
    known = {f["md5"] for info in data.registry().values() for f in info["files"]}
    copies = [p for p in _tracked() if p.is_file() and hashlib.md5(p.read_bytes()).hexdigest() in known]
    assert not copies, f"data files are tracked by git: {copies}"


def test_no_data_or_weight_files_are_tracked():
    bad = [p for p in _tracked() if re.search(r"\.(npz|npy|dat|atr|hea|h5|keras|ckpt|pt|zip|gz|joblib)$", p.name)]
    assert not bad, bad


def test_no_absolute_machine_paths_in_tracked_text():
    parent = str(REPO_ROOT.parent) + "/"
    hits = [p for p in _tracked() if p.is_file() and p.suffix in {".py", ".md", ".ipynb", ".yml", ".txt", ".cfg", ".toml"}
            and parent in p.read_text(encoding="utf-8", errors="ignore")]
    assert not hits, hits


def test_environment_yml_installs_the_pinned_requirements():
    text = (REPO_ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*python=3\.11\s*$", text, re.M)
    pip_lines = re.findall(r"^\s{6}-\s*(.+?)\s*$", text.split("- pip:")[1], re.M)
    assert pip_lines == ["-r requirements.txt", "-e ."], (
        "environment.yml's pip: section must install requirements.txt and the package, nothing else, "
        "so conda users get exactly the pins `make setup` installs")
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "-r requirements.txt -e ." in makefile


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^;\s]+)(\s*;.*)?$", line)
            assert m, f"{path.name}: '{line}' is not pinned with =="
            pins[m.group(1).split("[")[0].lower() + (m.group(3) or "")] = m.group(2)
    return pins


TF_PLATFORMS = {  # (sys_platform, platform_machine) -> the TensorFlow package that has a wheel there
    ("linux", "x86_64"): "tensorflow-cpu", ("win32", "AMD64"): "tensorflow-cpu",
    ("linux", "aarch64"): "tensorflow", ("darwin", "arm64"): "tensorflow",
}


def _selected(path: Path, sys_platform: str, machine: str) -> dict[str, str]:
    """The pins that pip selects from ``path`` on that platform (markers evaluated for it)."""
    from packaging.markers import Marker

    env = {"sys_platform": sys_platform, "platform_machine": machine}
    out = {}
    for key, version in _pins(path).items():
        name, _, marker = key.partition(";")
        if not marker or Marker(marker.strip()).evaluate(env):
            out[name.strip()] = version
    return out


def test_requirements_are_pinned_with_platform_markers():
    """Each supported platform gets exactly one TensorFlow, the one with a wheel there, at one version."""
    versions = set()
    for (plat, machine), package in TF_PLATFORMS.items():
        chosen = _selected(REPO_ROOT / "requirements.txt", plat, machine)
        tf = {k: v for k, v in chosen.items() if k.startswith("tensorflow")}
        assert list(tf) == [package], f"{plat} {machine}: requirements.txt selects {tf}, needs {package}"
        versions |= set(tf.values())
    assert len(versions) == 1, versions
    pins = _selected(REPO_ROOT / "requirements.txt", "linux", "x86_64")
    for name in ("keras", "jupyterlab", "nbgrader", "numpy", "matplotlib", "ipywidgets", "scikit-learn",
                 "tqdm", "pooch"):
        assert name in pins, f"{name} must be pinned in requirements.txt"
    gpu = _pins(REPO_ROOT / "requirements-gpu.txt")
    assert set(gpu.values()) == versions, "requirements-gpu.txt must pin the same TensorFlow version"


# The README's platform rows, as marker variables and as platform.system()/machine() report them.
README_PLATFORMS = {
    "Linux x86_64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
                     ("Linux", "x86_64")),
    "Windows x86_64": ({"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
                       ("Windows", "AMD64")),
    "Linux aarch64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
                      ("Linux", "aarch64")),
    "macOS arm64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
                    ("Darwin", "arm64")),
    "macOS x86_64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64"},
                     ("Darwin", "x86_64")),
}


def _readme_platform_rows() -> list[tuple[str, str, str]]:
    """(machine, Python, what requirements.txt installs) for each row of README's Platforms table."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Platforms", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("|") and not line.startswith("|---")]
    assert rows and rows[0][0] == "machine", "README's Platforms section must open with its table"
    return [tuple(r) for r in rows[1:]]


def test_readme_platform_table_follows_the_requirement_markers():
    """Each row of README's Platforms table: requirements.txt's markers, evaluated for that platform, install what it says."""
    from packaging.requirements import Requirement

    from helpers import device

    reqs = [Requirement(line.split("#")[0]) for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
            if line.split("#")[0].strip()]
    supported = f"{device.PYTHONS[0][0]}.{device.PYTHONS[0][1]}–{device.PYTHONS[-1][0]}.{device.PYTHONS[-1][1]}"
    rows = _readme_platform_rows()
    for machine, python, installs in rows:
        key = next((k for k in README_PLATFORMS if machine.startswith(k)), None)
        assert key, f"README platform row {machine!r}: add its marker variables to README_PLATFORMS"
        env, (system, arch) = README_PLATFORMS[key]
        tf = sorted(r.name for r in reqs if r.name.startswith("tensorflow") and (r.marker is None or r.marker.evaluate(env)))
        if installs.startswith("nothing"):
            assert python == "—" and device.platform_problem((3, 11), system, arch), \
                f"{machine}: README says nothing installs, so `make setup` must refuse it before pip"
            continue
        named = re.match(r"`([^`]+)`", installs)
        assert named and tf == [named.group(1)], f"{machine}: README says {installs!r}, the markers select {tf}"
        assert python == supported, f"{machine}: README says Python {python}, the pins support {supported}"
        for version in device.PYTHONS:
            assert device.platform_problem(version, system, arch) is None, (machine, version)
    assert {k for k in README_PLATFORMS if any(m.startswith(k) for m, _, _ in rows)} == set(README_PLATFORMS)


def test_requires_python_matches_the_supported_pythons():
    """pyproject's requires-python, the Makefile's check and environment.yml agree on the Pythons."""
    import tomllib

    from packaging.specifiers import SpecifierSet

    from helpers import device

    spec = SpecifierSet(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    for minor in range(8, 16):
        assert (f"3.{minor}" in spec) == ((3, minor) in device.PYTHONS), f"3.{minor} vs {spec}"


def test_dev_requirements_are_pinned():
    dev = _pins(REPO_ROOT / "requirements-dev.txt")
    assert "jupyterhub" in dev, "the JupyterHub classroom test needs jupyterhub pinned in requirements-dev.txt"
    assert "pytest-xdist" in dev, "`make test-fast` runs `pytest -n 2`: pin pytest-xdist in requirements-dev.txt"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    from packaging.markers import Marker

    for key, pinned in _pins(REPO_ROOT / "requirements.txt").items():
        name, _, marker = key.partition(";")
        if marker and not Marker(marker.strip()).evaluate():
            continue
        assert version(name.strip()) == pinned, f"{name} {version(name.strip())} installed, {pinned} pinned: run `make setup`"


def test_test_code_imports_no_unix_only_module_at_top_level():
    """On Windows the suite must collect: no `resource`/`fcntl`/`pwd`/... import at module level."""
    import ast

    unix_only = {"resource", "fcntl", "pwd", "grp", "termios", "tty", "pty", "posix", "crypt"}
    bad = []
    tests = sorted(p for p in (REPO_ROOT / "tests").rglob("*.py") if "fixtures" not in p.parts)
    for path in sorted((REPO_ROOT / "helpers").rglob("*.py")) + sorted((REPO_ROOT / "tools").glob("*.py")) + tests:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.relative_to(REPO_ROOT)}:{node.lineno} imports {n}" for n in names
                    if n.split(".")[0] in unix_only]
    assert not bad, "import these inside the function that needs them: " + "; ".join(bad)


def test_readme_lesson_table_is_the_committed_timing_report(monkeypatch):
    monkeypatch.delenv("COURSE_LESSONS", raising=False)  # the table covers every lesson, whatever subset runs
    readme = (REPO_ROOT / "README.md").read_text()
    assert course.timing_table() in readme, (
        "README's lesson table must be `python -m tools.course timing --committed` output")
    report = json.loads(course.TIMING_COMMITTED.read_text())
    assert set(report["lessons"]) == set(course.lessons()), "reports/timing.json must cover every lesson"


def test_readme_has_the_two_commands_licence_and_clinical_note():
    readme = (REPO_ROOT / "README.md").read_text()
    for needle in ("make course", "make test", "not for clinical use", "LICENSE", "CITATION.cff",
                   "COURSE_DATA_DIR", "requirements-gpu.txt", "environment.yml"):
        assert needle in readme, needle
    assert (REPO_ROOT / "LICENSE").is_file() and (REPO_ROOT / "CITATION.cff").is_file()
