"""The one way to read a profile's source: a tree, a Nix closure, file mappings → Scan.

Every front end (CLI, the wizard's analysis and Build step, plain mode, the
exports) calls read_source. The tree is walked once with scandir; a closure is
resolved with Nix and its store paths' scans (cached forever per NAR hash) are
placed at /nix/store in the same Scan; extra file mappings are sized from the
files themselves when the partitions are laid out, so they need no scan here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from .profile import Source, SourceOnly, SourceRef
from .scan import Scan, cached_scan, forget_cache, scan_tree

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


__all__ = ["Progress", "forget_cache", "read_source", "read_source_section"]
