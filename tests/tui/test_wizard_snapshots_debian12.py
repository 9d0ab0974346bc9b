"""Debian 12's snapshots of the screens that show the installed tools (see
test_wizard_snapshots.py): the same screens, collected only where Debian 12's tools are."""

from __future__ import annotations

import pytest
from test_wizard_snapshots import DEBIAN12, only_on

only_on(DEBIAN12, "Debian 12")

from test_wizard_snapshots import screen_help as test_help  # noqa: E402
from test_wizard_snapshots import (  # noqa: E402
    screen_narrow_panels_become_tabs as test_narrow_panels_become_tabs,
)
from test_wizard_snapshots import screen_save_dialog as test_save_dialog  # noqa: E402
from test_wizard_snapshots import screen_step as test_step  # noqa: E402
from test_wizard_snapshots import screen_two_disks_layout as test_two_disks_layout  # noqa: E402

pytestmark = pytest.mark.tui
__all__ = ["test_help", "test_narrow_panels_become_tabs", "test_save_dialog", "test_step",
           "test_two_disks_layout"]
