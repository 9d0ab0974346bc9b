"""Runs a Plan: each step's rendered shell text under `sh -c`, output streamed as events.

The workspace lives next to the output and is removed on every exit path;
outputs appear only through the plan's final renames, after every step and
check passed. Cancelling kills the running tool's whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildFailed, Cancelled, PreflightError
from .plan import Plan, Step, render_step
from .safefs import remove_tree
from .tools import require
from .units import format_size

# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class StepStarted:
    index: int
    step: Step


@dataclass(frozen=True)
class Output:
    step_id: str
    line: str
    stream: str  # "stdout" | "stderr"


@dataclass(frozen=True)
class Progress:
    step_id: str
    step_fraction: float
    overall: float


@dataclass(frozen=True)
class StepFinished:
    index: int
    step: Step
    seconds: float


@dataclass(frozen=True)
class OutputFile:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Finished:
    outputs: list[OutputFile]
    log: str | None
    seconds: float
    checks: list[str]


@dataclass(frozen=True)
class Failed:
    step_id: str
    title: str
    message: str
    lines: list[str]
    log: str | None


@dataclass(frozen=True)
class CancelledEvent:
    log: str | None


Event = StepStarted | Output | Progress | StepFinished | Finished | Failed | CancelledEvent
EventHandler = Callable[[Event], None]

FORBIDDEN = ("/dev", "/proc", "/sys")
EXTRA_PATH = ("/usr/sbin", "/sbin")


# ------------------------------------------------------------------ preflight


def preflight(plan: Plan) -> None:
    """Everything that can be checked before the first step, with the fix for each."""
    for tool in plan.tools:
        if tool == "diskwright":
            continue
        require(tool)
    for out in plan.outputs:
        p = Path(out)
        for bad in FORBIDDEN:
            if p == Path(bad) or Path(bad) in p.parents:
                raise PreflightError(f"{out}: refusing to write under {bad}")
        if p.exists() or p.is_symlink():
            st = p.lstat()
            if stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode):
                raise PreflightError(f"{out} is a device; diskwright writes image files only")
            if p.is_dir():
                raise PreflightError(f"{out} is a folder; give a file name for the image")
            if not plan.force:
                raise PreflightError(
                    f"{out} exists; refusing to replace it — pass --force to overwrite"
                )
        parent = p.parent
        if not parent.is_dir():
            raise PreflightError(f"{parent} does not exist; create it or change output.path")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PreflightError(f"{parent} is not writable; choose another output folder")
    for src in plan.sources:
        if not os.access(src, os.R_OK | os.X_OK):
            raise PreflightError(f"the source {src} is not readable")
    free = shutil.disk_usage(plan.workspace_parent).free
    if plan.space_needed > free:
        raise PreflightError(
            f"{plan.workspace_parent} has {format_size(free)} free, the build needs about "
            f"{format_size(plan.space_needed)}; free some space or write elsewhere"
        )


# ------------------------------------------------------------------ running


def step_env(plan: Plan, workspace: str, variables: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(plan.env)
    path = env.get("PATH", "/usr/bin:/bin").split(":")
    here = str(Path(sys.executable).parent)
    path = [here, *path] if here not in path else path
    path += [p for p in EXTRA_PATH if p not in path]
    env["PATH"] = ":".join(path)
    env["W"] = workspace
    env.update(variables)
    return env


class Runner:
    """Execute a plan once. Call `run()`; cancel the task running it to stop."""

    def __init__(
        self,
        plan: Plan,
        on_event: EventHandler | None = None,
        *,
        log_path: Path | None = None,
        skip_preflight: bool = False,
    ) -> None:
        self.plan = plan
        self.on_event = on_event or (lambda e: None)
        self.log_path = log_path if log_path is not None else Path(plan.outputs[0] + ".log")
        self.skip_preflight = skip_preflight
        self.variables: dict[str, str] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._log: object = None
        self._done_weight = 0.0
        self._tail: deque[str] = deque(maxlen=40)
        self.checks: list[str] = []

    # ---------------------------------------------------------------- api

    async def run(self) -> Finished:
        if not self.skip_preflight:
            preflight(self.plan)
        t0 = time.monotonic()
        workspace = tempfile.mkdtemp(prefix=".diskwright-", dir=self.plan.workspace_parent)
        log = None
        # the log grows inside the workspace and is moved beside the outputs at the end:
        # OUT.log for a good build; a failed or cancelled one never touches the last good
        # build's log (OUT.failed.log / OUT.cancelled.log), and no link is written through
        log_tmp = Path(workspace) / "diskwright-build.log"
        self._final_log = self.log_path
        try:
            with contextlib.suppress(OSError):
                log = open(log_tmp, "x", encoding="utf-8", errors="replace")
            self._log = log
            self._write_log(f"# diskwright build, workspace {workspace}")
            total = self.plan.total_weight()
            for i, step in enumerate(self.plan.steps):
                self.on_event(StepStarted(i, step))
                self._write_log(f"\n## [{i + 1}/{len(self.plan.steps)}] {step.title}")
                self._write_log(f"$ {render_step(step)}")
                t1 = time.monotonic()
                await self._run_step(step, workspace)
                self._done_weight += step.weight
                self.on_event(Progress(step.id, 1.0, self._done_weight / total))
                self.on_event(StepFinished(i, step, time.monotonic() - t1))
                if step.phase == "verify":
                    self.checks.append(step.title)
            outputs = await asyncio.to_thread(self._describe_outputs)
            result = Finished(outputs, self._log_name(), time.monotonic() - t0, self.checks)
            self._write_log(f"\n# finished in {result.seconds:.1f} s")
            self.on_event(result)
            return result
        except asyncio.CancelledError:
            await self._kill()
            self._final_log = self._side_log("cancelled")
            self._write_log("\n# cancelled; nothing was written")
            self.on_event(CancelledEvent(self._log_name()))
            raise Cancelled() from None
        except BuildFailed as err:
            self._final_log = self._side_log("failed")
            self._write_log(f"\n# FAILED: {err}")
            self.on_event(
                Failed(err.step, self._title(err.step), str(err), err.lines, self._log_name())
            )
            raise
        finally:
            await self._kill()
            if log is not None:
                log.close()
                with contextlib.suppress(OSError):
                    os.replace(log_tmp, self._final_log)
            remove_workspace(workspace)
            self._remove_partials()

    # ---------------------------------------------------------------- internals

    def _title(self, step_id: str) -> str:
        with contextlib.suppress(KeyError):
            return self.plan.step(step_id).title
        return step_id

    def _log_name(self) -> str | None:
        return str(self._final_log) if self._log is not None else None

    def _side_log(self, what: str) -> Path:
        """OUT.failed.log beside OUT.log: where an unsuccessful build's log goes."""
        name = self.log_path.name
        stem = name[: -len(".log")] if name.endswith(".log") else name
        return self.log_path.with_name(f"{stem}.{what}.log")

    def _write_log(self, line: str) -> None:
        if self._log is not None:
            self._log.write(line + "\n")  # type: ignore[attr-defined]
            self._log.flush()  # type: ignore[attr-defined]

    def _remove_partials(self) -> None:
        for out in self.plan.outputs:
            partial = Path(out).parent / f".diskwright-{Path(out).name}.partial"
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()

    def _describe_outputs(self) -> list[OutputFile]:
        files = []
        for out in self.plan.outputs:
            h = hashlib.sha256()
            with open(out, "rb") as f:
                for chunk in iter(lambda: f.read(4 * 1024 * 1024), b""):
                    h.update(chunk)
            files.append(OutputFile(out, os.path.getsize(out), h.hexdigest()))
        return files

    async def _run_step(self, step: Step, workspace: str) -> None:
        text = render_step(step)
        if step.kind == "capture":
            assert step.capture
            text += f'\nprintf "%s" "${{{step.capture}}}"'
        script = "set -eu\n" + text
        env = step_env(self.plan, workspace, self.variables)
        self._tail.clear()
        proc = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            script,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=workspace,
            start_new_session=True,
        )
        self._proc = proc
        captured: list[bytes] = []

        async def pump(stream: asyncio.StreamReader, name: str) -> None:
            buf = b""
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    break
                if step.kind == "capture" and name == "stdout":
                    captured.append(chunk)
                    continue
                buf += chunk
                *lines, buf = re.split(rb"\r\n|\r|\n", buf)
                for raw in lines:
                    self._line(step, raw, name)
            if buf:
                self._line(step, buf, name)

        assert proc.stdout is not None and proc.stderr is not None
        await asyncio.gather(pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr"))
        rc = await proc.wait()
        self._proc = None
        if rc != 0:
            lines = list(self._tail)
            msg = f"exited with status {rc}"
            if lines:
                msg += f": {lines[-1]}"
            raise BuildFailed(step.id, msg, lines)
        if step.kind == "capture":
            assert step.capture
            value = b"".join(captured).decode().strip()
            if not value:
                raise BuildFailed(step.id, f"computed no value for {step.capture}", [])
            self.variables[step.capture] = value
            self._write_log(f"{step.capture}={value}")

    def _line(self, step: Step, raw: bytes, stream: str) -> None:
        line = raw.decode("utf-8", "replace").rstrip()
        if not line:
            return
        self._tail.append(line)
        self._write_log(line)
        self.on_event(Output(step.id, line, stream))

    async def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5)
        self._proc = None


def remove_workspace(path: str) -> None:
    """Remove the workspace at any depth, even where staging left read-only folders.

    Only folders get u+w: files may be hard links to the user's own files.
    """
    with contextlib.suppress(OSError):
        remove_tree(path)


def run_plan(plan: Plan, on_event: EventHandler | None = None, **kw: object) -> Finished:
    """Synchronous convenience for scripts and tests."""
    return asyncio.run(Runner(plan, on_event, **kw).run())  # type: ignore[arg-type]


__all__ = [
    "CancelledEvent",
    "Event",
    "Failed",
    "Finished",
    "Output",
    "OutputFile",
    "Progress",
    "Runner",
    "StepFinished",
    "StepStarted",
    "preflight",
    "run_plan",
]
