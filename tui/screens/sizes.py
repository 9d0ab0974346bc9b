"""Sizes step: auto or fixed per partition, headroom, alignment, and the estimate broken down."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Label, Static

from ...core.units import format_size
from ..model import Analysis
from ..widgets import TextField
from .base import Section, StepForm


class SizesSection(Section):
    """Every disk with its partitions' sizes; one screen for all of them."""

    def signature(self) -> Any:
        return tuple((d.get("name"), d.get("table"), len(self.draft.parts(i)))
                     for i, d in enumerate(self.draft.disks))

    def build(self) -> ComposeResult:
        for d, disk in enumerate(self.draft.disks):
            yield Label(f"Disk {disk.get('name')} ({disk.get('table')})", classes="section-title")
            base = ("disks", d)
            if disk.get("table") != "none":
                yield TextField((*base, "size"), "Disk size", disk.get("size", "auto"),
                                help="auto = the partitions plus the table; or e.g. 8GiB "
                                "(free space stays at the end)")
                yield TextField((*base, "alignment"), "Alignment", disk.get("alignment", "1MiB"),
                                help="partition starts and sizes round to this; 1MiB suits "
                                "nearly everything")
            for p in range(len(self.draft.parts(d))):
                b = (*base, "partitions", p)
                yield Static(f"  {self.draft.part_title(d, p)}", classes="part-title")
                yield TextField((*b, "size"), "Size", self.draft.get((*b, "size"), "auto"),
                                help="auto, or a fixed size like 512MiB or 2GiB")
                yield TextField((*b, "headroom"), "Headroom",
                                self.draft.get((*b, "headroom"), "auto"),
                                help="free space on top of auto: 20%, 256MiB or auto "
                                "(10% read-write, 0 read-only)")
        yield Label("Estimate, broken down", classes="section-title")
        yield Static("", id="sizes-breakdown")

    def show_analysis(self, analysis: Analysis) -> None:
        out = self.query_one("#sizes-breakdown", Static)
        src = analysis if analysis.estimate is not None else self.wiz.last_good
        if src is None or src.estimate is None:
            out.update(Text("  appears once the profile is valid", style="dim"))
            return
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        table.add_column("part", no_wrap=True)
        for col in ("content", "minimum", "size"):
            table.add_column(col, justify="right", no_wrap=True)
        for disk in src.estimate.disks:
            for i, p in enumerate(disk.parts):
                table.add_row(f"{disk.name} #{i + 1} {p.role}", format_size(p.content),
                              format_size(p.minimum),
                              f"{format_size(p.size)} {'fixed' if p.fixed else 'auto'}")
            table.add_row(Text(f"{disk.name} disk", style="bold"), "", "",
                          Text(format_size(disk.disk_bytes), style="bold"))
            table.add_row(Text(f"  → {disk.output_format} file", style="dim"), "", "",
                          Text(f"≈ {format_size(disk.output_bytes)}", style="dim"),
                          end_section=True)
        out.update(table)


class SizesForm(StepForm):
    step = "sizes"
    heading = "Sizes — auto or fixed, headroom and alignment"

    def sections(self) -> ComposeResult:
        yield SizesSection(id="sizes-section")
