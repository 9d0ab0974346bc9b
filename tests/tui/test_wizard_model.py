"""The wizard's headless parts: presets, the draft, step mapping and analysis."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from wizard_helpers import REPO, preset_draft

from diskwright.core.presets import blank_profile_data, preset, presets
from diskwright.core.profile import load_profile
from diskwright.tui.model import (
    Draft,
    analyse,
    coupled_filesystem,
    field_name,
    load_draft,
    parse_field,
    step_of,
)

pytestmark = pytest.mark.tui


def test_presets_cover_every_example_with_who_it_is_for() -> None:
    found = presets()
    names = [p.name for p in found]
    examples = sorted(p.stem for p in (REPO / "examples").glob("*.toml"))
    assert sorted(names) == examples
    assert names[:4] == ["vm-disk", "sd-card", "microvm-store", "squashfs-store"]
    for p in found:
        assert p.who_for and "\n" not in p.who_for
        assert p.title


def test_preset_data_has_absolute_source_and_relative_outputs() -> None:
    data = preset("vm-disk").profile_data()
    assert Path(data["source"]["path"]).is_absolute()
    assert data["source"]["path"].endswith("examples/root")
    assert data["disks"][0]["output"]["path"] == "vm-disk.qcow2"
    # a fresh copy each time: editing one never changes the preset
    data["name"] = "changed"
    assert preset("vm-disk").profile_data()["name"] == "vm-disk"


def test_presets_module_is_headless() -> None:
    code = ("import sys, diskwright.core.presets as p; p.presets(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('textual', 'questionary', 'prompt_toolkit') or m.startswith('diskwright.tui')];"
            " print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_blank_profile_is_valid_apart_from_its_source(tmp_path: Path) -> None:
    d = Draft(blank_profile_data(), tmp_path)
    a = analyse(d.data, d.base_dir, None)
    assert a.profile is not None
    assert [e.field for e in a.errors] == ["source.path"]
    assert step_of(a.errors[0].field) == "source"


@pytest.mark.parametrize(("name", "step"), [
    ("source.path", "source"),
    ("source.files[0].target", "source"),
    ("disks[0].partitions[1].label", "filesystem"),
    ("disks[0].partitions[1].ext4.inode_ratio", "filesystem"),
    ("disks[0].partitions[1].filesystem", "filesystem"),
    ("disks[0].partitions[1].mount_point", "layout"),
    ("disks[0].partitions[1].role/filesystem", "layout"),
    ("disks[0].partitions", "layout"),
    ("disks[0].table", "layout"),
    ("disks[0].partitions[0].size", "sizes"),
    ("disks[0].alignment", "sizes"),
    ("disks[1].output.path", "output"),
    ("reproducible.seed", "output"),
    ("disks[0].partitions[0].zfs", "zfs"),
    ("name", "review"),
])
def test_every_error_field_belongs_to_a_step(name: str, step: str) -> None:
    assert step_of(name) == step


def test_every_filesystems_options_belong_to_the_filesystem_step() -> None:
    """Read from core/fs's registry, so a filesystem added there (btrfs went to Layout
    while the list was typed out here) lands its option errors and plan marks right."""
    from diskwright.core.fs import SPECS
    from diskwright.tui.model import STEP_FIELDS

    with_tables = [s.name for s in SPECS if s.options is not None and s.name != "zfs"]
    assert "btrfs" in with_tables
    for fs in with_tables:
        assert step_of(f"disks[0].partitions[1].{fs}.anything") == "filesystem", fs
        assert f"disks.partitions.{fs}" in STEP_FIELDS["filesystem"], fs


def test_the_step_registry_names_a_form_and_help_for_every_step() -> None:
    import importlib

    from textual.widget import Widget

    from diskwright.tui.help import HELP
    from diskwright.tui.model import STEP_TITLES, STEPS, WIZARD_STEPS
    from diskwright.tui.plain import EDIT_STEPS

    assert set(HELP) == {"start", *STEPS}
    assert list(STEP_TITLES) == list(STEPS)
    plain_sections = {key for _, key in EDIT_STEPS}
    for step in WIZARD_STEPS:
        module, name = step.form.split(":")
        form = getattr(importlib.import_module(f"diskwright.tui.screens.{module}"), name)
        assert issubclass(form, Widget) and form.step == step.key, step.key
        assert step.plain in plain_sections, step.key


def test_field_names_round_trip() -> None:
    path = ("disks", 0, "partitions", 1, "ext4", "block_size")
    assert field_name(path) == "disks[0].partitions[1].ext4.block_size"
    assert parse_field(field_name(path)) == path


def test_model_errors_come_in_the_models_words(tui_work: Path) -> None:
    d = preset_draft("vm-disk", tui_work)
    d.set(("disks", 0, "partitions", 0, "label"), "esp lower")
    a = analyse(d.data, d.base_dir, None)
    errs = a.for_field("disks[0].partitions[0].label")
    assert errs and "upper-case" in errs[0].problem
    assert not a.step_ok("filesystem")
    assert a.step_ok("source")


def test_roles_imply_filesystems() -> None:
    assert coupled_filesystem("esp", "ext4") == "vfat"
    assert coupled_filesystem("swap", "ext4") == "swap"
    assert coupled_filesystem("root", "swap") == "ext4"
    assert coupled_filesystem("data", "erofs") == "erofs"


def test_set_role_zfs_adds_a_pool_and_drops_the_label(tui_work: Path) -> None:
    d = preset_draft("vm-disk", tui_work)
    d.set_role(0, 1, "zfs")
    part = d.data["disks"][0]["partitions"][1]
    assert part["filesystem"] == "zfs" and isinstance(part["zfs"], dict)
    assert part["label"] is None
    assert d.has_zfs()


def test_the_zfs_step_shows_for_a_pool_and_selects_by_role(tui_work: Path) -> None:
    """A loaded profile may pair a pool with another role: the ZFS step shows (so the error
    can be fixed), but the partition it selects is one whose role is zfs, the one it edits."""
    d = preset_draft("vm-disk", tui_work)
    assert not d.needs_step("zfs") and d.needs_step("layout")
    assert d.parts_for_step("zfs") == [] and d.parts_for_step("layout") == []
    d.set(("disks", 0, "partitions", 1, "filesystem"), "zfs")  # role stays root: invalid
    assert d.needs_step("zfs") and d.parts_for_step("zfs") == [(0, 1)]
    assert d.parts_for_step("zfs", by_role=True) == []
    d.set_role(0, 0, "zfs")
    assert d.parts_for_step("zfs") == [(0, 0), (0, 1)]
    assert d.parts_for_step("zfs", by_role=True) == [(0, 0)]


def test_structure_edits(tui_work: Path) -> None:
    d = preset_draft("vm-disk", tui_work)
    p = d.add_partition(0)
    assert p == 2 and d.parts(0)[2]["empty"] is True
    assert d.move_partition(0, 2, -1) == 1
    assert d.parts(0)[1]["empty"] is True
    d.remove_partition(0, 1)
    assert len(d.parts(0)) == 2
    n = d.add_disk()
    assert d.disks[n]["name"] == "disk1" and d.disks[n]["table"] == "none"
    assert d.dirty


def test_save_rebases_relative_paths(tui_work: Path, tmp_path: Path) -> None:
    d = preset_draft("vm-disk", tui_work)
    d.data["source"]["path"] = "root"
    elsewhere = tmp_path / "profiles"
    elsewhere.mkdir()
    d.save(elsewhere / "vm.toml")
    saved = tomllib.loads((elsewhere / "vm.toml").read_text())
    assert saved["source"]["path"] == str(tui_work / "root")
    assert saved["disks"][0]["output"]["path"] == str(tui_work / "vm-disk.qcow2")
    profile = load_profile(elsewhere / "vm.toml")
    assert profile.source_root() == tui_work / "root"
    assert not d.dirty and d.path == (elsewhere / "vm.toml").resolve()


def test_invalid_drafts_save_and_load_with_their_errors(tui_work: Path) -> None:
    d = preset_draft("vm-disk", tui_work)
    d.set(("disks", 0, "partitions", 0, "label"), "esp lower")
    d.save(tui_work / "broken.toml")
    again = load_draft(tui_work / "broken.toml")
    assert again.get(("disks", 0, "partitions", 0, "label")) == "esp lower"
    a = analyse(again.data, again.base_dir, None)
    assert a.profile is None and a.for_field("disks[0].partitions[0].label")


def test_existing_outputs_block_until_replace_is_chosen(tui_work: Path) -> None:
    from diskwright.core.scan import scan_tree

    d = preset_draft("vm-disk", tui_work)
    (tui_work / "vm-disk.qcow2").write_bytes(b"old")
    scan = scan_tree(tui_work / "root")
    a = analyse(d.data, d.base_dir, scan)
    assert a.existing == [str(tui_work / "vm-disk.qcow2")]
    assert not a.step_ok("output") and not a.step_ok("build")
    assert a.step_ok("output", force=True)
    forced = analyse(d.data, d.base_dir, scan, force=True)
    assert "Refuse to replace" not in forced.script
    assert "Refuse to replace" in a.script


def test_roles_in_peoples_words() -> None:
    from diskwright.tui.model import role_words

    assert role_words("esp") == "an EFI System Partition"
    assert role_words("root") == "a root partition"
    assert role_words("made-up") == "a made-up partition"


def test_preview_marks_follow_the_form_and_the_edit(tmp_path: Path) -> None:
    """Issue 10: on the Filesystem step the mkfs steps are the marked ones (from core's
    Step.fields), and a label edit changes lines inside the mkfs.ext4 step only."""
    from diskwright.core.plan import Plan, render_script, step_lines
    from diskwright.core.planner import make_plan
    from diskwright.core.profile import parse_profile
    from diskwright.tui.model import changed_lines, shaped_steps

    def plan_for(label: str) -> tuple[Plan, str]:
        data = {
            "version": 1,
            "disks": [{"output": {"path": "disk.raw"}, "partitions": [
                {"role": "esp", "filesystem": "vfat", "size": "64MiB", "empty": True},
                {"role": "root", "filesystem": "ext4", "size": "64MiB", "empty": True,
                 "label": label},
            ]}],
        }
        plan = make_plan(parse_profile(data, tmp_path), None)
        return plan, render_script(plan)

    _, old = plan_for("root")
    plan, new = plan_for("rootfs")
    steps = plan.steps
    tags = [s.fields for s in steps]
    fs = shaped_steps("filesystem", tags)
    assert any("mkfs.ext4" in steps[i].render() for i in fs)
    assert any("mkfs.vfat" in steps[i].render() for i in fs)
    assert all(steps[i].id != "commit" for i in fs)
    sizes = shaped_steps("sizes", tags)
    assert set(sizes) - set(fs)  # the partition table follows sizes, not the filesystem form
    assert [steps[i].id for i in shaped_steps("output", tags)][-1] == "commit"
    spans = step_lines(new, plan)
    changed = changed_lines(old, new)
    assert changed
    hit = {i for i, (a, b) in enumerate(spans) for n in changed if a <= n < b}
    lines = new.splitlines()
    # every step with a changed line names the new label (in its command or its title)
    assert hit and all("rootfs" in "\n".join(lines[slice(*spans[i])]) for i in hit)
    assert changed_lines(new, new) == []


def test_filesystem_forms_come_from_the_declarations() -> None:
    """Every option a core/fs module words is in its form, each choice a value its model
    takes, and the help page and start screen name every filesystem that holds files."""
    from diskwright.core.fs import SPECS
    from diskwright.tui.fsforms import content_filesystems, option_fields
    from diskwright.tui.help import HELP

    for spec in SPECS:
        fields = option_fields(spec.name)
        assert [f.key for f in fields] == list(spec.fields), spec.name
        assert spec.options is not None or not fields
        for f in fields:
            for _, value in f.options():
                assert spec.options is not None
                assert getattr(spec.options.model_validate({f.key: value}), f.key) == value
            assert set(f.explain) <= set(f.choices), (spec.name, f.key)
        if spec.rules.contents and spec.name != "zfs":
            assert f"**{spec.name}**" in HELP["filesystem"], spec.name
    assert {s.name for s in SPECS if s.rules.contents} == set(content_filesystems())


def test_warnings_name_the_disk_as_a_person_would(tui_work: Path) -> None:
    """The Review list and the estimate panel show a core warning's field in words."""
    from diskwright.tui.model import warning_text

    profile = load_profile(tui_work / "vm-disk.toml")
    said = warning_text("disks[0].output.path: custom.vmdk ends in .vmdk", profile)
    assert said == "disk vm output path: custom.vmdk ends in .vmdk"
    assert warning_text("disks[0].partitions[0]: the source has no /boot", profile) == (
        "vm #1: the source has no /boot")
    assert warning_text("no field here", profile) == "no field here"


def test_emptied_folder_is_a_problem_not_an_internal_error(tui_work: Path) -> None:
    """Issue 10 item 5: emptying Folder showed "diskwright hit an internal error" (the
    planner's AssertionError on a root partition with no source). The check says what is
    wrong; no crash, and the estimate still shows."""
    d = preset_draft("vm-disk", tui_work)
    d.set(("source", "path"), None)
    a = analyse(d.data, d.base_dir, None)
    assert a.crash is None, a.crash
    assert any("no source is set" in e.problem for e in a.check_errors), a.check_errors
    assert a.estimate is not None and a.plan is None
    assert not (tui_work / "diskwright-wizard.log").exists()
