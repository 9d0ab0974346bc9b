"""`diskwright wizard --plain`: the wizard's questions as linear prompts (questionary).

For terminals where a full-screen app is unwelcome (serial consoles, screen
readers, logs). Every answer is checked by the same profile model the
Textual wizard uses, the end shows the same estimate and plan, and the result
is the same Profile. Ctrl-C anywhere leaves with "nothing was written".
"""

from __future__ import annotations

import asyncio
import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import questionary
from questionary import Choice

from ..core.errors import Cancelled, DiskwrightError, ProfileError, ProfileErrors
from ..core.fs import DEFAULT_FS, spec_for
from ..core.zfs import edit as zedit
from ..core.zfs.props import FS_PROPERTIES, POOL_PROPERTIES
from .fsforms import fs_choices, fs_help, has_label, option_fields
from .model import (
    COMPRESSION_HELP,
    FORMAT_HELP,
    REGISTRATION_HELP,
    ROLE_FS,
    ROLE_HELP,
    STEP_TITLES,
    TABLE_HELP,
    WIZARD_STEPS,
    Analysis,
    Draft,
    PathKey,
    analyse,
    blank_draft,
    coupled_filesystem,
    describe_field,
    error_text,
    field_name,
    load_draft,
    role_words,
    set_in,
    step_of,
)
from .report import EXIT_CANCELLED, EXIT_INPUT, EXIT_OK, print_estimate, report_error
from .report import err as _err
from .zfswords import POOL_NODE, about, add_words, heading, remove_words, rename_words

ROLES = ("root", "esp", "data", "store", "swap", "bios-boot", "zfs")
FILESYSTEMS = fs_choices()


# plain mode's steps: the Textual wizard's, with the per-partition ones asked together
EDIT_STEPS = (
    ("Source (folder, Nix closure, extra files)", "source"),
    ("Disks, partitions, filesystems and sizes", "layout"),
    ("Output files (path, format, compression)", "output"),
    ("Profile name", "name"),
)
PLAIN_STEP = {s.key: s.plain for s in WIZARD_STEPS}  # wizard step → the section above


class Quit(Exception):
    """The person chose to stop; nothing was written."""


def _model_errors(data: dict[str, Any], base: Path) -> list[ProfileError]:
    from ..core.profile import only_own_options, parse_profile

    try:
        parse_profile(only_own_options(copy.deepcopy(data)), base)
    except ProfileErrors as err:
        return list(err.errors)
    return []


class PlainWizard:
    """The same steps as the Textual wizard, asked one question at a time."""

    def __init__(self, out: Callable[[str], None] | None = None) -> None:
        self.draft: Draft = blank_draft()
        self.scan: Any = None
        self.scan_error: ProfileError | None = None  # e.g. a closure Nix cannot resolve
        self.saved_to: Path | None = None
        self.created: Path | None = None  # the copy of a preset made at the start
        self.say = out or (lambda text: print(text, flush=True))

    # ------------------------------------------------------------ asking

    def _ask(self, question: questionary.Question) -> Any:
        try:
            answer = question.unsafe_ask()
        except EOFError:
            raise KeyboardInterrupt from None
        if answer is None:
            raise KeyboardInterrupt
        return answer

    def validator(self, path: PathKey, convert: Callable[[str], Any]) -> Callable[[str], Any]:
        """Check one answer with the profile model; return its own words on failure."""
        name = field_name(path)

        def check(text: str) -> bool | str:
            try:
                value = convert(text)
            except ValueError as err:
                return str(err)
            data = copy.deepcopy(self.draft.data)
            set_in(data, path, value)
            mine = [e for e in _model_errors(data, self.draft.base_dir)
                    if e.field == name or e.field.startswith(name + ".")]
            return True if not mine else error_text(mine[0])

        return check

    def text(self, path: PathKey, message: str, *, optional: bool = False,
             number: type | None = None, instruction: str = "") -> Any:
        """Ask for a value at `path`, validated by the model, and store it."""
        current = self.draft.get(path)

        def convert(text: str) -> Any:
            text = text.strip()
            if not text and optional:
                return None
            if number is not None:
                try:
                    return number(text)
                except ValueError:
                    raise ValueError(f"{text!r} is not a number") from None
            return text

        hint = f" ({instruction})" if instruction else ""
        answer = self._ask(questionary.text(
            f"{message}{hint}:", default="" if current is None else str(current),
            validate=self.validator(path, convert)))
        value = convert(answer)
        self.draft.set(path, value)
        return value

    def choose(self, path: PathKey | None, message: str, options: list[tuple[str, Any]],
               explain: dict[Any, str] | None = None, default: Any = None) -> Any:
        current = self.draft.get(path) if path is not None else default
        choices = [Choice(title, value=value, description=(explain or {}).get(value))
                   for title, value in options]
        values = [v for _, v in options]
        answer = self._ask(questionary.select(
            message, choices=choices,
            default=next((c for c in choices if c.value == current), None)
            if current in values else None))
        if path is not None:
            self.draft.set(path, answer)
        return answer

    def confirm(self, message: str, default: bool = False) -> bool:
        """y/N that waits for Enter: a one-key answer let the Enter after `y` answer the next."""
        return bool(self._ask(questionary.confirm(message, default=default, auto_enter=False)))

    # ------------------------------------------------------------ the steps

    def start(self, profile_path: str | None) -> bool:
        """Returns True when the profile should be edited, False to go straight to review."""
        from ..core.presets import BLANK_WHO_FOR, presets

        if profile_path:
            path = Path(profile_path).expanduser()
            if path.exists():
                self.draft = load_draft(path)
                self.say(f"Opened {self.draft.path}")
                return self.confirm("Go through the steps to change it?", default=False)
        options = [(f"{p.title} — for {p.who_for}", f"preset:{p.name}") for p in presets()]
        options += [("Open a saved profile…", "open"), (f"Start blank — for {BLANK_WHO_FOR}",
                                                        "blank")]
        choice = self.choose(None, "Start from:", options)
        if choice == "open":
            def exists(text: str) -> bool | str:
                p = Path(text).expanduser()
                return True if p.is_file() else f"{p} is not a file"

            answer = self._ask(questionary.path("Profile (.toml):", validate=exists))
            self.draft = load_draft(Path(answer).expanduser())
            return self.confirm("Go through the steps to change it?", default=False)
        if choice == "blank":
            self.draft = blank_draft()
            if profile_path:
                self.draft.path = Path(profile_path).expanduser().resolve()
        else:
            self.draft = self.copy_preset(choice.removeprefix("preset:"), profile_path)
        return True

    def copy_preset(self, name: str, profile_path: str | None) -> Draft:
        """Copy the example to where the person says and open that copy, as the wizard does.

        Opening the example in place would save paths into the install folder; the
        copy keeps every path relative to itself.
        """
        from ..core.presets import new_profile_name, preset

        chosen = preset(name)
        base = Path.cwd()
        default = profile_path or new_profile_name(base, name)
        demo = chosen.demo_paths()
        names = ", ".join(f"{n}/" if (chosen.path.parent / n).is_dir() else n for n in demo)
        while True:
            answer = self._ask(questionary.text(
                f"New profile file (the {chosen.title} example is copied there; "
                f"relative to {base}):", default=str(default))).strip()
            if not answer:
                self.say("  ✗ type a file name for the new profile, e.g. my-profile.toml")
                continue
            path = Path(answer).expanduser()
            path = path if path.is_absolute() else base / path
            if path.is_dir():
                path = path / new_profile_name(path, name)
            if not path.name.endswith(".toml"):
                path = path.with_name(path.name + ".toml")
            with_demo = bool(demo) and self.confirm(
                f"Copy the example's demo files too ({names})?", default=True)
            clash = chosen.clashes(path, with_demo=with_demo)
            if clash:
                self.say(f"  ✗ {clash[0]} exists; choose another name or folder")
                default = answer
                continue
            if path.parent.exists() and not path.parent.is_dir():
                self.say(f"  ✗ {path.parent} is not a folder")
                continue
            try:
                target = chosen.copy_to(path.parent, with_demo=with_demo, name=path.name)
            except OSError as err:
                self.say(f"  ✗ could not copy the example to {path}: {err.strerror or err}")
                continue
            self.created = target
            self.say(f"Copied the {chosen.title} example to {target}"
                     + (" with its demo files" if with_demo else ""))
            return load_draft(target)

    def step_source(self) -> None:
        self.say("\n== Source: the files that become the image ==")
        src = self.draft.data.get("source") or {}
        has_folder = bool(src.get("path"))
        has_closure = bool(src.get("closure"))
        now = "both" if has_folder and has_closure else ("closure" if has_closure else "folder")
        kind = self.choose(None, "What goes into the image?", [
            ("A folder of files (a root tree, a firmware folder…)", "folder"),
            ("A Nix closure (store paths, ./result links, installables)", "closure"),
            ("Both: a folder, plus a Nix closure under /nix/store", "both"),
            ("Nothing from the host (empty volumes only)", "none"),
        ], default=now)
        if kind in ("folder", "both"):
            self.ask_folder()
        else:
            self.draft.set(("source", "path"), None)
        if kind in ("closure", "both"):
            self.ask_closure()
        else:
            for key, empty in (("closure", []), ("store", None), ("registration_file", None)):
                self.draft.set(("source", key), empty)
            if self.draft.get(("source", "registration")) not in ("auto", "none"):
                self.draft.set(("source", "registration"), "auto")
        self.rescan()
        files = list(self.draft.get(("source", "files")) or [])
        if files:
            self.say(f"{len(files)} extra file(s): " + ", ".join(
                f"{f.get('source')} → {f.get('target')}" for f in files))
            if self.confirm("Remove the extra files?", default=False):
                files = []
                self.draft.set(("source", "files"), [])
        while self.confirm("Add an extra file to the image?", default=False):
            i = len(files)
            files.append({"source": "", "target": "", "mode": "0644"})
            self.draft.set(("source", "files"), copy.deepcopy(files))
            base = ("source", "files", i)
            src_file = self.text((*base, "source"), "  Host file")
            self.text((*base, "target"), "  Path inside the image", instruction="e.g. /etc/motd")
            self.text((*base, "mode"), "  Mode", instruction="octal, e.g. 0644")
            files[i] = dict(self.draft.get(base))
            if not self.draft.resolve(src_file).is_file():
                self.say(f"  note: {self.draft.resolve(src_file)} does not exist yet")

    def ask_folder(self) -> None:
        def folder(text: str) -> bool | str:
            text = text.strip()
            if not text:
                return "give a folder (or choose another kind of source)"
            p = self.draft.resolve(text)
            return True if p.is_dir() else f"{p} is not a folder — give an existing directory"

        current = self.draft.get(("source", "path")) or ""
        answer = self._ask(questionary.path(
            f"Source folder (relative to {self.draft.base_dir}):", default=str(current),
            only_directories=True, validate=folder)).strip()
        self.draft.set(("source", "path"), answer)

    def ask_closure(self) -> None:
        b = ("source",)
        self.say("  The closure: every store path these need is placed under /nix/store.")
        self.words((*b, "closure"), "  Closure",
                   instruction="store paths, ./result links or installables, space-separated")
        self.text((*b, "store"), "  Nix store folder", optional=True,
                  instruction="the DIR of nix-store --store DIR; empty = the system's /nix")
        self.choose((*b, "registration"), "  Registration (so the guest's Nix knows the paths):",
                    [(f"{k} — {v}", k) for k, v in REGISTRATION_HELP.items()])
        if self.draft.get((*b, "registration")) in ("beside", "both", "auto"):
            self.text((*b, "registration_file"), "  Registration file beside the output",
                      optional=True, instruction="empty = the store image's path + "
                      ".nix-path-registration")

    def words(self, path: PathKey, message: str, *, instruction: str = "") -> list[str]:
        """A list of words on one line (closure entries), checked by the model."""
        current = self.draft.get(path) or []

        def convert(text: str) -> list[str]:
            return text.split()

        hint = f" ({instruction})" if instruction else ""
        answer = self._ask(questionary.text(
            f"{message}{hint}:", default=" ".join(map(str, current)),
            validate=self.nonempty(self.validator(path, convert))))
        value = convert(answer)
        self.draft.set(path, value)
        return value

    @staticmethod
    def nonempty(check: Callable[[str], Any]) -> Callable[[str], Any]:
        def inner(text: str) -> Any:
            return "give at least one entry" if not text.strip() else check(text)

        return inner

    def rescan(self) -> None:
        """Read the source the way every front end does (a folder, a Nix closure, or both)."""
        from ..core.units import format_size
        from .model import scan_draft_source

        self.scan_error = None
        if not self.draft.has_source():
            self.scan = None
            return

        def progress(entries: int, nbytes: int) -> None:
            sys.stderr.write(f"\r  scanning… {entries:,} entries")
            sys.stderr.flush()

        try:
            self.scan = scan_draft_source(self.draft.data, self.draft.base_dir, progress)
        except ProfileError as err:
            sys.stderr.write("\r")
            self.scan = None
            self.scan_error = err
            self.say(f"  ✗ {describe_field(err.field, self.draft.data)}: {error_text(err)}")
            return
        except OSError as err:
            sys.stderr.write("\r")
            self.scan = None
            self.say(f"  ✗ cannot read the source: {err.strerror or err}")
            return
        sys.stderr.write("\r")
        if self.scan is None:
            return
        total = self.scan.total()
        self.say(f"  {total.files:,} files, {total.dirs:,} folders, {format_size(total.bytes)}")

    def step_layout(self) -> None:
        d = 0
        while d < len(self.draft.disks):
            disk = self.draft.disks[d]
            self.say(f"\n== Disk {d + 1}: {disk.get('name')} ==")
            self.text(("disks", d, "name"), "Disk name")
            self.choose(("disks", d, "table"), "Partition table:",
                        [(t, t) for t in ("gpt", "mbr", "none", "hybrid")], TABLE_HELP)
            p = 0
            while p < len(self.draft.parts(d)):
                self.step_partition(d, p)
                p += 1
                table = self.draft.get(("disks", d, "table"))
                limit = {"none": 1, "mbr": 4, "hybrid": 3}.get(str(table), 128)
                if p == len(self.draft.parts(d)) and p < limit and self.confirm(
                        "Add another partition to this disk?", default=False):
                    self.draft.add_partition(d)
            self.step_output(d)
            d += 1
            if d == len(self.draft.disks) and self.confirm("Add another disk (output file)?",
                                                            default=False):
                self.draft.add_disk()

    def step_partition(self, d: int, p: int) -> None:
        b: tuple[Any, ...] = ("disks", d, "partitions", p)
        self.say(f"\n-- {self.draft.part_title(d, p)} --")
        role = self.choose((*b, "role"), "Role:", [(r, r) for r in ROLES], ROLE_HELP)
        fs_now = str(self.draft.get((*b, "filesystem"), DEFAULT_FS))
        self.draft.set_role(d, p, role)
        if role in ROLE_FS:  # the role needs one filesystem (esp: vfat…): it is set with it
            fs = coupled_filesystem(role, fs_now)
            self.say(f"  filesystem: {fs} ({role_words(role)} needs it)")
        else:  # one that holds files (swap and raw space come with their roles)
            fs = self.choose((*b, "filesystem"), "Filesystem:",
                             [(f, f) for f in FILESYSTEMS if spec_for(f).rules.contents],
                             fs_help())
        spec = spec_for(fs)
        rules = spec.rules
        if rules.contents and rules.fstype is not None:  # one mount of the device (not a pool)
            self.text((*b, "mount_point"), "Mount point", optional=True,
                      instruction="e.g. / or /boot; empty = not mounted")
            self.text((*b, "contents"), "Contents from the source", optional=True,
                      instruction="empty = same as the mount point")
        if has_label(fs):
            self.text((*b, "label"), "Label", optional=True, instruction="empty = none")
        for f in option_fields(fs):  # what core/fs/<name>.py asks plain mode to ask
            if not f.plain:
                continue
            path = (*b, fs, f.key)
            if f.choices:
                self.choose(path, f.plain, f.options(), f.explain or None, default=f.default)
            else:
                self.text(path, f.plain.rstrip(":"), optional=f.optional,
                          number=f.kind if f.kind in (int, float) else None, instruction=f.help)
        self.text((*b, "size"), "Size", instruction="auto or e.g. 512MiB")
        if self.draft.get((*b, "size")) == "auto" and rules.contents:
            self.text((*b, "headroom"), "Headroom", instruction="auto, 20% or 256MiB")
        if spec.own_step:  # its options have a step of their own: the pool's
            self.step_zfs(d, p)

    # ------------------------------------------------------------ the ZFS pool

    def step_zfs(self, d: int, p: int) -> None:
        """The pool as the wizard's ZFS step edits it: datasets by name, each one's
        mount point and properties, volumes, the pool's settings. Every change is one of
        core/zfs/edit.py's, judged by the profile model before it is kept."""
        path = ("disks", d, "partitions", p, "zfs")
        while True:
            pool = self._pool(path)
            self.say(self._zfs_tree(pool))
            names = [e.name for e in zedit.entries(pool)]
            what = self.choose(None, "ZFS pool — what next?", [
                ("Done with the pool", "done"),
                ("Add a dataset", "add"),
                ("Add a volume", "volume"),
                ("A dataset's mount point and properties", "edit"),
                ("Rename a dataset", "rename"),
                ("Remove a dataset", "remove"),
                ("Pool settings (name, helper VM, zpool create -o)", "pool"),
            ], default="done")
            if what == "done":
                return
            if what in ("add", "volume"):
                self.zfs_add(path, volume=what == "volume")
            elif what == "pool":
                self.zfs_properties(path, POOL_NODE)
            elif what == "remove":
                gone = [n for n in names if n != zedit.pool_name(pool)]
                if not gone:
                    self.say("  the pool holds no dataset to remove")
                    continue
                name = self.pick_dataset("Remove which dataset?", gone)
                if self.confirm("  " + remove_words(name, zedit.subtree(pool, name))):
                    self._keep(path, zedit.remove(pool, name))
            else:
                name = self.pick_dataset(
                    "Which dataset?" if what == "edit" else "Rename which dataset?", names)
                if what == "edit":
                    self.zfs_properties(path, name)
                else:
                    self.zfs_rename(path, name)

    def _pool(self, path: PathKey) -> dict[str, Any]:
        pool = self.draft.get(path)
        return copy.deepcopy(pool) if isinstance(pool, dict) else {}

    def _zfs_tree(self, pool: dict[str, Any]) -> str:
        """The dataset tree, one line each, with what is set on it (as the wizard's tree)."""
        lines = [f"  pool {zedit.pool_name(pool)}:"]
        for e in zedit.entries(pool):
            depth = e.name.count("/")
            own = [r for r in zedit.rows(pool, e.name) if r.source == "local"]
            bits = [f"mounted at {r.value}" if r.key == "mount_point" else f"{r.key}={r.value}"
                    for r in own if r.key != "mountpoint" or r.value != "legacy"]
            kind = {"root": " (root file system)", "volume": " (volume)"}.get(e.kind, "")
            if e.implicit:
                kind = " (made as a parent)"
            lines.append("    " + "  " * depth + e.leaf + kind
                         + (" — " + ", ".join(bits) if bits else ""))
        return "\n".join(lines)

    def pick_dataset(self, message: str, names: list[str]) -> str:
        return str(self.choose(None, message, [(n, n) for n in names]))

    def _zfs_check(self, path: PathKey, make: Callable[[dict[str, Any]], dict[str, Any]]
                   ) -> tuple[dict[str, Any] | None, str]:
        """The pool after an edit, or None and why not: the edit's own refusal, else the
        profile model's words on what the edit broke (problems already there are not its)."""
        pool = self._pool(path)
        try:
            new = make(pool)
        except ValueError as err:
            return None, str(err)
        name = field_name(path)

        def problems(value: dict[str, Any]) -> dict[str, ProfileError]:
            data = copy.deepcopy(self.draft.data)
            set_in(data, path, value)
            return {e.field + e.message: e for e in _model_errors(data, self.draft.base_dir)
                    if e.field == name or e.field.startswith(name + ".")}

        before = problems(pool)
        new_ones = [e for k, e in problems(new).items() if k not in before]
        if new_ones:
            return None, error_text(new_ones[0])
        return new, ""

    def _keep(self, path: PathKey, pool: dict[str, Any]) -> None:
        self.draft.set(path, pool)

    def _zfs_ask(self, path: PathKey, message: str, make: Callable[[dict[str, Any], str],
                 dict[str, Any]], *, default: str = "", instruction: str = "") -> str:
        """Ask one line; keep the edit `make` makes of it once the edit and the model agree."""
        def check(text: str) -> bool | str:
            new, why = self._zfs_check(path, lambda pool: make(pool, text))
            return True if new is not None else why

        hint = f" ({instruction})" if instruction else ""
        text = str(self._ask(questionary.text(f"  {message}{hint}", default=default,
                                              validate=check)))
        new, _ = self._zfs_check(path, lambda pool: make(pool, text))
        if new is not None:
            self._keep(path, new)
        return text

    def zfs_add(self, path: PathKey, *, volume: bool) -> None:
        parent = zedit.pool_name(self._pool(path))
        title, hint = add_words(parent, volume=volume)
        self.say(f"  -- {title} --")
        name = self._zfs_ask(path, hint, lambda pool, t: zedit.add(pool, t.strip(),
                             volume=volume), default=parent + "/")  # fmt: skip
        self.zfs_properties(path, name.strip())

    def zfs_rename(self, path: PathKey, name: str) -> None:
        root = name == zedit.pool_name(self._pool(path))
        self._zfs_ask(path, f"Rename {name}: " + rename_words(name, root=root),
                      lambda pool, t: pool if t.strip() == name
                      else zedit.rename(pool, name, t.strip()), default=name)

    def zfs_properties(self, path: PathKey, node: str) -> None:
        """A dataset's (or the pool's) values: set here / inherited / default, as zfs get
        tells them; then its mount point or volume size, then `name = value` lines."""
        pool = self._pool(path)
        kind = zedit.kind_of(pool, node) if node != POOL_NODE else None
        self.say(f"  {heading(pool, node)}")
        self.say(self._rows_text(pool, node))
        target = None if node == POOL_NODE else node
        if kind in ("root", "filesystem"):
            self._zfs_ask(path, "Mount point", lambda pool, t: zedit.set_value(
                pool, target, "mount_point", t.strip() or None),
                default=(self._row(pool, node, "mount_point") or zedit.Row("", "", "unset")
                         ).value or "",
                instruction=zedit.EXTRA_HELP["mount_point"] + "; empty = none")  # fmt: skip
        elif kind == "volume":
            vol = pool.get("volumes", {}).get(node, {})
            self._zfs_ask(path, "Size", lambda pool, t: zedit.set_value(
                pool, target, "size", t.strip()), default=str(vol.get("size", "1GiB")),
                instruction=zedit.EXTRA_HELP["size"])  # fmt: skip
            sparse = self.confirm("  " + zedit.EXTRA_HELP["sparse"] + "?",
                                  default=bool(vol.get("sparse")))
            self._keep(path, zedit.set_value(self._pool(path), target, "sparse",
                                             True if sparse else None))
        what = "Pool setting or property" if node == POOL_NODE else "Property"
        while True:
            line = self._zfs_ask(
                path, f"{what} as name = value", lambda pool, t: self._zfs_line(pool, target, t),
                instruction="empty to finish; name = to inherit again; ? lists them")
            if not line.strip():
                return
            if line.strip() == "?":
                self.say(self._catalog(node, kind))
                continue
            key = line.split("=", 1)[0].strip()
            row = self._row(self._pool(path), node, key)
            if row is not None:
                self.say(f"  {key} = {row.value if row.value is not None else '—'} "
                         f"({row.source_text})")

    @staticmethod
    def _zfs_line(pool: dict[str, Any], target: str | None, text: str) -> dict[str, Any]:
        """`name = value` (or `name =` to unset) as one edit; empty or `?` changes nothing."""
        text = text.strip()
        if not text or text == "?":
            return pool
        if "=" not in text:
            about_it = about(POOL_NODE if target is None else target, text)
            raise ValueError(f"write it as {text} = value — {about_it}")
        key, _, value = (part.strip() for part in text.partition("="))
        if not key:
            raise ValueError("name the property first (? lists them)")
        if key == "pool" and not value:
            raise ValueError("the pool needs a name; type a new one")
        return zedit.set_value(pool, target, key, zedit.value_from_text(value) if value
                               else None)

    @staticmethod
    def _row(pool: dict[str, Any], node: str, key: str) -> zedit.Row | None:
        rows = zedit.pool_rows(pool) if node == POOL_NODE else zedit.rows(pool, node)
        return next((r for r in rows if r.key == key), None)

    @staticmethod
    def _rows_text(pool: dict[str, Any], node: str) -> str:
        """What is set here or inherited (defaults are many: `?` lists every property)."""
        rows = zedit.pool_rows(pool) if node == POOL_NODE else zedit.rows(pool, node)
        shown = [r for r in rows if r.source in ("local", "inherited")] or rows[:3]
        width = max(len(r.key) for r in shown)
        return "\n".join(f"    {r.key:<{width}}  {r.value if r.value is not None else '—'}"
                          f"  ({r.source_text})" for r in shown)

    @staticmethod
    def _catalog(node: str, kind: str | None) -> str:
        """Every property OpenZFS has for this kind of node, its values and default."""
        if node == POOL_NODE:
            keys = [*zedit.SETTINGS, *POOL_PROPERTIES]
        else:
            target = "volume" if kind == "volume" else "filesystem"
            keys = [k for k, p in FS_PROPERTIES.items() if target in p.targets]
        return "\n".join(f"    {k}: {about(node, k)}" for k in keys)

    def step_output(self, d: int) -> None:
        b = ("disks", d, "output")
        self.text((*b, "path"), "Output file", instruction="relative to the profile's folder")
        self.choose((*b, "format"), "Format:", [(f, f) for f in FORMAT_HELP], FORMAT_HELP)
        comp = self.choose((*b, "compression"), "Compression:",
                           [(c, c) for c in COMPRESSION_HELP], COMPRESSION_HELP)
        if comp == "none":
            self.draft.set((*b, "compression_level"), None)

    # ------------------------------------------------------------ the end

    def analysis(self) -> Analysis:
        extra = [self.scan_error] if self.scan_error is not None else []
        return analyse(self.draft.data, self.draft.base_dir, self.scan, force=self.draft.force,
                       path=self.draft.path, extra_errors=extra)

    def edit(self, step: str) -> None:
        """Ask one step's questions again (the model's step names map onto plain mode's)."""
        if step == "source":
            self.step_source()
        elif step in ("filesystem", "layout", "sizes", "zfs"):
            self.step_layout()
        elif step == "output":
            for d in range(len(self.draft.disks)):
                self.say(f"\n== Output of disk {self.draft.disks[d].get('name')} ==")
                self.step_output(d)
        else:
            self.text(("name",), "Profile name")

    def pick_step(self, message: str, problems: dict[str, int], *, quit_label: str) -> str:
        """Every step is offered (with its problem count), so there is always a way back."""
        options = []
        for title, step in EDIT_STEPS:
            n = sum(v for k, v in problems.items() if PLAIN_STEP.get(k, "name") == step)
            mark = f" — ✗ {n} problem{'s' * (n != 1)}" if n else ""
            options.append((f"{title}{mark}", step))
        first = next((step for _, step in EDIT_STEPS
                      if any(PLAIN_STEP.get(k, "name") == step for k in problems)), None)
        return str(self.choose(None, message, [*options, (quit_label, "quit")], default=first))

    def review(self) -> Analysis:
        """Loop until the profile is valid (or the person quits)."""
        while True:
            a = self.analysis()
            if a.crash:
                self.say(f"\n✗ {a.crash}")
                choice = self.pick_step("Change which step?", {}, quit_label="Quit")
                if choice == "quit":
                    raise Quit
                self.edit(choice)
                continue
            problems = [(step_of(e.field), e) for e in a.errors]
            if not problems and a.valid:
                return a
            if not problems:  # the source was not read: read it, or say why it cannot be
                self.rescan()
                a = self.analysis()
                if a.valid:
                    return a
                problems = [(step_of(e.field), e) for e in a.errors]
                if not problems:
                    self.say("\n✗ the source could not be read; check the folder and closure")
                    problems = [("source", ProfileError("source", "cannot be read", ""))]
            self.say("\nThe profile has problems:")
            for step, e in problems:
                self.say(f"  ✗ {STEP_TITLES[step]}: {describe_field(e.field, self.draft.data)}: "
                         f"{error_text(e)}")
            counts: dict[str, int] = {}
            for step, _ in problems:
                counts[step] = counts.get(step, 0) + 1
            choice = self.pick_step("Fix which step?", counts, quit_label="Quit")
            if choice == "quit":
                raise Quit
            self.edit(choice)

    def show(self, a: Analysis) -> None:
        self.say("\n== Estimate ==")
        print_estimate(a.estimate)
        self.say("\n== Plan (exactly what the build runs) ==")
        self.say(a.script.rstrip("\n"))

    def save(self) -> None:
        default = self.draft.path or (self.draft.base_dir / f"{self.draft.get(('name',))}.toml")
        while True:
            answer = self._ask(questionary.text("Save the profile as:", default=str(default)))
            path = Path(answer.strip()).expanduser()
            if not path.is_absolute():
                path = Path.cwd() / path
            if path.is_dir() or not path.parent.is_dir():
                self.say(f"  ✗ {path} is a folder or its folder does not exist")
                continue
            if path.exists() and path != self.draft.path and not self.confirm(
                    f"{path} exists. Replace it?", default=False):
                continue
            self.draft.save(path)
            self.saved_to = path
            self.say(f"Saved {path}")
            return

    def build(self, a: Analysis) -> int:
        from ..core.runner import Runner
        from .progress import BuildDisplay

        if a.existing and not self.draft.force:
            files = ", ".join(a.existing)
            if not self.confirm(f"{files} exists. Replace it?", default=False):
                self.say("Not built: choose another output path and run the wizard again.")
                return EXIT_INPUT
            self.draft.force = True
            a = self.analysis()
        if a.preflight:
            self.say(f"✗ cannot build: {a.preflight}")
            return EXIT_INPUT
        display = BuildDisplay(a.plan)
        runner = Runner(a.plan, display.handle)
        with display:
            result = asyncio.run(runner.run())
        display.summary(result)
        return EXIT_OK

    def run(self, profile_path: str | None) -> int:
        if self.start(profile_path):
            self.step_source()
            self.step_layout()
            self.text(("name",), "Profile name")
        else:
            self.rescan()
        while True:
            a = self.review()
            self.show(a)
            choice = self.choose(None, "What now?", [
                ("Save the profile and build", "save+build"),
                ("Save the profile only", "save"),
                ("Build without saving", "build"),
                ("Go back and change a step", "back"),
                ("Quit without writing anything", "quit"),
            ], default="save+build")
            if choice == "back":
                step = self.pick_step("Change which step?", {}, quit_label="Nothing: go on")
                if step != "quit":
                    self.edit(step)
                continue
            if choice == "quit":
                raise Quit
            if "save" in choice:
                self.save()
            if "build" in choice:
                return self.build(self.analysis())
            return EXIT_OK


def run_plain(profile_path: str | None) -> int:
    """Entry point for `diskwright wizard --plain [PROFILE]`."""
    wizard = PlainWizard()
    try:
        return wizard.run(profile_path)
    except (KeyboardInterrupt, Quit, Cancelled):
        if wizard.saved_to is not None:
            print(f"\ncancelled; no image was written (the profile was saved to "
                  f"{wizard.saved_to})", file=sys.stderr, flush=True)
        elif wizard.created is not None:
            print(f"\ncancelled; no image was written (the new profile copied from the "
                  f"example is {wizard.created})", file=sys.stderr, flush=True)
        else:
            print("\ncancelled; nothing was written", file=sys.stderr, flush=True)
        return EXIT_CANCELLED
    except ProfileError as err:
        _err(str(err))
        return EXIT_INPUT
    except DiskwrightError as err:
        return report_error(err)


__all__ = ["PlainWizard", "run_plain"]
