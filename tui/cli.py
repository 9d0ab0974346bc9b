"""`diskwright` command line: build, plan, estimate, validate, export, doctor, schema, wizard.

Exit codes: 0 ok, 1 build failed, 2 bad input, 130 cancelled. Errors the
user can fix are printed as one message each, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import Cancelled, DiskwrightError, PreflightError, ProfileError, ProfileErrors
from .report import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_OK,
    plan_header,
    print_estimate,
    report_error,
)
from .report import err as _err

if TYPE_CHECKING:  # the engine is imported lazily: the wizard paints before it loads
    from ..core.outpaths import OutputLock
    from ..core.plan import Plan
    from ..core.profile import Profile
    from ..core.scan import Scan

def load(path: str, output_dir: str | None = None) -> tuple[Profile, Scan | None]:
    """Load, scan and validate; raises ProfileError(s) for anything wrong."""
    from ..core.planner import validate
    from ..core.profile import load_profile
    from ..core.source import read_source

    profile = load_profile(Path(path))
    _crash_beside[:] = [profile.resolve(d.output.path) for d in profile.disks[:1]]
    if output_dir is not None:
        from pydantic import ValidationError

        out = Path(output_dir).resolve()
        for disk in profile.disks:
            try:
                disk.output.path = str(out / Path(disk.output.path).name)
            except ValidationError as exc:
                problem = exc.errors()[0].get("msg", "").removeprefix("Value error, ")
                raise ProfileError("--output-dir", f"{output_dir}: {problem}",
                                   "choose another folder") from None
        _crash_beside[:] = [Path(d.output.path) for d in profile.disks[:1]]
    scan = read_source(profile)
    validate(profile, scan)
    return profile, scan


# where an unexpected error's traceback goes: beside the first output (and its log)
_crash_beside: list[Path] = []


# ------------------------------------------------------------------ commands


def cmd_validate(args: argparse.Namespace) -> int:
    from ..core.planner import estimate

    profile, scan = load(args.profile)
    est = estimate(profile, scan)
    if args.json:
        print(json.dumps({"ok": True, "warnings": est.warnings}))
    else:
        print(
            f"{args.profile}: valid — {len(profile.disks)} disk(s), "
            f"{sum(len(d.partitions) for d in profile.disks)} partition(s)"
        )
        for w in est.warnings:
            print(f"warning: {w}")
    return EXIT_OK


def cmd_estimate(args: argparse.Namespace) -> int:
    from ..core.planner import estimate

    profile, scan = load(args.profile, args.output_dir)
    est = estimate(profile, scan)
    if args.json:
        print(json.dumps(asdict(est) | {"total_output": est.total_output}, indent=2))
    else:
        print_estimate(est)
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from ..core.plan import helper_dir, render_script
    from ..core.planner import make_plan

    profile, scan = load(args.profile, args.output_dir)
    plan = make_plan(profile, scan, force=args.force)
    if args.json:
        print(json.dumps(plan_json(plan), indent=2))
    else:
        header = plan_header(profile.name, args.profile)
        sys.stdout.write(render_script(plan, header=header, helper_bin=helper_dir()))
    return EXIT_OK


def plan_json(plan: Plan) -> dict[str, object]:
    return {
        "outputs": plan.outputs,
        "tools": plan.tools,
        "steps": [
            {"id": s.id, "title": s.title, "phase": s.phase, "shell": s.render()}
            for s in plan.steps
        ],
    }


def cmd_export(args: argparse.Namespace) -> int:
    from ..core.plan import helper_dir, render_script
    from ..core.planner import make_plan

    profile, scan = load(args.profile, args.output_dir)
    if (
        args.as_ == "repart"
        and args.output
        and (args.output.endswith("/") or Path(args.output).is_dir())
    ):
        from ..core import exports

        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        clashes = [n for n in exports.repart_files(profile, scan) if (folder / n).exists()]
        if clashes and not args.force:
            raise ProfileError(
                "--output",
                f"{folder / clashes[0]} exists",
                "pass --force to replace the definitions",
            )
        for path in exports.write_repart(profile, scan, folder):
            print(f"wrote {path}", file=sys.stderr)
        return EXIT_OK
    if args.as_ == "script":
        plan = make_plan(profile, scan, force=args.force)
        header = plan_header(profile.name, args.profile)
        text = render_script(plan, header=header, helper_bin=helper_dir())
    else:
        from ..core import exports

        text = exports.export(profile, scan, args.as_)
    if args.output and args.output != "-":
        out = Path(args.output)
        if out.exists() and not args.force:
            raise ProfileError("--output", f"{out} exists", "pass --force to replace it")
        out.write_text(text, encoding="utf-8")
        if args.as_ == "script":
            out.chmod(0o755)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from ..core.planner import estimate, make_plan
    from ..core.runner import Runner, preflight

    profile, scan = load(args.profile, args.output_dir)
    plan = make_plan(profile, scan, force=args.force)
    preflight(plan)
    if args.dry_run:
        if args.json:
            print(json.dumps(plan_json(plan) | {"dry_run": True}, indent=2))
        else:
            print(f"dry run: {len(plan.steps)} steps would write:")
            for o in plan.outputs:
                print(f"  {o}")
            print_estimate(estimate(profile, scan))
        return EXIT_OK
    import asyncio  # here, not at the top: every `diskwright helper` step starts this module

    from .progress import BuildDisplay

    display = BuildDisplay(plan, json_mode=args.json, verbose=args.verbose)
    runner = Runner(plan, display.handle, skip_preflight=True)

    async def main() -> object:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await runner.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    with display:
        try:
            result = asyncio.run(main())
        except asyncio.CancelledError:
            raise Cancelled() from None
    display.summary(result)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Boot the built disks in QEMU; with --expect, exit 0 once the text shows on the console."""
    from ..core.boot.run import disks_of
    from ..core.profile import load_profile

    profile = load_profile(Path(args.profile))
    if args.output_dir is not None:
        out = Path(args.output_dir).resolve()
        for disk in profile.disks:
            disk.output.path = str(out / Path(disk.output.path).name)
    disks = disks_of(profile)
    locks = _lock_for_run([p for p, _ in disks])
    try:
        return _run_locked(args, disks)
    finally:
        for lock in locks:
            lock.release()


def _lock_for_run(paths: list[Path]) -> list[OutputLock]:
    """A shared hold on each disk's output lock: a build to it (exclusive) exits 2 naming
    this run, and a run while a build writes it exits 2 naming the build."""
    from ..core.outpaths import OutputLock, real_output

    locks: list[OutputLock] = []
    for p in paths:
        lock = OutputLock(real_output(str(p)))
        try:
            holder = lock.acquire(shared=True)
        except OSError:
            continue  # a folder we cannot lock in (read-only media): nothing can build there
        if holder is not None:
            for held in locks:
                held.release()
            who = f"pid {holder}" if holder > 0 else "another process"
            raise PreflightError(f"a diskwright build ({who}) is writing {p}; wait for it to "
                                 "finish before running the disk")
        locks.append(lock)
    return locks


def _run_locked(args: argparse.Namespace, disks: list[tuple[Path, str]]) -> int:
    from ..core.boot.run import run

    piped = args.expect is not None or args.json

    def show(line: str) -> None:
        if not args.json:
            print(line, flush=True)

    if not args.json:
        names = ", ".join(p.name for p, _ in disks)
        fw = "OVMF (UEFI)" if args.firmware == "uefi" else "SeaBIOS (BIOS)"
        _err(f"booting {names} with {fw}; the disks are not changed "
             "(snapshot=on)" + ("" if piped else "; Ctrl-A X quits"))
    result = run(
        disks,
        firmware=args.firmware,
        expect=args.expect,
        timeout=args.timeout,
        memory=args.memory,
        on_line=show if piped else None,
    )
    if args.json:
        print(json.dumps({"ok": result.ok, "reason": result.reason,
                          "elapsed": round(result.elapsed, 3),
                          "seen_at": None if result.seen_at is None else round(result.seen_at, 3),
                          "last_lines": result.last_lines}, indent=2))
    elif result.ok and args.expect is not None:
        _err(f"saw {args.expect!r} after {result.seen_at:.1f} s")
    elif not result.ok:
        _err(f"run failed: {result.reason}")
        if args.expect is not None:
            print("    last console lines:", file=sys.stderr)
            for line in result.last_lines[-12:]:
                print(f"    | {line}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_schema(args: argparse.Namespace) -> int:
    from ..core.profile import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..core.doctor import report

    rows = report()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return EXIT_OK if all(r.ok or r.optional for r in rows) else EXIT_FAILED
    missing = 0
    for r in rows:
        mark = "ok " if r.ok else ("-- " if r.optional else "!! ")
        where = r.detail
        print(f"{mark} {r.name:<14} {r.purpose:<38} {where}")
        if not r.ok:
            missing += 0 if r.optional else 1
            for distro, hint in r.hints.items():
                print(f"       {distro:<7} {hint}")
    print()
    print(
        "all required tools are present"
        if not missing
        else f"{missing} required tool(s) missing: install them with the commands above"
    )
    return EXIT_OK if not missing else EXIT_FAILED


def cmd_zfs_kit(args: argparse.Namespace) -> int:
    from ..core.zfs.helper import zfs_kit_main

    argv = [args.action]
    if args.kernel:
        argv += ["--kernel", args.kernel]
    if args.modules:
        argv += ["--modules", args.modules]
    if args.force:
        argv.append("--force")
    return zfs_kit_main(argv)


def cmd_helper(args: argparse.Namespace) -> int:
    from ..core.helpers import main as helper_main

    return helper_main(args.rest)


def cmd_wizard(args: argparse.Namespace) -> int:
    if args.plain:
        from .plain import run_plain

        return run_plain(args.profile)
    from .app import run_app

    return run_app(args.profile)


# ------------------------------------------------------------------ parser


def version() -> str:
    """The installed distribution's version (what pip and `--version` report)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("diskwright")
    except PackageNotFoundError:
        return "unknown (not installed; run scripts/setup.sh or pip install .)"


class _Version(argparse.Action):
    """`--version`, looked up only when asked (the wizard's first paint stays quick)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"diskwright {version()}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="diskwright",
        description="Build filesystem and disk images from a profile, or open the wizard.",
    )
    p.add_argument("--version", action=_Version, help="print the installed version and exit")
    sub = p.add_subparsers(dest="command")

    def add(name: str, help_: str, fn: object, *, profile: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        if profile:
            sp.add_argument("profile", help="the profile (.toml)")
        sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.set_defaults(fn=fn)
        return sp

    b = add("build", "build the images a profile describes", cmd_build)
    b.add_argument("--force", action="store_true", help="replace existing output files")
    b.add_argument("--dry-run", action="store_true", help="check everything, build nothing")
    b.add_argument("--output-dir", help="write the outputs into this folder instead")
    b.add_argument("-v", "--verbose", action="store_true", help="print every tool line")
    pl = add("plan", "print the exact shell script a build runs", cmd_plan)
    pl.add_argument("--force", action="store_true", help="plan without the overwrite guard")
    pl.add_argument("--output-dir", help="write the outputs into this folder instead")
    e = add("estimate", "print per-partition, per-disk and output sizes", cmd_estimate)
    e.add_argument("--output-dir", help=argparse.SUPPRESS)
    add("validate", "check a profile and explain what is wrong", cmd_validate)
    x = add("export", "export the plan or the guest configuration", cmd_export)
    x.add_argument(
        "--as",
        dest="as_",
        default="script",
        choices=["script", "nixos", "fstab", "repart"],
        help="what to export",
    )
    x.add_argument(
        "-o",
        "--output",
        help="file to write (default: stdout); for repart, a folder (DIR/) gets one "
        ".conf per partition",
    )
    x.add_argument("--force", action="store_true", help="replace an existing file")
    x.add_argument("--output-dir", help="image outputs into this folder (script)")
    r = add("run", "boot the built disks in QEMU, serial console on the terminal", cmd_run)
    r.add_argument("--firmware", choices=["uefi", "bios"], default="uefi",
                   help="OVMF (uefi, default) or SeaBIOS (bios)")
    r.add_argument("--expect", help="exit 0 as soon as this text appears on the console")
    r.add_argument("--timeout", type=float, help="give up after this many seconds (exit 1)")
    r.add_argument("--memory", type=int, default=512, help="guest memory in MiB (default 512)")
    r.add_argument("--output-dir", help="the outputs were built into this folder")
    add(
        "doctor",
        "list the tools diskwright needs and how to install them",
        cmd_doctor,
        profile=False,
    )
    add("schema", "print the profile's JSON Schema", cmd_schema, profile=False)
    zk = sub.add_parser(
        "zfs-kit",
        help="check or build the ZFS helper VM kit (kernel + initramfs with OpenZFS)",
        description="The kit is assembled from the host's packages and cached; "
        "--kernel/--modules point at a kernel and its modules elsewhere (NixOS, Ubuntu).",
    )
    zk.add_argument("action", choices=["status", "build"], nargs="?", default="status")
    zk.add_argument("--kernel", help="kernel image (or $DISKWRIGHT_ZFS_KERNEL)")
    zk.add_argument(
        "--modules", help="/lib/modules/<version> with zfs.ko (or $DISKWRIGHT_ZFS_MODULES)"
    )
    zk.add_argument("--force", action="store_true", help="rebuild even if a kit is cached")
    zk.set_defaults(fn=cmd_zfs_kit)
    wz = sub.add_parser("wizard", help="open the interactive wizard")
    wz.add_argument("profile", nargs="?", help="a profile to open")
    wz.add_argument("--plain", action="store_true", help="linear prompts, no full-screen app")
    wz.set_defaults(fn=cmd_wizard)
    hp = sub.add_parser("helper")  # internal: steps of a plan call it
    hp.add_argument("rest", nargs=argparse.REMAINDER)
    hp.set_defaults(fn=cmd_helper)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _crash_beside.clear()
    if args.command is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            # no terminal: a full-screen app would print escape codes and wait forever
            parser().print_usage(sys.stderr)
            _err("no terminal for the wizard; name a command (diskwright --help lists them)")
            return EXIT_INPUT
        args = parser().parse_args(["wizard"])
    try:
        return int(args.fn(args))
    except ProfileErrors as err:
        for e in err.errors:
            _err(str(e))
        return EXIT_INPUT
    except DiskwrightError as err:
        return report_error(err, tail=not getattr(args, "json", False))
    except KeyboardInterrupt:
        _err("cancelled; nothing was written")
        return EXIT_CANCELLED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except RecursionError:
        _err("the input nests too deeply to read; simplify it")
        return EXIT_INPUT
    except Exception as err:  # a bug of ours: one sentence here, the details in a file
        _err(f"unexpected error ({type(err).__name__}: {err}); {_crash_report()}")
        return EXIT_FAILED


def _crash_report() -> str:
    """Write the traceback under a new private name beside the first output's log (the
    user's own folder, found again with the image), else in the user's state folder
    ($XDG_STATE_HOME/diskwright): never a shared temp folder, never over a file."""
    import time
    import traceback

    from ..core.outpaths import forbidden_root
    from ..core.safefs import write_new

    text = time.strftime("%Y-%m-%d %H:%M:%S ") + " ".join(sys.argv) + "\n"
    text += traceback.format_exc()
    homes = [(o.parent, o.name + ".crash") for o in _crash_beside if not forbidden_root(o)]
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    homes.append((Path(state) / "diskwright", time.strftime("crash-%Y%m%d-%H%M%S")))
    for n, (folder, stem) in enumerate(homes):
        try:
            if n == len(homes) - 1:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = write_new(folder, stem, ".txt", text)
        except OSError:
            continue
        return f"the traceback is in {path} — please report it"
    return "please report it"


if __name__ == "__main__":
    sys.exit(main())
