"""The scan's lists of symlinks and special files name the entries themselves.

The vfat checks read them (a symlink FAT cannot hold is a validation error): a
list holding the folder scanned just before the link refused the example tree
('loader/entries' under /boot is a symlink).
"""

from __future__ import annotations

import os
from pathlib import Path

from diskwright.core.scan import scan_tree


def test_links_and_special_files_are_listed_by_their_own_paths(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for d in ("a/b", "a/c", "d", "e/f/g"):
        (root / d).mkdir(parents=True)
    (root / "a/file").write_text("x")
    links = {"a/link": "file", "a/b/up": "..", "e/f/g/far": "/etc/hostname", "top": "d"}
    for rel, target in links.items():
        os.symlink(target, root / rel)
    os.mkfifo(root / "e/f/pipe")
    scan = scan_tree(root)
    assert sorted(scan.links) == sorted(links)
    assert scan.special == ["e/f/pipe"]
    assert sorted(scan.paths_under(scan.links, "/a")) == ["b/up", "link"]
