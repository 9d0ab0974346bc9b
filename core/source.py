"""The one way to read a profile's source: a tree, a Nix closure, file mappings → Scan.

Every front end (CLI, the wizard's analysis and Build step, plain mode, the
exports) calls read_source. The tree is walked once with scandir; a closure is
resolved with Nix and its store paths' scans (cached forever per NAR hash) are
placed at /nix/store in the same Scan; extra file mappings are sized from the
files themselves when the partitions are laid out, so they need no scan here.

image_source(profile, scan) is what the planner's stages ask about that source
(ImageSource): a plain folder (TreeSource) or a Nix closure (core.nix.ClosureSource),
so neither the planner nor the exports call core.nix themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from .closure import RegistrationPlan
from .errors import ProfileError
from .layout import PartInfo
from .plan import Step, Word
from .profile import Profile, Source, SourceOnly, SourceRef
from .scan import Scan, Stats, cached_scan, forget_cache, scan_tree

if TYPE_CHECKING:  # hints only: the filesystems' context sits above the source
    from .fs.base import PartCtx

Progress = Callable[[int, int], None]


def read_source(
    profile: SourceRef,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    cached: bool = False,
) -> Scan | None:
    """Scan everything the source names; None when it names no tree and no closure.

    A closure is resolved with Nix (a ProfileError naming source.closure when it
    cannot be). `cached` reuses this process's scan of an unchanged tree (the
    wizard rescans on every edit of the source step).
    """
    root = profile.source_root()
    base: Scan | None = None
    if root is not None and root.is_dir():
        walk = cached_scan if cached else scan_tree
        base = walk(root, progress=progress, cancel=cancel)
    if not profile.source.closure:
        return base
    from .nix import scan_closure  # Nix only when a closure is named: its imports cost

    return scan_closure(profile, base, progress=progress, cancel=cancel)


def read_source_section(
    source: Source,
    base_dir: Path,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    cached: bool = False,
) -> Scan | None:
    """read_source for a source section alone, its paths relative to `base_dir`."""
    return read_source(
        SourceOnly(source, base_dir.resolve()), progress=progress, cancel=cancel, cached=cached
    )


# ------------------------------------------------------------------ what the planner asks


class ImageSource(Protocol):
    """What the planner stages and the exports ask of a source, so they never call core.nix.

    A plain tree (TreeSource) answers from source.path alone; a Nix closure
    (core.nix.ClosureSource) also says what its store paths add: folders only
    staging makes, a store filled by links, the registration, extra checks,
    steps before staging and after the filesystems, and files beside the outputs.
    """

    @property
    def has_tree(self) -> bool:
        """A scanned tree exists to take partitions' files from."""
        ...

    def physical(self, tree_path: str) -> str | None:
        """Where a path of the image tree is on this machine; None if only staging makes it."""
        ...

    def stages(self, info: PartInfo) -> bool:
        """The partition needs a staged tree because of the source itself."""
        ...

    def made_by_staging(self, tree_path: str) -> bool:
        """A folder at or below `tree_path` exists only once staged."""
        ...

    def fills(self, tree_path: str) -> bool:
        """The source fills this folder of the staged tree whole (fill_steps)."""
        ...

    def fill_steps(self, sid: str, target: Word) -> list[Step]:
        """Steps that fill a folder `fills` named, at `target` in staging."""
        ...

    def extra_stats(self, info: PartInfo) -> Stats:
        """What the source adds to a partition beyond the scanned tree (for the estimate)."""
        ...

    def extra_tops(self, info: PartInfo) -> set[str]:
        """Names the source adds at the top of a partition's staged tree."""
        ...

    def stage_steps(self, ctx: PartCtx) -> list[Step]:
        """Files the source adds to a partition's staged tree."""
        ...

    def check(self) -> list[ProfileError]:
        """What the source needs beyond the model."""
        ...

    def prepare_steps(self) -> list[Step]:
        """Steps before any staging (listing a closure, writing its registration)."""
        ...

    def unstage_steps(self, staged_keys: list[str]) -> list[Step]:
        """Steps once the filesystems are made, over the staged partitions' keys."""
        ...

    def finish_steps(
        self, *, force: bool
    ) -> tuple[list[Step], list[tuple[Word, str]], list[str]]:
        """(guards, commit pairs, extra outputs) for files the source writes beside the outputs."""
        ...

    def registration(self) -> RegistrationPlan:
        """Where the source's registration goes (the exports mount and load it); none for a tree."""
        ...

    def read_folders(self) -> list[str]:
        """Folders the build reads."""
        ...


class TreeSource:
    """A source that is a folder (or nothing): no steps or files of its own."""

    def __init__(self, profile: Profile, scan: Scan | None) -> None:
        self.profile = profile
        self.scan = scan
        self.root = profile.source_root()

    @property
    def has_tree(self) -> bool:
        return self.scan is not None and self.root is not None

    def physical(self, tree_path: str) -> str | None:
        if self.root is None:
            return None
        k = str(PurePosixPath("/") / tree_path.lstrip("/")).strip("/")
        return str(self.root / k) if k else str(self.root)

    def stages(self, info: PartInfo) -> bool:
        return False

    def made_by_staging(self, tree_path: str) -> bool:
        return False

    def fills(self, tree_path: str) -> bool:
        return False

    def fill_steps(self, sid: str, target: Word) -> list[Step]:
        return []

    def extra_stats(self, info: PartInfo) -> Stats:
        return Stats()

    def extra_tops(self, info: PartInfo) -> set[str]:
        return set()

    def stage_steps(self, ctx: PartCtx) -> list[Step]:
        return []

    def check(self) -> list[ProfileError]:
        return []

    def prepare_steps(self) -> list[Step]:
        return []

    def unstage_steps(self, staged_keys: list[str]) -> list[Step]:
        return []

    def finish_steps(
        self, *, force: bool
    ) -> tuple[list[Step], list[tuple[Word, str]], list[str]]:
        return [], [], []

    def registration(self) -> RegistrationPlan:
        return RegistrationPlan(None, None)

    def read_folders(self) -> list[str]:
        return [str(self.root)] if self.root else []


def image_source(profile: Profile, scan: Scan | None) -> ImageSource:
    """The planner's view of the profile's source: a closure's when one is named or scanned."""
    if profile.source.closure or (scan is not None and scan.closure is not None):
        from .nix import ClosureSource

        return ClosureSource(profile, scan)
    return TreeSource(profile, scan)


__all__ = [
    "ImageSource",
    "Progress",
    "RegistrationPlan",
    "TreeSource",
    "forget_cache",
    "image_source",
    "read_source",
    "read_source_section",
]
