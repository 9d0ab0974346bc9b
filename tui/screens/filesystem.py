"""Filesystem step: per partition, the filesystem (explained), its label, UUID and options."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Select, Static

from ...core.fs import DEFAULT_FS, REGISTRY
from .. import messages as msg
from ..fsforms import (
    form_title,
    fs_choices,
    fs_help,
    has_label,
    has_uuid,
    label_hint,
    no_id_note,
    option_fields,
    uuid_hint,
)
from ..model import ROLE_FS
from ..widgets import BoolField, ChoiceField, Field, TextField
from .base import Section, StepForm

FS_CHOICES = fs_choices()


class PartPicker(Section):
    """Which partition the step edits; shared with the other steps through the app."""

    shows_titles = True

    def __init__(self, *, only: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.only = only  # e.g. "zfs": list only those partitions

    def choices(self) -> list[tuple[str, str]]:
        out = []
        for d, p in self.draft.all_parts():
            if self.only and self.draft.get(("disks", d, "partitions", p, "role")) != self.only:
                continue
            out.append((self.draft.part_title(d, p), f"{d}:{p}"))
        return out

    def signature(self) -> Any:
        return (tuple(self.choices()), self.wiz.selected)

    async def sync(self) -> None:
        """A renamed partition is relabelled in place; only other partitions recompose.

        Recomposing mounted a new Select for every key typed into a label: on a
        loaded machine a 200-key burst took over 30 s to catch up.
        """
        old, sig = self._sig, self.signature()
        found = self.query(Select)
        if old is not None and sig != old and found and sig[1] == old[1] \
                and [v for _, v in sig[0]] == [v for _, v in old[0]]:
            select: Select[str] = found.first()
            value = select.value
            with select.prevent(Select.Changed):  # the same choice: nothing was picked
                select.set_options(sig[0])
                select.value = value
            self._sig = sig
            return
        await super().sync()

    def build(self) -> ComposeResult:
        choices = self.choices()
        d, p = self.wiz.selected
        value = f"{d}:{p}"
        if value not in [v for _, v in choices] and choices:
            value = choices[0][1]
        with Horizontal(classes="row picker"):
            yield Label("  Partition", classes="flabel")
            yield Select(choices, value=value if choices else Select.NULL, allow_blank=not choices,
                         compact=True, id=f"{self.id}-select", classes="control")

    @on(Select.Changed)
    def _picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            d, p = (int(x) for x in event.value.split(":"))
            if (d, p) != self.wiz.selected:
                self.post_message(msg.Select(d, p))


class FsSection(Section):
    """The selected partition's filesystem and the options that filesystem has."""

    def signature(self) -> Any:
        d, p = self.wiz.selected
        get = self.draft.get
        return (d, p, get((*self.base, "filesystem")), get((*self.base, "role")))

    @property
    def base(self) -> tuple[Any, ...]:
        d, p = self.wiz.selected
        return ("disks", d, "partitions", p)

    def build(self) -> ComposeResult:
        b = self.base
        get = self.draft.get
        fs = str(get((*b, "filesystem"), DEFAULT_FS))
        role = str(get((*b, "role"), "data"))
        choices = list(FS_CHOICES)
        # a filesystem that takes only its own role (zfs) is the one choice of that role
        only = [s for s in (fs, ROLE_FS.get(role)) if s in REGISTRY and REGISTRY[s].rules.role_only]
        if only:
            choices = only[:1]
        yield ChoiceField((*b, "filesystem"), "Filesystem", [(c, c) for c in choices], fs,
                          explain=fs_help())
        if has_label(fs):
            yield TextField((*b, "label"), "Label", get((*b, "label")), optional=True,
                            placeholder="no label", help=label_hint(fs))
        if has_uuid(fs):
            yield TextField((*b, "uuid"), "UUID", get((*b, "uuid")), optional=True,
                            placeholder="empty = derived from the seed (stable)",
                            help=f"{uuid_hint(fs)}; leave empty unless something expects a "
                            "fixed id")
        if note := no_id_note(fs):
            yield Static(f"  {note}", classes="dim")
        if fields := option_fields(fs):
            # its fields, as core/fs/<name>.py declares and words them
            yield Label(form_title(fs), classes="section-title")
            for f in fields:
                path = (*b, fs, f.key)
                if f.kind is bool:
                    yield BoolField(path, f.label, get(path, f.default), text=f.help)
                elif f.choices:
                    yield ChoiceField(path, f.label, f.options(), get(path, f.default),
                                      explain=f.explain or None,
                                      help="" if f.explain else f.help)
                else:
                    yield TextField(path, f.label, get(path), optional=f.optional,
                                    number=f.kind if f.kind in (int, float) else None,
                                    placeholder="default" if f.optional else "", help=f.help)

    def on_field_edited(self, event: Field.Edited) -> None:
        """Switching filesystem drops a label or UUID the new one cannot hold."""
        if event.path[-1] != "filesystem":
            return
        event.stop()
        d, p = self.wiz.selected
        self.post_message(msg.SetFilesystem(d, p, str(event.value)))


class FilesystemForm(StepForm):
    step = "filesystem"
    heading = "Filesystem — how each partition stores its files"

    def sections(self) -> ComposeResult:
        yield PartPicker(id="fs-picker")
        yield FsSection(id="fs-section")
