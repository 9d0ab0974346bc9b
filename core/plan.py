"""The Plan: the single source of truth for what runs.

Each Step is a small shell expression built from argv lists. `render_step`
turns it into POSIX shell with every literal through `shlex.quote`; the
preview shows that text, `diskwright plan` prints it, and the Runner executes
exactly that text with `sh -c`, step by step. Values only known while
building (an image's size) are shell variables set by `Capture` steps, so the
printed script and the runner compute them the same way.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .progress import ProgressReader

# ------------------------------------------------------------------ words


@dataclass(frozen=True)
class Var:
    """A shell variable set by an earlier Capture step (or W, the workspace)."""

    name: str


@dataclass(frozen=True)
class Arith:
    """$(( ... )) over variables and integers only — never user text."""

    parts: tuple[str | Var, ...]


@dataclass(frozen=True)
class Word:
    """One argument glued from literal text and variables: 'size='"${P1}"."""

    parts: tuple[str | Var | Arith, ...]


Arg = str | Var | Arith | Word


def w(*parts: str | Var | Arith) -> Word:
    return Word(tuple(parts))


def prefixed(prefix: str, arg: Arg) -> Word:
    """'if='"${W}"/x: a literal prefix glued to another argument."""
    if isinstance(arg, Word):
        return Word((prefix, *arg.parts))
    return Word((prefix, arg))


def ws(path: str) -> Word:
    """A path inside the workspace: "${W}"/name."""
    return Word((Var("W"), "/" + path))


def _render_part(p: str | Var | Arith) -> str:
    if isinstance(p, Var):
        return '"${' + p.name + '}"'
    if isinstance(p, Arith):
        inner = "".join(f"${x.name}" if isinstance(x, Var) else x for x in p.parts)
        return f'"$(({inner}))"'
    return shlex.quote(p) if p else ""


def render_arg(a: Arg) -> str:
    if isinstance(a, Word):
        out = "".join(_render_part(p) for p in a.parts)
        return out or "''"
    return _render_part(a) or "''"


# ----------------------------------------------------------- expressions


@dataclass(frozen=True)
class Cmd:
    argv: tuple[Arg, ...]
    env: tuple[tuple[str, Arg], ...] = ()
    stdin: Arg | None = None
    stdout: Arg | None = None
    stderr_to_stdout: bool = False
    quiet_stderr: bool = False


@dataclass(frozen=True)
class Pipe:
    cmds: tuple[Cmd, ...]


@dataclass(frozen=True)
class Or:
    """Try `first`; if it fails, run `then` (a fallback, e.g. hard links → copy)."""

    first: Expr
    then: Expr


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


Expr = Cmd | Pipe | Or | And


def cmd(
    *argv: Arg,
    env: Mapping[str, Arg] | None = None,
    stdin: Arg | None = None,
    stdout: Arg | None = None,
    stderr_to_stdout: bool = False,
    quiet_stderr: bool = False,
) -> Cmd:
    return Cmd(
        tuple(argv),
        tuple((env or {}).items()),
        stdin=stdin,
        stdout=stdout,
        stderr_to_stdout=stderr_to_stdout,
        quiet_stderr=quiet_stderr,
    )


def render_expr(e: Expr) -> str:
    if isinstance(e, Cmd):
        parts = [f"{k}={render_arg(v)}" for k, v in e.env]
        parts += [render_arg(a) for a in e.argv]
        if e.stdin is not None:
            parts.append("<" + render_arg(e.stdin))
        if e.stdout is not None:
            parts.append(">" + render_arg(e.stdout))
        if e.stderr_to_stdout:
            parts.append("2>&1")
        if e.quiet_stderr:
            parts.append("2>/dev/null")
        return " ".join(parts)
    if isinstance(e, Pipe):
        return " | ".join(render_expr(c) for c in e.cmds)
    if isinstance(e, Or):
        return f"{{ {render_expr(e.first)}; }} || {{ {render_expr(e.then)}; }}"
    if isinstance(e, And):
        return " && ".join(render_expr(i) for i in e.items)
    raise TypeError(f"not an expression: {e!r}")


# ------------------------------------------------------------------ steps


StepKind = Literal["run", "capture", "write"]
Phase = Literal["prepare", "filesystem", "disk", "output", "verify", "finish"]


@dataclass(frozen=True)
class Step:
    """One unit of work the Runner reports on; rendered as one shell statement."""

    id: str
    title: str
    phase: Phase
    expr: Expr | None = None
    kind: StepKind = "run"
    capture: str | None = None  # variable name, for kind="capture"
    value: Arith | None = None  # capture an arithmetic value instead of a command's output
    path: Arg | None = None  # for kind="write": the file written
    content: str = ""  # for kind="write"
    weight: float = 1.0  # about the seconds it takes (see cost): the Overall bar's share
    comment: str = ""
    # Profile paths ("disks[0].partitions[1]") this step follows from, set by the planner so
    # the wizard's preview can mark the commands a form shapes without parsing shell text.
    fields: tuple[str, ...] = ()
    # how the step's tool tells how far it is (its argv asks it to: qemu-img -p); None: it
    # cannot, and only our own `diskwright-progress:` lines, if any, move its bar
    progress: ProgressReader | None = None

    def render(self) -> str:
        return render_step(self)

    def shaped_by(self, path: str) -> bool:
        """True when editing profile field `path` can change this step (a tag or its child)."""
        return any(path == f or path.startswith((f + ".", f + "[")) for f in self.fields)


def cost(nbytes: int, mib_per_s: float, least: float = 0.01) -> float:
    """A step's weight from the bytes it handles (the estimate's) and the rate its tool
    keeps on a small machine, so the Overall bar moves with the time, not the step count."""
    return max(nbytes / (1 << 20) / mib_per_s, least)


def _heredoc_tag(content: str) -> str:
    tag = "DISKWRIGHT_EOF"
    n = 0
    lines = set(content.splitlines())
    while tag in lines:
        n += 1
        tag = f"DISKWRIGHT_EOF_{n}"
    return tag


def render_step(s: Step) -> str:
    if s.kind == "capture":
        assert s.capture
        if s.value is not None:
            return f"{s.capture}={_render_part(s.value)}"
        assert s.expr is not None
        return f'{s.capture}="$({render_expr(s.expr)})"'
    if s.kind == "write":
        assert s.path is not None
        tag = _heredoc_tag(s.content)
        body = s.content if s.content.endswith("\n") or not s.content else s.content + "\n"
        return f"cat >{render_arg(s.path)} <<'{tag}'\n{body}{tag}"
    assert s.expr is not None
    return render_expr(s.expr)


@dataclass
class Plan:
    """Ordered steps plus what the user gets at the end."""

    steps: list[Step]
    outputs: list[str]  # final output paths, absolute
    workspace_parent: str  # the workspace is made here (next to the first output)
    env: dict[str, str] = field(default_factory=dict)  # exported for every step
    warnings: list[str] = field(default_factory=list)
    force: bool = False
    tools: list[str] = field(default_factory=list)  # checked before the first step
    space_needed: int = 0  # bytes the workspace may hold at its fullest
    sources: list[str] = field(default_factory=list)  # must be readable
    # (finished file in the workspace, output path): what the final commit step puts in place
    commit: list[tuple[Arg, str]] = field(default_factory=list)

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def total_weight(self) -> float:
        return sum(s.weight for s in self.steps) or 1.0


def helper_dir() -> str:
    """The folder of the running interpreter, which holds this installation's `diskwright`.

    Not resolved: a venv's python is a symlink to the system one, and the venv's
    bin folder is what holds the script. The Runner puts it first on PATH too.
    """
    return str(Path(sys.executable).parent)


RUN_MARK = "DISKWRIGHT_WORKSPACE"  # names a printed plan's run in its tools' environment


def render_script(plan: Plan, *, header: str = "", helper_bin: str | None = None) -> str:
    """The plan as a POSIX shell script: run it with `sh` to get the same images.

    `helper_bin` (a script that leaves the program, e.g. `diskwright plan`, passes
    `helper_dir()`) goes first on PATH, so the plan's `diskwright helper` steps run
    this same installation from a shell where its venv is not activated. The live
    preview leaves it out: it names a folder of this machine only.
    """
    out = ["#!/bin/sh"]
    if header:
        out += [f"# {line}" if line else "#" for line in header.splitlines()]
    out += ["set -eu", "umask 022"]
    if helper_bin:
        out += [
            "# `diskwright helper` steps run the diskwright that printed this plan",
            f'export PATH={shlex.quote(helper_bin)}:"$PATH:/usr/sbin:/sbin"',
        ]
    else:
        out.append('export PATH="$PATH:/usr/sbin:/sbin"')
    for k, v in sorted(plan.env.items()):
        out.append(f"export {k}={shlex.quote(v)}")
    out.append(
        'W="$(mktemp -d '
        + shlex.quote(plan.workspace_parent.rstrip("/") + "/.diskwright-XXXXXX")
        + ')"'
    )
    # every tool this shell starts carries it: the lock step's holder stops those still
    # running when the shell is killed (core/shlock.py), and only those
    out.append(f'export {RUN_MARK}="$W"')
    # staged copies of a Nix store are read-only: make folders writable, then remove
    out.append("trap 'find \"$W\" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null; "
               "rm -rf \"$W\"' EXIT")
    out.append("trap 'exit 130' INT TERM")
    phase = None
    for s in plan.steps:
        if s.phase != phase:
            phase = s.phase
            out += ["", f"# === {phase} ==="]
        out.append(f"# {s.title}")
        if s.comment:
            out += [f"#   {c}" for c in s.comment.splitlines()]
        out.append(render_step(s))
    out.append("")
    return "\n".join(out)


def step_lines(script: str, plan: Plan) -> list[tuple[int, int]]:
    """Per step, its [first, end) line range in `render_script(plan)`: from its title
    comment to the last line of its command, so a preview can mark and scroll to it."""
    lines = script.split("\n")
    spans: list[tuple[int, int]] = []
    i = 0
    for s in plan.steps:
        title = f"# {s.title}"
        while i < len(lines) and lines[i] != title:
            i += 1
        if i >= len(lines):
            break
        n = 1 + (len(s.comment.splitlines()) if s.comment else 0)
        n += render_step(s).count("\n") + 1
        spans.append((i, i + n))
        i += n
    return spans
