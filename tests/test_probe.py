"""Tool probes shape the plan, so a probe that hangs is an error naming the tool —
never a silent default (under load, a 10 s limit gave mke2fs version (0,) and a
different plan)."""

from __future__ import annotations

import pytest

from diskwright.core import tools
from diskwright.core.errors import DiskwrightError
from diskwright.core.fs import ext4


def test_a_hung_probe_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "PROBE_PATIENCE", 0.5)
    with pytest.raises(DiskwrightError) as e:
        tools.probe(["sleep", "5"])
    assert "sleep 5: no answer within 0.5 s" in str(e.value)


def test_a_missing_tool_is_none_and_an_answer_is_kept() -> None:
    assert tools.probe(["diskwright-no-such-tool"]) is None
    p = tools.probe(["mke2fs", "-V"])
    assert p is not None and "mke2fs" in p.stdout + p.stderr


def test_ext4_probes_answer_and_a_hang_is_not_a_version(monkeypatch: pytest.MonkeyPatch) -> None:
    ext4.e2fsprogs_version.cache_clear()
    assert ext4.e2fsprogs_version() >= (1, 46)
    assert "extent" in ext4.mke2fs_features()
    ext4.e2fsprogs_version.cache_clear()
    monkeypatch.setattr(tools, "PROBE_PATIENCE", 0.0)  # every probe "hangs"
    with pytest.raises(DiskwrightError):
        ext4.e2fsprogs_version()  # was (0,): "older than every release", silently
    ext4.e2fsprogs_version.cache_clear()
