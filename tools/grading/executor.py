"""nbgrader's executor for the sandbox: survives dead kernels, and runs each tests cell's hidden
tests here, calling the student's functions in the kernel (one execute request per call)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tools.grading.settings import JUDGE_CALL_TIMEOUT_S, TIMEOUT_GRACE_S, TRANSCRIPT_FILE, VERDICTS_FILE
from helpers.env import setting


def _grader_judge(call: Any) -> Any:
    """The judge of the submission being graded (``COURSE_GRADING_SOURCE``), or None when nothing is judged."""
    from tools.judge import Judge, source_of
    path = setting("COURSE_GRADING_SOURCE")
    if not path:
        return None
    return Judge(source_of(path), call)


def _save_verdicts(judge: Any, verdicts: dict) -> None:
    """Write the verdicts and the transcript of calls beside the course copy (outside the sandbox)."""
    if judge is None:
        return
    root = Path(setting("COURSE_ROOT") or ".")
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


PLAIN_AUTOGRADE_REFUSED = (
    "This course does not grade with plain `nbgrader autograde` (nor the formgrader's Autograde button): it would "
    "run the hidden tests inside the student's kernel, as the instructor, in the course folder. Grade with "
    "`python -m tools.grading autograde ASSIGNMENT` (or `make autograde A=ASSIGNMENT`), which runs each submission "
    "in a sandbox and judges it from outside (docs/instructor.md). No grade was changed.")


def _refuse_plain_class() -> type:
    from nbgrader.preprocessors import NbGraderPreprocessor  # enabled by default, unlike nbconvert's base class

    class RefusePlainAutograde(NbGraderPreprocessor):
        """The first autograde step of the course's own config: stops plain ``nbgrader autograde`` before any
        kernel starts or any grade is saved (the sandboxed autograde replaces the whole list)."""

        def preprocess(self, nb, resources):  # type: ignore[override]
            raise RuntimeError(PLAIN_AUTOGRADE_REFUSED)

    RefusePlainAutograde.__module__ = "tools.grading"
    return RefusePlainAutograde
