"""Debian 12's snapshots of the screens that show the installed tools (see
../test_wizard_snapshots.py): the same screens, run only where Debian 12's tools are."""

from __future__ import annotations

import pytest
from test_wizard_snapshots import DEBIAN12, RELEASE_SCREENS, only_on

globals().update(RELEASE_SCREENS)
pytestmark = [pytest.mark.tui, only_on(DEBIAN12, "Debian 12")]
