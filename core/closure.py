"""The resolved Nix closure as a value: which store paths, where they live, their hashes.

It sits below both the scanner (a Scan carries the closure it was made with)
and core.nix (which resolves, stages and registers it), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

STORE_DIR = "/nix/store"
STORE_KEY = "nix/store"  # the closure's folder in the image tree, as a Scan key
REGISTRATION_TARGET = "/nix-path-registration"  # where an image carries the registration


@dataclass(frozen=True)
class Closure:
    """The resolved closure: which store paths, where they live, what registers them."""

    roots: tuple[str, ...]  # store paths the profile's entries resolved to
    paths: tuple[str, ...]  # the whole closure, sorted
    store_root: Path | None  # a chroot store's folder; None = the system store
    nar_hash: dict[str, str] = field(compare=False, repr=False)
    nar_size: int = 0  # sum of NAR sizes: what `nix path-info -S` would say
    registration_bytes: int = 0
    seconds: float = 0.0

    @property
    def store_dir(self) -> Path:
        """Where the store paths are on this machine."""
        if self.store_root is None:
            return Path(STORE_DIR)
        return self.store_root / STORE_DIR.lstrip("/")

    def physical(self, path: str) -> Path:
        """The host path of a store path (or of a file inside one)."""
        return self.store_dir / path[len(STORE_DIR) + 1 :]


@dataclass(frozen=True)
class RegistrationPlan:
    """Where a closure's registration goes: into one partition's tree and/or beside an output.

    A value here (not in core.nix) so the source interface can hand it to the
    exports without them reaching Nix.
    """

    image_key: str | None  # the partition that gets `target`
    beside: Path | None  # the file written next to the outputs
    target: str = REGISTRATION_TARGET  # its path inside that partition
