"""What a wizard screen asks for: every change to the wizard's state is one of these messages.

Screens, forms and sections `post_message` them; they bubble up to the app, which
applies each one (its `@on(...)` handlers in tui/app.py) and then brings every form
up to date, so a screen never changes the state itself and never waits for a change
to read its result: what follows from it comes back through the resync.

A change of the profile's shape (add, remove or move a disk or partition; a role,
filesystem or output kind that brings or drops other keys) is a `Reshape`: the
message carries the operation, and the app applies it to the draft
(`Reshape.apply`), selects what it says, resyncs every form and shows its note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from .fsforms import has_label, keeps_uuid
from .model import Draft, Identity, PathKey, role_words


class WizardMessage(Message, namespace="wizard"):
    """A change a screen asks of the wizard (handled by the app, never by a screen)."""


@dataclass(eq=False)
class Edit(WizardMessage, namespace="wizard"):
    """Store `value` at `path` in the draft.

    `structural`: the value changes what the forms show (a table, the extra files,
    a pool's datasets): every form is resynced, not only the fields bound to `path`.
    """

    path: PathKey
    value: Any
    structural: bool = False


@dataclass(eq=False)
class Goto(WizardMessage, namespace="wizard"):
    """Show this step (refused while a build runs, unless it is the build step)."""

    step: str


@dataclass(eq=False)
class Step(WizardMessage, namespace="wizard"):
    """Back (-1) or Next (+1) from the step shown when the app handles it (Next: if valid)."""

    delta: int


@dataclass(eq=False)
class Select(WizardMessage, namespace="wizard"):
    """Select partition `p` of disk `d`: the steps that edit one partition show it."""

    d: int
    p: int


@dataclass(eq=False)
class Rescan(WizardMessage, namespace="wizard"):
    """Scan the source again (`force`: even if its scan is current, and without caches)."""

    force: bool = True


@dataclass(eq=False)
class SetForce(WizardMessage, namespace="wizard"):
    """Whether the build replaces existing output files."""

    force: bool


class Save(WizardMessage, namespace="wizard"):
    """Ask where, then save the profile (Ctrl+S)."""


class Export(WizardMessage, namespace="wizard"):
    """Ask where, then write the plan as a shell script (Ctrl+E)."""


class Open(WizardMessage, namespace="wizard"):
    """Ask for a saved profile and open it (Ctrl+O)."""


class StartBlank(WizardMessage, namespace="wizard"):
    """Open a blank profile."""


@dataclass(eq=False)
class StartPreset(WizardMessage, namespace="wizard"):
    """Copy the preset `name` to where the user says and open the copy."""

    name: str


@dataclass(eq=False)
class Building(WizardMessage, namespace="wizard"):
    """A build started (`running`) or ended; `built`: the outputs a finished build wrote."""

    running: bool
    built: dict[str, Identity] | None = None


# ------------------------------------------------------------------ shape changes


@dataclass
class Reshaped:
    """What a `Reshape` did: the partition to select, and a note to show (or none)."""

    select: tuple[int, int] | None = None
    note: str = ""
    title: str = ""


class Reshape(WizardMessage, namespace="wizard"):
    """A change of the profile's shape; the app applies it, then resyncs every form.

    An operation on "this disk" or "this partition" acts on the selection when the
    app applies it, not when the button was pressed: two quick presses of Remove
    remove two partitions, never one twice.
    """

    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped | None:
        """Change `draft`; None: there was nothing to change (no resync)."""
        raise NotImplementedError


class AddDisk(Reshape, namespace="wizard"):
    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped:
        d = draft.add_disk()
        return Reshaped((d, 0), f"Added disk {draft.disks[d]['name']}: an empty 64 MiB ext4 "
                        "volume.", "Layout")


class RemoveDisk(Reshape, namespace="wizard"):
    """Remove the selected disk (never the last one)."""

    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped | None:
        d = selected[0]
        if len(draft.disks) < 2 or d >= len(draft.disks):
            return None
        name = draft.disks[d].get("name")
        draft.remove_disk(d)
        return Reshaped((max(d - 1, 0), 0), f"Removed disk {name}.", "Layout")


class AddPartition(Reshape, namespace="wizard"):
    """Add a partition at the end of the selected disk."""

    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped:
        d = selected[0]
        p = draft.add_partition(d)
        return Reshaped((d, p), f"Added partition #{p + 1}: an empty 64 MiB ext4 data "
                        "volume — set its role and mount point below.", "Layout")


class RemovePartition(Reshape, namespace="wizard"):
    """Remove the selected partition (never a disk's last one)."""

    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped | None:
        d, p = selected
        if len(draft.parts(d)) < 2 or p >= len(draft.parts(d)):
            return None
        title = draft.part_title(d, p)
        draft.remove_partition(d, p)
        return Reshaped((d, max(p - 1, 0)), f"Removed {title}.", "Layout")


@dataclass(eq=False)
class MovePartition(Reshape, namespace="wizard"):
    """Move the selected partition up (-1) or down (+1); it stays selected."""

    delta: int

    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped:
        d, p = selected
        return Reshaped((d, draft.move_partition(d, p, self.delta)))


@dataclass(eq=False)
class SetRole(Reshape, namespace="wizard"):
    """A partition's role, and the filesystem that role needs (see Draft.set_role)."""

    d: int
    p: int
    role: str

    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped:
        path = ("disks", self.d, "partitions", self.p, "filesystem")
        before = draft.get(path)
        draft.set_role(self.d, self.p, self.role)
        after = draft.get(path)
        if before == after:
            return Reshaped()
        who = role_words(self.role)
        return Reshaped(None, f"{who[0].upper()}{who[1:]} needs {after}: its filesystem is now "
                        f"{after}.", "Role changed")


@dataclass(eq=False)
class SetFilesystem(Reshape, namespace="wizard"):
    """A partition's filesystem; a label or UUID the new one cannot hold is dropped."""

    d: int
    p: int
    filesystem: str

    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped:
        base = ("disks", self.d, "partitions", self.p)
        fs = self.filesystem
        draft.set((*base, "filesystem"), fs)
        dropped = []
        label = draft.get((*base, "label"))
        if label and not has_label(fs):
            draft.set((*base, "label"), None)
            dropped.append(f"label “{label}”")
        uuid = draft.get((*base, "uuid"))
        if uuid and not keeps_uuid(fs, uuid):
            draft.set((*base, "uuid"), None)
            dropped.append(f"UUID {uuid}")
        if not dropped:
            return Reshaped()
        return Reshaped(None, f"{fs} cannot keep the {' and '.join(dropped)}; removed it.",
                        "Filesystem changed")


QCOW2C = "qcow2-compressed"


@dataclass(eq=False)
class SetOutputKind(Reshape, namespace="wizard"):
    """A disk's output `format` or `compression` (`path` ends in one of them).

    The Clusters field comes and goes with qcow2-compressed, and the profile refuses
    compression_type and parallel_writes on any other format; a level goes with "none".
    """

    path: PathKey
    value: Any

    def apply(self, draft: Draft, selected: tuple[int, int]) -> Reshaped:
        out = draft.get(self.path[:-1])
        if self.path[-1] == "format" and self.value != QCOW2C and isinstance(out, dict):
            for key in ("compression_type", "parallel_writes"):
                out.pop(key, None)
        if self.path[-1] == "compression" and self.value == "none":
            draft.set((*self.path[:-1], "compression_level"), None)
        draft.set(self.path, self.value)
        return Reshaped()
