"""What every filesystem builder provides, and the context it is given."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from pydantic import BaseModel

from ..errors import ProfileError
from ..model import FsRules, GuestMount, PartitionBase
from ..plan import Arg, Arith, Expr, Or, Step, StepKind, Word, cmd, ws
from ..progress import ProgressReader
from ..sample import Sample
from ..scan import Scan, Stats
from ..tools import Tool
from ..units import MiB, parse_size, round_up

if TYPE_CHECKING:  # names for hints only: at run time the filesystems sit below both
    from ..layout import PartInfo
    from ..model import Profile


OptionsT = TypeVar("OptionsT", bound=BaseModel)


@dataclass(frozen=True)
class FsSize:
    """Bytes: what the files need, the smallest image, and the image that will be built."""

    content: int
    minimum: int
    image: int
    fixed: bool


@dataclass(frozen=True)
class PartCtx:
    profile: Profile
    info: PartInfo
    stats: Stats  # what lands in this filesystem (subtree minus exclusions plus files)
    src: Arg | None  # directory the tool reads (source subtree or staged copy); None = empty
    cpus: int = 2
    top: tuple[str, ...] = ()  # names at the top of `src`, sorted
    dirents: tuple[int, ...] = ()  # directory-entry bytes of each directory in it
    sample: Sample | None = None  # how compressible the source is
    scan: Scan | None = None  # the one scan of the source, for checks on names

    def compress_ratio(self, kind: str, compressor: str) -> float:
        """Expected compressed/raw size for this content with this compressor."""
        if self.sample is None:
            return Sample(()).ratio(kind, compressor)
        return self.sample.ratio(kind, compressor)

    @property
    def part(self) -> PartitionBase:
        return self.info.part

    def options(self, kind: type[OptionsT]) -> OptionsT:
        """This partition's own options table, typed (e.g. ctx.options(Ext4Options))."""
        opts = getattr(self.info.part, self.info.part.filesystem)
        assert isinstance(opts, kind), (self.info.where, kind)
        return opts

    @property
    def image(self) -> Word:
        return ws(f"{self.info.key}.img")

    def work_file(self, suffix: str) -> Word:
        """A file in the workspace belonging to this partition."""
        return ws(f"{self.info.key}.{suffix}")

    @property
    def bytes_var(self) -> str:
        return f"{self.info.var}_BYTES"

    @property
    def epoch(self) -> int:
        return self.profile.reproducible.source_date_epoch

    def fixed_size(self) -> int | None:
        return None if self.part.size == "auto" else parse_size(self.part.size)

    def step(
        self,
        suffix: str,
        title: str,
        expr: Expr | None = None,
        *,
        weight: float = 1.0,
        comment: str = "",
        kind: StepKind = "run",
        capture: str | None = None,
        value: Arith | None = None,
        path: Arg | None = None,
        content: str = "",
        progress: ProgressReader | None = None,
    ) -> Step:
        return Step(
            id=f"{self.info.key}-{suffix}",
            title=title,
            phase="filesystem",
            expr=expr,
            kind=kind,
            capture=capture,
            value=value,
            path=path,
            content=content,
            weight=weight,
            comment=comment,
            progress=progress,
        )

    @property
    def source_dir(self) -> Arg:
        """The folder the tool reads; only asked for when the partition has content."""
        assert self.src is not None, f"{self.info.where} has no source folder"
        return self.src

    def source_names(self) -> Iterator[tuple[str, str]]:
        """(folder, name) of every entry this partition receives from the source (its
        subtree minus other partitions' mount points), out of the scan made once."""
        sub = self.info.subtree
        if self.scan is None or sub is None:
            return iter(())
        return self.scan.names_under(sub, self.info.exclude)

    @property
    def contents_field(self) -> str:
        """The profile field that chose this partition's files (for error messages)."""
        return f"{self.info.where}.{'contents' if self.part.contents else 'mount_point'}"

    def capture_size(self) -> Step:
        """Every builder ends by recording the image's size for the disk layout."""
        return Step(
            id=f"{self.info.key}-size",
            title=f"Measure the image of the {self.info.spoken}",
            phase="filesystem",
            kind="capture",
            capture=self.bytes_var,
            expr=cmd("stat", "-c", "%s", self.image),
            weight=0.01,
        )

    def check_step(self, what: str, how: str, expr: Expr, weight: float) -> list[Step]:
        """Every builder's verify phase is one read-back with the filesystem's own checker."""
        return [
            Step(
                id=f"{self.info.key}-fsck",
                title=f"Check the {what} of the {self.info.spoken} ({how})",
                phase="verify",
                expr=expr,
                weight=weight,
            )
        ]

    def pad_to_fixed(self) -> list[Step]:
        """Read-only images are as big as their content; a fixed size pads (or refuses)."""
        fixed = self.fixed_size()
        if fixed is None:
            return []
        return [
            self.step(
                "fits",
                f"Check the image fits the fixed size {self.part.size}",
                expr=fits_check(self.image, fixed, f"{self.info.where}.size"),
                weight=0.01,
            ),
            self.step(
                "pad",
                f"Pad the image to {self.part.size}",
                expr=cmd("truncate", "-s", str(fixed), self.image),
                weight=0.01,
            ),
        ]


def fits_check(image: Word, limit: int, field: str) -> Or:
    """Fail with a message naming the field when `image` is larger than `limit` bytes."""
    return Or(
        cmd("sh", "-c", 'test "$(stat -c %s "$1")" -le "$2"', "fits", image, str(limit)),
        cmd(
            "sh",
            "-c",
            'echo "$1: the content needs $(stat -c %s "$2") bytes, more than the fixed '
            'size of $3 bytes; raise the size or use auto" >&2; exit 1',
            "fits",
            field,
            image,
            str(limit),
        ),
    )


class FsBuilder(Protocol):
    def tools(self, ctx: PartCtx) -> list[str]: ...

    def check(self, ctx: PartCtx) -> list[ProfileError]: ...

    def estimate(self, ctx: PartCtx) -> FsSize: ...

    def steps(self, ctx: PartCtx) -> list[Step]: ...

    def verify(self, ctx: PartCtx) -> list[Step]: ...


@dataclass(frozen=True)
class FieldWords:
    """How the wizard and plain mode name and explain one option (the forms are made from it)."""

    label: str
    help: str  # one line under the field (for a yes/no option: the text beside the tick)
    choices: tuple[str, ...] = ()  # for a fixed set of values, in the order shown
    titles: Mapping[str, str] = field(default_factory=dict)  # a choice's words in the chooser
    explain: Mapping[str, str] = field(default_factory=dict)  # one line per choice, in place
    # of `help` while that choice is picked
    plain: str = ""  # plain mode's question when its short walk asks this ("" = it does not)


@dataclass(frozen=True)
class FsSpec:
    """Everything about one filesystem, declared once by its module in core/fs/.

    The model's rules (labels, UUIDs, read-only, the guest's fstype) live on
    `partition.rules`; the options model is the `[<name>]` table of a partition;
    the builder makes, sizes and checks the image; `tools` feed the doctor and
    the preflight; `fields` are the words the front ends show for the options.
    """

    name: str
    title: str  # one line for a chooser
    help: str  # what it is for, for a first-timer
    partition: type[PartitionBase]
    builder: FsBuilder
    options: type[BaseModel] | None = None
    options_title: str = ""  # "ext4 options", for messages
    form_title: str = ""  # the wizard's heading over the options (default: options_title)
    advice: str = ""  # when to pick it, one line for the F1 help
    tools: tuple[Tool, ...] = ()
    fields: Mapping[str, FieldWords] = field(default_factory=dict)
    # where an image of `size` bytes holds its files and its metadata: (bytes before the
    # files, offsets of the metadata), for the compressed outputs' estimate; None = files
    # from the start, metadata at 0
    layout: Callable[[PartCtx, int], tuple[int, tuple[int, ...]]] | None = None
    # the guest's mounts of one of its partitions, when not one mount of the device by
    # `rules.fstype` (zfs: each mounted dataset); None = the device's
    guest_mounts: Callable[[PartInfo], Sequence[GuestMount]] | None = None
    # the wizard edits its options table on a step of its own, keyed by its name (zfs: the
    # pool's datasets), not on the Filesystem step
    own_step: bool = False
    # the option that names a partition of it, which its table must hold (zfs: pool): the
    # wizard starts the table with it and shows it in the partition's title
    named_by: str = ""

    @property
    def rules(self) -> FsRules:
        return self.partition.rules


def auto_or_fixed(ctx: PartCtx, minimum: int, content: int, *, align: int = MiB) -> FsSize:
    """Final size: the fixed size, or the minimum plus the partition's headroom, aligned."""
    fixed = ctx.fixed_size()
    if fixed is not None:
        return FsSize(content=content, minimum=minimum, image=fixed, fixed=True)
    image = round_up(minimum + ctx.part.headroom_for(minimum), align)
    return FsSize(content=content, minimum=minimum, image=image, fixed=False)


def owners_unsupported(ctx: PartCtx, why: str) -> list[ProfileError]:
    """Extra files asking for an owner on a filesystem that cannot keep one."""
    return [
        ProfileError(
            "source.files",
            f"{fm.target}: {why}; per-file owners are supported on ext4 only",
            "set user = 0 and group = 0, or put the file on an ext4 partition",
        )
        for fm in ctx.info.files
        if fm.user or fm.group
    ]


def too_small(ctx: PartCtx, size: FsSize) -> list[ProfileError]:
    if size.fixed and size.minimum > size.image:
        from ..units import format_size

        return [
            ProfileError(
                f"{ctx.info.where}.size",
                f"{ctx.part.size} is smaller than the content needs "
                f"(about {format_size(size.minimum)})",
                f"raise it to at least {format_size(round_up(size.minimum, MiB))} or use auto",
            )
        ]
    return []
