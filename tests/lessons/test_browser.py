"""JupyterLab in a real browser: headless Chromium driven over the DevTools protocol.

Serves JupyterLab on loopback from a throwaway copy of the course (lesson 01
generated and released to a temporary exchange), then, in Debian's Chromium:
opens the released lesson and runs it (the setup and data cells must print),
moves an ipywidgets slider and checks that the text on the page changes, and
opens nbgrader's assignment list and formgrader and checks that they list the
lesson; starts the learner's JupyterLab with `make lab` (as `make course` does)
and checks that it shows the validate button and none of nbgrader's instructor
panels (the Create Assignment sidebar, the Nbgrader menu with the formgrader);
and runs the released lesson 05, moves its threshold explorer's slider
and checks that the confusion matrix shown is the one for the new threshold
(screenshot taken once the kernel is idle). Screenshots go to reports/screenshots/.

No Selenium and no browser download: Chromium is launched by path
(`apt-get install chromium`) and driven with websocket-client (a Jupyter
dependency). Without Chromium the test skips, unless CI=true (then it fails).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import REPO_ROOT
from helpers.env import setting
from tools import grading

CHROMIUM = setting("COURSE_CHROMIUM") or "/usr/bin/chromium"
SHOTS = REPO_ROOT / "reports" / "screenshots"
LESSON = "01_background"
WIDGET_NB = REPO_ROOT / "tests" / "fixtures" / "grading" / "browser_widget.ipynb"

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: apt-get install chromium"
    if not (REPO_ROOT / "solutions" / LESSON).is_dir():
        return "lesson 01 is missing"
    return None


if _missing():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"browser test cannot run in CI: {_missing()}")
    pytest.skip(_missing(), allow_module_level=True)

import websocket  # noqa: E402  (websocket-client, installed with jupyter)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(url)
        time.sleep(0.5)


class Page:
    """The smallest DevTools-protocol client that this test needs."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=120, suppress_origin=True)
        self.next_id = 0

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Page.javascriptDialogOpening":  # "leave page?": yes
                self.ws.send(json.dumps({"id": 10**6 + self.next_id, "method": "Page.handleJavaScriptDialog",
                                         "params": {"accept": True}}))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait(self, expression: str, seconds: float = 60, what: str = ""):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.5)
        self.screenshot("failed-" + (what or "wait").replace(" ", "-"))
        raise TimeoutError(f"{what or expression} (screenshot in {SHOTS})")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", 60, "page load")

    def text(self) -> str:
        return self.js("document.body.innerText") or ""

    def center(self, selector: str) -> tuple[float, float]:
        box = self.wait(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
            return r.width ? [r.x + r.width / 2, r.y + r.height / 2] : null; }})()""", 60, selector)
        return box[0], box[1]

    def mouse(self, kind: str, x: float, y: float) -> None:
        self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", buttons=1 if kind != "mouseReleased" else 0,
                  clickCount=1)

    def click(self, selector: str) -> None:
        x, y = self.center(selector)
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        self.mouse("mousePressed", x, y)
        self.mouse("mouseReleased", x, y)

    def drag(self, selector: str, dx: float) -> None:
        x, y = self.center(selector)
        self.mouse("mousePressed", x, y)
        for step in range(1, 11):
            self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x + dx * step / 10, y=y, button="left", buttons=1)
        self.mouse("mouseReleased", x + dx, y)

    def menu(self, top: str, item: str) -> None:
        """Open a JupyterLab menu by its label and click one of its items by its label."""
        self.click_text(".lm-MenuBar-itemLabel", top)
        self.click_text(".lm-Menu-itemLabel", item)

    def click_text(self, selector: str, text: str) -> None:
        index = self.wait(f"""(() => {{ const all = [...document.querySelectorAll({json.dumps(selector)})];
            const i = all.findIndex(e => e.textContent.trim().includes({json.dumps(text)})); return i >= 0 ? i + 1 : 0; }})()""",
                          60, f"{selector} {text}")
        x, y = self.js(f"""(() => {{ const e = [...document.querySelectorAll({json.dumps(selector)})][{index - 1}];
            const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        self.mouse("mousePressed", x, y)
        self.mouse("mouseReleased", x, y)

    def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path = SHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(data))
        return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    root = tmp / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root)
    shutil.copytree(REPO_ROOT / "solutions" / LESSON, root / "solutions" / LESSON)
    shutil.copytree(REPO_ROOT / "datasets", root / "datasets", ignore=shutil.ignore_patterns("*.npz", "*.zip"))
    (root / "browser").mkdir()
    shutil.copy(WIDGET_NB, root / "browser")
    env = {**os.environ, "COURSE_ROOT": str(root), "COURSE_EXCHANGE": str(root / "exchange"),
           "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"), "PATH": grading._venv_path(os.environ.get("PATH", ""))}
    grading.release(LESSON, root=root)  # generate + release to the exchange: the lists must show it
    port, token = free_port(), "course-browser-test"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=open(tmp / "lab.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    cdp_port = free_port()
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
         "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--window-size=1400,1000",
         f"--remote-debugging-port={cdp_port}", "--remote-allow-origins=*", f"--user-data-dir={tmp / 'chromium'}",
         "about:blank"], stdout=subprocess.DEVNULL, stderr=open(tmp / "chromium.log", "w"), start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/api/status?token={token}", 120)
        wait_http(f"http://127.0.0.1:{cdp_port}/json/version", 60)
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{cdp_port}/json/list"))
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        page.send("Page.enable")
        page.send("Runtime.enable")
        page.goto(f"{base}/lab?token={token}")  # logs in (cookie)
        yield page, base, root
    finally:
        for proc in (browser, server):
            proc.terminate()
        for proc in (browser, server):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


KERNEL_IDLE = ("/\\|\\s*Idle/.test(document.body.innerText) ||"
               " [...document.querySelectorAll('[data-status]')].some(e => e.dataset.status === 'idle')")


def open_and_run(page: Page, base: str, path: str, cells: int) -> None:
    """Open a notebook, wait for its kernel, and run its first ``cells`` cells with Shift+Enter."""
    page.goto(f"{base}/lab/tree/{path}")
    page.wait("document.querySelector('.jp-Notebook .jp-CodeCell') !== null", 90, "notebook cells")
    page.wait(KERNEL_IDLE, 120, "kernel idle")
    time.sleep(1)
    page.click(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .jp-InputPrompt")  # first cell, command mode
    shift_enter(page, cells)


def shift_enter(page: Page, times: int) -> None:
    """Run the selected cell and advance, like a learner pressing Shift+Enter."""
    for _ in range(times):
        for kind in ("rawKeyDown", "keyUp"):
            page.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                      modifiers=8)
        time.sleep(0.3)


def test_released_lesson_runs_in_the_browser(lab):
    page, base, root = lab
    # a learner reads and runs cell by cell: through the first exercise
    open_and_run(page, base, f"notebooks/{LESSON}/{LESSON}.ipynb", 15)
    outputs = "[...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent).join('\\n')"
    # the first exercise raises NotImplementedError in the student version
    text = page.wait(f"(() => {{ const t = {outputs}; return t.includes('NotImplementedError') ? t : null; }})()",
                     300, "lesson 01 runs up to the first exercise")
    assert "TensorFlow" in text and "Dataset('pneumoniamnist'" in text, text[:2000]
    assert page.js("document.querySelectorAll('.jp-OutputArea-output img').length") >= 3  # montages, balance
    page.js("document.querySelector('.jp-OutputArea-output img').scrollIntoView({block: 'center'})")
    time.sleep(1)
    page.screenshot("lesson01-running")


def test_widget_slider_changes_the_output_text(lab):
    page, base, root = lab
    open_and_run(page, base, "browser/browser_widget.ipynb", 2)
    read = "(document.querySelector('.widget-html-content') || {}).innerText"
    before = page.wait(read, 120, "widget output")
    assert "threshold 0.50" in before
    page.screenshot("widget-before")
    page.drag(".widget-slider .noUi-handle", -70)
    after = page.wait(f"(() => {{ const t = {read}; return t && t !== {json.dumps(before)} ? t : null; }})()",
                      30, "widget text change")
    assert after != before and "threshold 0.50" not in after, (before, after)
    page.screenshot("widget-after")


INSTRUCTOR_UI = """(() => ({
    createAssignment: !!document.getElementById('nbgrader-create_assignemnt'),
    nbgraderMenu: [...document.querySelectorAll('.lm-MenuBar-itemLabel')].some(e => e.textContent.trim() === 'Nbgrader'),
    disabled: [].concat(JSON.parse(document.getElementById('jupyter-config-data').textContent)
                        .disabledExtensions || []).filter(k => k.startsWith('@jupyter/nbgrader')).sort()}))()"""
VALIDATE_SHOWN = ("[...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar')]"
                  ".some(e => e.innerText.includes('Validate'))")


def test_assignment_list_and_formgrader_list_the_lesson(lab):
    page, base, root = lab
    page.goto(f"{base}/lab")
    page.wait("document.querySelector('.lm-MenuBar-itemLabel') !== null", 90, "lab menu")
    for kind in ("rawKeyDown", "keyUp"):  # close any open menu
        page.send("Input.dispatchKeyEvent", type=kind, key="Escape", code="Escape", windowsVirtualKeyCode=27)
    time.sleep(1)
    # the instructor's lab has nbgrader's instructor panels (what the learner's must not show)
    shown = page.wait(f"(() => {{ const u = {INSTRUCTOR_UI}; return u.createAssignment && u.nbgraderMenu ? u : null; }})()",
                      60, "instructor panels")
    assert shown["disabled"] == [], shown
    page.menu("Nbgrader", "Assignment List")
    page.wait(f"document.body.innerText.includes('{LESSON}')", 90, "assignment list")
    page.screenshot("assignment-list")
    page.goto(f"{base}/formgrader")
    page.wait(f"document.body.innerText.includes('{LESSON}')", 90, "formgrader")
    page.screenshot("formgrader")


@pytest.fixture(scope="module")
def learner_lab(tmp_path_factory):
    """The learner's JupyterLab started by `make lab` (the command `make course` ends with) in a copy of the course.

    The copy holds the Makefile, the JupyterLab settings and a workspace with the
    released lesson 01; it uses this environment (``VENV``), never reinstalling it.
    """
    tmp = tmp_path_factory.mktemp("learner")
    copy = tmp / "course"
    copy.mkdir()
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy2(REPO_ROOT / name, copy)
    shutil.copytree(REPO_ROOT / "jupyterlab-settings", copy / "jupyterlab-settings")
    shutil.copytree(REPO_ROOT / "notebooks" / LESSON, copy / "workspace" / LESSON)
    venv, port, token = Path(sys.prefix), free_port(), "course-learner-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime")}
    env.pop("JUPYTER_CONFIG_PATH", None)
    server = subprocess.Popen(["make", "lab", f"VENV={venv}", "-o", f"{venv}/.installed", "NO_BROWSER=1",
                               f"PORT={port}", f"TOKEN={token}"], cwd=copy, env=env,
                              stdout=open(tmp / "lab.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/api/status?token={token}", 120)
        except TimeoutError:
            pytest.fail(f"`make lab` did not serve JupyterLab:\n{(tmp / 'lab.log').read_text()[-3000:]}")
        yield base, token
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def test_learner_lab_shows_no_instructor_panel(lab, learner_lab):
    """`make course`'s JupyterLab: the lesson and the validate button, no Create Assignment, no formgrader menu."""
    page, _, _ = lab
    base, token = learner_lab
    page.goto(f"{base}/lab/tree/{LESSON}/{LESSON}.ipynb?token={token}")
    page.wait("document.querySelector('.jp-Notebook .jp-CodeCell') !== null", 90, "learner notebook")
    page.wait(VALIDATE_SHOWN, 60, "validate button")  # nbgrader's extension is loaded and activated
    time.sleep(2)
    ui = page.js(INSTRUCTOR_UI)
    page.screenshot("learner-lab")
    assert not ui["createAssignment"], "the learner's lab shows nbgrader's Create Assignment sidebar"
    assert not ui["nbgraderMenu"], "the learner's lab shows the Nbgrader menu (formgrader, course list)"
    assert ui["disabled"] == sorted(f"@jupyter/nbgrader:{p}" for p in
                                    ("assignment-list", "course-list", "create-assignment", "formgrader", "menu")), ui


THRESHOLD_LESSON = "05_evaluation"
CELL_DONE = ("(() => {{ const c = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')[{i}];"
             " const p = c && c.querySelector('.jp-InputPrompt'); return p && /\\[\\d+\\]/.test(p.textContent); }})()")
IMAGE_B64 = """(async () => { const img = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) img.widget-image');
    if (!img || !img.src) return null; const blob = await (await fetch(img.src)).blob();
    return await new Promise(r => { const f = new FileReader(); f.onload = () => r(f.result.split(',')[1]);
    f.readAsDataURL(blob); }); })()"""


def select_cell(page: Page, index: int, total: int) -> None:
    """Click cell ``index``'s prompt until JupyterLab's status bar says it is the active cell."""
    for _ in range(10):
        page.wait(f"""(() => {{ const c = document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')[{index}];
            if (!c) return null; c.scrollIntoView({{block: 'center'}}); return true; }})()""", 30, "cell")
        time.sleep(1)  # let the layout settle after scrolling
        x, y = page.js(f"""(() => {{ const r = document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')[{index}]
            .querySelector('.jp-InputPrompt').getBoundingClientRect(); return [r.x + r.width / 2, r.y + 8]; }})()""")
        page.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        page.mouse("mousePressed", x, y)
        page.mouse("mouseReleased", x, y)
        time.sleep(0.5)
        if f"Cell {index + 1}/{total}" in page.text():
            return
    page.screenshot("failed-select-cell")
    raise TimeoutError(f"could not select cell {index}")


def _kernel_json(root: Path, base: str, notebook: str, code: str) -> dict:
    """Run ``code`` (printing one JSON line) in the kernel the browser's notebook uses."""
    from jupyter_client import BlockingKernelClient

    sessions = json.load(urllib.request.urlopen(f"{base}/api/sessions?token=course-browser-test"))
    kernel = next(s["kernel"]["id"] for s in sessions if s["path"].endswith(notebook))
    client = BlockingKernelClient(connection_file=str(root.parent / "jupyter-runtime" / f"kernel-{kernel}.json"))
    client.load_connection_file()
    client.start_channels()
    try:
        out: list[str] = []
        reply = client.execute_interactive(code, timeout=120, output_hook=lambda m: out.append(
            m["content"].get("text", "") if m["msg_type"] == "stream" else ""))
        assert reply["content"]["status"] == "ok", reply["content"]
        return json.loads("".join(out).strip().splitlines()[-1])
    finally:
        client.stop_channels()


def test_lesson05_threshold_explorer_redraws_the_matrix_for_the_new_threshold(lab):
    """The released lesson 05 in JupyterLab: moving the explorer's slider shows the new threshold's matrix.

    The learner runs the setup, imports and data cells, then the explorer cell, and drags
    the slider. The image the browser shows afterwards must be byte-identical to the
    confusion matrix (counts, sensitivity, specificity in its title) that
    ``plots.confusion_matrix_plot`` draws for the slider's new value, and differ from the
    one at 0.50, with different counts. The screenshot waits for the kernel to be idle.
    """
    import hashlib

    page, base, root = lab
    folder = root / "lesson05"
    shutil.copytree(REPO_ROOT / "notebooks" / THRESHOLD_LESSON, folder / THRESHOLD_LESSON)
    notebook = f"lesson05/{THRESHOLD_LESSON}/{THRESHOLD_LESSON}.ipynb"
    cells = json.loads((folder / THRESHOLD_LESSON / f"{THRESHOLD_LESSON}.ipynb").read_text())["cells"]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    explorer = next(i for i in code if "threshold_explorer(" in "".join(cells[i]["source"]))
    data_cell = next(i for i in code if "y_test" in "".join(cells[i]["source"]))
    open_and_run(page, base, notebook, 0)  # open it; no key presses (a fast Shift+Enter can be lost)
    select_cell(page, data_cell + 1, len(cells))
    page.menu("Run", "Run All Above Selected Cell")  # setup, imports, data and predictions
    page.wait(CELL_DONE.format(i=data_cell), 900, "lesson 05 data cell")
    page.wait(KERNEL_IDLE, 120, "kernel idle")
    select_cell(page, explorer, len(cells))
    shift_enter(page, 1)
    page.wait(CELL_DONE.format(i=explorer), 300, "threshold explorer cell")
    before = page.wait(IMAGE_B64, 120, "explorer image")
    readout = "(document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-readout') || {}).textContent"
    assert page.js(readout).strip() == "0.50"
    width = page.js("document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-slider .noUi-target')"
                    ".getBoundingClientRect().width")
    page.drag(".jp-NotebookPanel:not(.lm-mod-hidden) .widget-slider .noUi-handle", -0.2 * width)  # about 0.30
    page.wait(f"(() => {{ const t = {readout}; return t && t.trim() !== '0.50'; }})()", 30, "slider moved")
    after = page.wait(f"(async () => {{ const b = await {IMAGE_B64}; return b && b !== {json.dumps(before)} ? b : null; }})()",
                      120, "explorer image redrawn")
    page.wait(KERNEL_IDLE, 120, "kernel idle")
    time.sleep(1)
    after = page.js(IMAGE_B64)  # the final image once the kernel is idle
    page.js("document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-slider')"
            ".scrollIntoView({block: 'start'})")
    time.sleep(0.5)
    page.screenshot("lesson05-threshold-explorer")
    shown = float(page.js(readout))
    truth = _kernel_json(root, base, notebook, """
import hashlib as _h, io as _io, json as _j
import matplotlib.pyplot as _plt
def _png(t):
    fig = plots.confusion_matrix_plot(y_test, p_test, positive_label=POS, threshold=t, label_names=bm.label_names)
    buf = _io.BytesIO(); fig.savefig(buf, format="png", dpi=90, bbox_inches="tight"); _plt.close(fig)
    return _h.md5(buf.getvalue()).hexdigest()
_t = explorer.children[0].value
print(_j.dumps({"t": _t, "new": _png(_t), "old": _png(0.5),
                "counts": metrics.confusion_counts(y_test, p_test, positive_label=POS, threshold=_t),
                "counts05": metrics.confusion_counts(y_test, p_test, positive_label=POS, threshold=0.5)}))
""")
    assert abs(truth["t"] - shown) < 1e-9 and shown < 0.5, (truth["t"], shown)
    assert truth["counts"] != truth["counts05"], "the test needs a move that changes the matrix"
    assert hashlib.md5(base64.b64decode(before)).hexdigest() == truth["old"]
    assert hashlib.md5(base64.b64decode(after)).hexdigest() == truth["new"] != truth["old"]
