"""Runs a Plan: each step's rendered shell text under `sh -c`, output streamed as events.

The workspace lives next to the output and is removed on every exit path;
outputs appear only through the plan's final renames, after every step and
check passed. Cancelling kills the running tool's whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .commit import OWNER_FILE
from .errors import BuildFailed, Cancelled, PreflightError
from .outpaths import OutputLock, forbidden_root, name_problem, real_output, same_file
from .plan import Arith, Plan, Step, Var, Word, render_step
from .progress import OWN, PROGRESS_PREFIX, Meter, Reading
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
    """How far the build is; `done`/`total` are the bytes a step reported, if it did."""

    step_id: str
    step_fraction: float
    overall: float
    done: int | None = None
    total: int | None = None


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

EXTRA_PATH = ("/usr/sbin", "/sbin")

# A step reports how far it is with lines of its own output: ours ("diskwright-progress:
# DONE TOTAL", bytes) from any step, and its tool's own as the step declares (core/progress.py).
# The Runner turns them into Progress events; the lines go to the log only.


# ------------------------------------------------------------------ preflight


def preflight(plan: Plan) -> None:
    """Everything that can be checked before the first step, with the fix for each."""
    for tool in plan.tools:
        if tool == "diskwright":
            continue
        require(tool)
    seen: list[str] = []
    for out in plan.outputs:
        p = Path(out)
        bad = forbidden_root(out)
        if bad is not None:
            raise PreflightError(
                f"{out} resolves to a folder under {bad}; diskwright writes image files only "
                "— choose an output on a real filesystem"
            )
        problem = name_problem(out)
        if problem is not None:
            raise PreflightError(f"{out}: {problem}; choose a shorter output name")
        for other in seen:
            if same_file(out, other):
                raise PreflightError(
                    f"{out} and {other} are the same file; give each disk its own output"
                )
        seen.append(out)
        if p.exists() or p.is_symlink():
            st = p.lstat()
            if stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode):
                raise PreflightError(f"{out} is a device; diskwright writes image files only")
            if stat.S_ISDIR(st.st_mode):
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
        self._total_weight = 1.0
        self._tail: deque[str] = deque(maxlen=40)
        self.checks: list[str] = []
        self._notes: list[str] = []
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._last_fraction = -1.0

    # ---------------------------------------------------------------- api

    async def run(self) -> Finished:
        locks = self._lock_outputs()
        try:
            return await self._run_locked()
        finally:
            for lock in locks:
                lock.release()

    async def _run_locked(self) -> Finished:
        if not self.skip_preflight:
            preflight(self.plan)
        self._clean_leftovers()
        t0 = time.monotonic()
        workspace = tempfile.mkdtemp(prefix=".diskwright-", dir=self.plan.workspace_parent)
        owner = _hold_owner(workspace)
        self._start_watchdog(owner, [workspace])
        log = None
        # the log grows inside the workspace and is moved beside the outputs at the end:
        # OUT.log for a good build; a failed or cancelled one never touches the last good
        # build's log (OUT.failed.log / OUT.cancelled.log), and no link is written through
        log_tmp = Path(workspace) / "diskwright-build.log"
        self._log_tmp = log_tmp
        self._final_log = self.log_path
        self._claimed = False  # the log has its final name (hard link)
        self._named = False  # the final name is chosen
        try:
            with contextlib.suppress(OSError):
                log = open(log_tmp, "x", encoding="utf-8", errors="replace")
            self._log = log
            self._write_log(f"# diskwright build, workspace {workspace}")
            for line in self._notes:
                self._write_log(f"# {line}")
            outputs: list[OutputFile] = []
            total = self.plan.total_weight()
            self._total_weight = total
            for i, step in enumerate(self.plan.steps):
                self.on_event(StepStarted(i, step))
                self._write_log(f"\n## [{i + 1}/{len(self.plan.steps)}] {step.title}")
                self._write_log(f"$ {render_step(step)}")
                t1 = time.monotonic()
                if step.id == "lock":
                    # taken by run() before preflight, in this process: never twice
                    self._write_log("# held by this build since it started")
                elif step.id == "commit":
                    # what we are about to commit is what we report, hashed before any rename
                    outputs = await asyncio.to_thread(self._describe_outputs, workspace)
                    await self._run_commit(step, workspace)
                else:
                    await self._run_step(step, workspace)
                self._done_weight += step.weight
                self.on_event(Progress(step.id, 1.0, self._done_weight / total))
                self.on_event(StepFinished(i, step, time.monotonic() - t1))
                if step.phase == "verify":
                    self.checks.append(step.title)
            if not any(s.id == "commit" for s in self.plan.steps):
                outputs = await asyncio.to_thread(self._describe_outputs, workspace)
            self._claim_log(None)
            result = Finished(outputs, self._log_name(), time.monotonic() - t0, self.checks)
            self._write_log(f"\n# finished in {result.seconds:.1f} s")
            self.on_event(result)
            return result
        except asyncio.CancelledError:
            await self._kill()
            self._claim_log("cancelled")
            self._write_log("\n# cancelled; nothing was written")
            self.on_event(CancelledEvent(self._log_name()))
            raise Cancelled() from None
        except BuildFailed as err:
            self._claim_log("failed")
            self._write_log(f"\n# FAILED: {err}")
            self.on_event(
                Failed(err.step, self._title(err.step), str(err), err.lines, self._log_name())
            )
            raise
        finally:
            await self._kill()
            if log is not None:
                log.close()
                if not self._named:  # e.g. an error outside a step: keep it as a failed log
                    self._claim_log("failed", quiet=True)
                if not self._claimed:  # no hard links here: a copy under the free name
                    _copy_excl(log_tmp, self._final_log)
            remove_workspace(workspace)
            os.close(owner)
            self._stop_watchdog()

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

    def _claim_log(self, what: str | None, *, quiet: bool = False) -> None:
        """Give the log its final name before any message names it.

        A hard link under a name that did not exist, so nothing is replaced or followed
        (a link or a folder already at OUT.log stays as it is); only a good build with
        --force replaces OUT.log. Otherwise the next free OUT.N.log, and we say so.
        """
        if self._log is None:
            return
        self._named = True
        base = self.log_path if what is None else self._side_log(what)
        tmp = str(self._log_tmp)
        if what is None and self.plan.force:
            with contextlib.suppress(OSError):
                if not os.path.isdir(base):
                    os.link(tmp, tmp + ".final")
                    os.replace(tmp + ".final", base)
                    self._final_log, self._claimed = base, True
                    return
        stem = base.name[: -len(".log")] if base.name.endswith(".log") else base.name
        for n in range(1000):
            cand = base if n == 0 else base.with_name(f"{stem}.{n}.log")
            try:
                os.link(tmp, cand, follow_symlinks=False)
            except FileExistsError:
                continue
            except OSError:
                # no hard links on this filesystem: copied (O_EXCL) at the end
                if not os.path.lexists(cand):
                    self._final_log = cand
                    break
                continue
            self._final_log, self._claimed = cand, True
            break
        if self._final_log != base and not quiet:
            self._note(f"{base} already exists and is left as it is; this build's log is "
                       f"{self._final_log}")

    def _write_log(self, line: str) -> None:
        if self._log is not None:
            self._log.write(line + "\n")  # type: ignore[attr-defined]
            self._log.flush()  # type: ignore[attr-defined]

    def _value(self, arg: object, workspace: str) -> str:
        """The text a shell would give a plan argument (workspace paths, captured values)."""
        if isinstance(arg, str):
            return arg
        if isinstance(arg, Var):
            return workspace if arg.name == "W" else self.variables.get(arg.name, "")
        if isinstance(arg, Word):
            return "".join(self._value(p, workspace) for p in arg.parts)
        if isinstance(arg, Arith):
            raise TypeError("an arithmetic word is not a path")
        raise TypeError(f"not a plan argument: {arg!r}")

    def _describe_outputs(self, workspace: str) -> list[OutputFile]:
        pairs = [(self._value(src, workspace), out) for src, out in self.plan.commit] or [
            (out, out) for out in self.plan.outputs
        ]
        files = []
        for src, out in pairs:
            h = hashlib.sha256()
            with open(src, "rb") as f:
                for chunk in iter(lambda: f.read(4 * 1024 * 1024), b""):
                    h.update(chunk)
            files.append(OutputFile(out, os.path.getsize(src), h.hexdigest()))
        return files

    # ------------------------------------------------------------ safety

    def _lock_outputs(self) -> list[OutputLock]:
        """One build per output: a second build to the same file exits 2 naming the first."""
        locks: list[OutputLock] = []
        try:
            for out in sorted({real_output(o) for o in self.plan.outputs}):
                lock = OutputLock(out)
                try:
                    holder = lock.acquire()
                except OSError as err:
                    raise PreflightError(f"cannot lock {out} ({err}); check the folder") from None
                if holder is not None:
                    who = f"pid {holder}" if holder > 0 else "another process"
                    raise PreflightError(
                        f"another diskwright build ({who}) is writing {out}; wait for it to "
                        "finish or choose another output"
                    )
                locks.append(lock)
        except BaseException:
            for lock in locks:
                lock.release()
            raise
        return locks

    def _clean_leftovers(self) -> None:
        for line in clean_leftovers(self.plan.outputs):
            self._note(line)

    def _note(self, line: str) -> None:
        self._notes.append(line)
        self.on_event(Output("prepare", line, "stderr"))

    def _start_watchdog(self, owner: int, paths: list[str]) -> None:
        """A helper that stops our tools and removes our files if this process is killed."""
        pkg = __name__.rsplit(".", 1)[0]
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-m", f"{pkg}.watchdog"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(owner,),
                start_new_session=True,
            )
        except OSError:
            self._watchdog = None
            return
        for p in paths:
            self._tell_watchdog(f"path {p}")

    def _tell_watchdog(self, line: str) -> None:
        w = self._watchdog
        if w is None or w.stdin is None:
            return
        try:
            w.stdin.write(os.fsencode(line) + b"\n")
            w.stdin.flush()
        except OSError:
            self._watchdog = None

    def _stop_watchdog(self) -> None:
        w = self._watchdog
        if w is None:
            return
        self._tell_watchdog("done")
        with contextlib.suppress(OSError):
            if w.stdin is not None:
                w.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            w.wait(5)
        self._watchdog = None

    async def _run_step(self, step: Step, workspace: str) -> None:
        text = render_step(step)
        if step.kind == "capture":
            assert step.capture
            text += f'\nprintf "%s" "${{{step.capture}}}"'
        # the gate: the step's shell waits on its stdin until the watchdog knows its group,
        # so a build killed in between leaves no unregistered tool (EOF → it exits unrun)
        script = "set -eu\n" + _GATE + text
        env = step_env(self.plan, workspace, self.variables)
        self._tail.clear()
        argv = ["sh", "-c", script]
        encoded = os.fsencode(script)
        if len(encoded) > SH_C_BYTES:
            # one argument may not pass 128 KiB (MAX_ARG_STRLEN), a script file may: the step
            # then runs as `diskwright plan | sh` runs it
            argv = ["sh", _write_script(workspace, encoded)]
        gate_r, gate_w = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=gate_r,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=workspace,
                start_new_session=True,
                # each stream pauses its pipe once it holds data: what arrives while pump()
                # waits stays in the pipe and comes in one read (pump() uses read(n) only)
                limit=1,
            )
        finally:
            os.close(gate_r)
        try:
            self._proc = proc
            self._tell_watchdog(f"pgid {proc.pid}")
            with contextlib.suppress(OSError):
                os.write(gate_w, b"go\n")
        finally:
            os.close(gate_w)
        captured: list[bytes] = []
        meters = [OWN.meter()] + ([step.progress.meter(lambda a: self._value(a, workspace))]
                                  if step.progress else [])
        every_line = step.progress is not None and step.progress.how == "files"
        self._last_fraction = -1.0

        async def pump(stream: asyncio.StreamReader, name: str) -> None:
            buf = b""
            reads = 0
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    break
                reads += 1
                if reads > _EAGER_READS and len(chunk) < 16384:
                    # a chatty tool (mkfs.erofs 1.5 writes a line per file): let its output
                    # gather in the pipe, one wake-up per 50 ms, not one per write (20,000
                    # for 20,000 files: 0.2 s of this process' CPU)
                    await asyncio.sleep(_GATHER_SECONDS)
                if step.kind == "capture" and name == "stdout":
                    captured.append(chunk)
                    continue
                if not every_line:
                    # a status line ended by a bare CR is overwritten by the next at once on
                    # a terminal (mkfs.erofs 1.5 prints one per file): keep the last of a run
                    buf = _OVERWRITTEN.sub(b"", buf + chunk)
                    *pieces, buf = _LINE_END.split(buf)
                    for raw in pieces[0::2]:
                        self._line(step, raw, name, meters)
                    continue
                # the step's reader counts every line (mkfs.erofs names each file it starts
                # on); the log and the screen still get the last of a run only
                *pieces, buf = _LINE_END.split(buf + chunk)
                lines = list(zip(pieces[0::2], pieces[1::2], strict=True))
                for k, (raw, end) in enumerate(lines):
                    shown = not (end == b"\r" and k + 1 < len(lines) and lines[k + 1][1] == b"\r")
                    self._line(step, raw, name, meters, shown=shown)
            if buf:
                self._line(step, buf, name, meters)

        assert proc.stdout is not None and proc.stderr is not None
        await asyncio.gather(pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr"))
        rc = await proc.wait()
        self._proc = None
        _close_transport(proc)
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

    def _line(
        self, step: Step, raw: bytes, stream: str, meters: list[Meter], *, shown: bool = True
    ) -> None:
        line = _CSI.sub("", raw.decode("utf-8", "replace")).rstrip()
        if not line:
            return
        for meter in meters:
            reading = meter.read(line)
            if reading is not None:
                if shown:  # the log keeps what a terminal would have shown
                    self._write_log(line)
                self._progress(step, reading)
                return
        if not shown:
            return
        self._write_log(line)
        self._tail.append(line)
        self.on_event(Output(step.id, line, stream))

    def _progress(self, step: Step, reading: Reading) -> None:
        """A Progress event within the step's share of the build's weight.

        A tool may say it a thousand times a second (mkfs.erofs, a line per file): an
        event goes out when the step moved by half a percent, or reached its end.
        """
        fraction = reading.fraction
        if fraction < 1.0 and fraction - self._last_fraction < 0.005:
            return
        self._last_fraction = fraction
        overall = (self._done_weight + step.weight * fraction) / (self._total_weight or 1.0)
        self.on_event(Progress(step.id, fraction, overall, reading.done, reading.total))

    async def _run_commit(self, step: Step, workspace: str) -> None:
        """The commit runs to its end even when cancelled: it is all or nothing, and
        what we then say about the outputs must be true."""
        task = asyncio.ensure_future(self._run_step(step, workspace))
        interrupted = False
        while True:
            try:
                await asyncio.shield(task)
                break
            except asyncio.CancelledError:
                if task.done():
                    break
                interrupted = True
        task.result()  # BuildFailed: the commit rolled back, nothing was written
        if interrupted:
            self._note("the cancel came during the final commit, which completed: the outputs "
                       "are written")

    async def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is not None:
            _close_transport(proc)
            self._proc = None
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
        _close_transport(proc)
        self._proc = None


def _close_transport(proc: asyncio.subprocess.Process) -> None:
    """Close the step's pipes while the loop still runs: left to the garbage collector
    after asyncio.run has closed the loop, they print "Event loop is closed" (SIGTERM)."""
    transport = getattr(proc, "_transport", None)
    if transport is not None and proc.returncode is not None:
        with contextlib.suppress(Exception):
            transport.close()


_EAGER_READS = 64  # reads per stream a step gets at once; later small ones wait a little
_GATHER_SECONDS = 0.05  # a tool writing under 16 KiB in that time is never held up by it
_LINE_END = re.compile(rb"(\r\n|\r|\n)")
# a line ended by a bare CR, at a line's start, when the next line also ends so (no
# backtracking inside a line: the look-behind fails anywhere but at a line's start)
_OVERWRITTEN = re.compile(rb"(?<![^\r\n])[^\r\n]*\r(?!\n)(?=[^\r\n]*\r(?!\n))")
_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # a terminal's cursor/erase codes ("\x1b[K")

_GATE = 'IFS= read -r _dw_gate || exit 125\nexec </dev/null\nunset _dw_gate\n'
SH_C_BYTES = 64 * 1024  # longer steps run from a file in the workspace
STEP_SCRIPT = "diskwright-step.sh"


def _write_script(workspace: str, text: bytes) -> str:
    """The step's text as a file in the workspace (replaced step by step, never followed)."""
    path = os.path.join(workspace, STEP_SCRIPT)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(text)
    return path


def _hold_owner(folder: str) -> int:
    """An `.owner` file locked for as long as the build (and its watchdog) lives."""
    fd = os.open(
        os.path.join(folder, OWNER_FILE),
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
    )
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def clean_leftovers(outputs: list[str]) -> list[str]:
    """Remove what a killed build of ours left beside these outputs; one line per removal.

    Ours: `.diskwright-*` folders holding an `.owner` file nobody holds a lock on,
    and unheld `.diskwright-*.lock` files. Anything else is left alone.
    """
    said: list[str] = []
    folders = sorted({os.path.dirname(real_output(o)) for o in outputs})
    for folder in folders:
        try:
            names = [n for n in os.listdir(folder) if n.startswith(".diskwright-")]
        except OSError:
            continue
        for name in sorted(names):
            path = os.path.join(folder, name)
            if _stale_owner(path):
                remove_workspace(path)
                said.append(f"removed the leftovers of an interrupted build: {path}")
    return said


def _stale_owner(path: str) -> bool:
    """True for a folder of ours whose build is gone (its `.owner` lock is free),
    or a lock file nobody holds."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISREG(st.st_mode) and path.endswith(".lock"):
        target = path
    elif stat.S_ISDIR(st.st_mode):
        target = os.path.join(path, OWNER_FILE)
    else:
        return False
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            raise
        return True
    finally:
        os.close(fd)


def _copy_excl(src: Path, dst: Path) -> None:
    """Copy the log to a name that must not exist yet (never through a link)."""
    with contextlib.suppress(OSError):
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644)
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out)


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
    "PROGRESS_PREFIX",
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
