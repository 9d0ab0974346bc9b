"""The scan's lists of symlinks and special files name the entries themselves.

The vfat checks read them (a symlink FAT cannot hold is a validation error): a
list holding the folder scanned just before the link refused the example tree
('loader/entries' under /boot is a symlink).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from testkit import nobody_cannot_run

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


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to scan as an ordinary user")
def test_a_folder_an_ordinary_user_cannot_read_is_listed_once() -> None:
    """Each unreadable entry is one error: a 0700 root folder was named by its parent's
    access check and again when scandir failed on it (two lines for one problem)."""
    import json
    import sys
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="dw-scan-user-", dir="/tmp"))  # nobody may enter it
    try:
        base.chmod(0o755)
        (base / "priv").mkdir(mode=0o700)
        (base / "priv/key").write_text("secret")
        (base / "ok").write_text("x")
        code = ("import json, sys; from pathlib import Path; "
                "from diskwright.core.scan import scan_tree; "
                "print(json.dumps(scan_tree(Path(sys.argv[1])).unreadable))")
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            sys.executable, "-c", code, str(base)],
                           capture_output=True, text=True, cwd="/")
        if nobody_cannot_run(r.stderr):
            pytest.skip("this diskwright installation is not runnable by an ordinary user")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == ["/priv (permission denied)"]
    finally:
        shutil.rmtree(base, ignore_errors=True)
