"""The example makers' command line: a destination, and --force to replace one that exists.

Each maker starts by deleting its destination, so a folder that exists is
replaced only when it is the maker's own default or the user says --force.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def dest_parser(doc: str | None, default: Path, what: str) -> argparse.ArgumentParser:
    """A parser with DEST (default `default`) and --force; a maker may add its own flags."""
    ap = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    ap.add_argument("dest", nargs="?", type=Path, default=default,
                    help=f"where to write {what} (default: examples/{default.name})")
    ap.add_argument("--force", action="store_true",
                    help="replace DEST if it exists (everything in it is deleted)")
    return ap


def parse_dest(ap: argparse.ArgumentParser, default: Path) -> argparse.Namespace:
    """The arguments, after refusing a DEST that exists (other than the default) without --force."""
    args = ap.parse_args()
    dest: Path = args.dest
    if dest.resolve() != default.resolve() and not args.force and (
            dest.is_symlink() or dest.exists()):
        sys.exit(f"{dest} exists and would be deleted first: choose a new folder, "
                 "or add --force to replace it")
    return args
