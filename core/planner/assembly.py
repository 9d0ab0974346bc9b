"""Stage 5: the ordered plan — guards, staging, filesystems, disks, outputs, checks, renames."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..boot import steps as boot
from ..disk import assemble_steps, check_table_step, disk_file
from ..fs import builder_for
from ..outpaths import guard_step
from ..output import output_steps
from ..plan import And, Arg, Cmd, Or, Pipe, Plan, Step, Var, Word, cmd, cost, ws
from ..profile import Profile, Table
from ..scan import Scan
from ..source import image_source
from .contexts import contexts, needs_staging
from .estimate import estimate
from .staging import staging_steps


def _tag(steps: list[Step], *fields: str) -> list[Step]:
    """Name the profile fields these steps follow from (a step's own tags win)."""
    return [s if s.fields else replace(s, fields=fields) for s in steps]


def _layout_fields(profile: Profile, d: int) -> tuple[str, ...]:
    """What shapes a disk's table and assembly: its geometry and each partition's placement."""
    disk = f"disks[{d}]"
    out = [f"{disk}.{k}" for k in ("table", "size", "alignment", "uuid")]
    for p in range(len(profile.disks[d].partitions)):
        part = f"{disk}.partitions[{p}]"
        out += [f"{part}.{k}" for k in ("size", "start", "role", "partuuid", "name", "gpt_type")]
    return tuple(out)


def make_plan(profile: Profile, scan: Scan | None, *, force: bool = False) -> Plan:
    """The ordered steps that build every disk of the profile."""
    ctxs = contexts(profile, scan)
    source = image_source(profile, scan)
    est = estimate(profile, scan, ctxs)  # also what the disk-level steps' weights follow
    content = {p.key: min(p.content, p.image) for d in est.disks for p in d.parts}
    outputs = [str(profile.resolve(d.output.path)) for d in profile.disks]
    workspace_parent = str(Path(outputs[0]).parent)
    steps: list[Step] = []
    for i, out in enumerate(outputs):
        steps.append(guard_step(f"disk{i}-guard", out, force=force,
                                fields=(f"disks[{i}].output.path",)))
    reg_guards, reg_commit, reg_outputs = source.finish_steps(force=force)
    # first of all, one build per output: `diskwright build` holds this lock itself (the
    # Runner skips the step); a printed plan run with `sh` takes it through the helper
    steps.insert(
        0,
        Step(
            id="lock",
            title="Lock the outputs (one build at a time); remove an interrupted build's leftovers",
            phase="prepare",
            expr=cmd("diskwright", "helper", "lock", Var("W"), *outputs, *reg_outputs),
            weight=0.01,
            fields=tuple(f"disks[{d}].output.path" for d in range(len(profile.disks))),
        ),
    )
    steps += _tag(reg_guards, "source")
    steps += _tag(source.prepare_steps(), "source")
    for ctx in ctxs:
        if needs_staging(ctx.info, source, scan):
            w = ctx.info.where  # what lands in the partition, not how its filesystem is made
            steps += _tag(staging_steps(profile, scan, source, ctx), "source",
                          *(f"{w}.{k}" for k in ("mount_point", "contents", "empty", "overlay")))
    for ctx in ctxs:
        steps += _tag(builder_for(ctx.part.filesystem).steps(ctx), ctx.info.where)
    steps += _tag(boot.esp_steps(profile, scan), "boot")
    steps += _tag(
        source.unstage_steps([c.info.key for c in ctxs if needs_staging(c.info, source, scan)]),
        "source",
    )
    finals: list[Word] = []
    for d, disk in enumerate(profile.disks):
        mine = [c.info for c in ctxs if c.info.disk_index == d]
        steps += _tag(assemble_steps(profile, d, mine, content), *_layout_fields(profile, d))
        steps += _tag(boot.disk_steps(profile, scan, d), "boot")
        raw = disk_file(d) if disk.table != Table.none else ws(f"{mine[0].key}.img")
        conv, final = output_steps(d, disk, raw, sum(content[i.key] for i in mine))
        steps += _tag(conv, f"disks[{d}].output")
        finals.append(final)
    for ctx in ctxs:
        steps += _tag(builder_for(ctx.part.filesystem).verify(ctx), ctx.info.where)
    steps += _tag(boot.verify_steps(profile, scan), "boot")
    for d, disk in enumerate(profile.disks):
        if disk.table != Table.none:
            steps += _tag(
                [check_table_step(profile, d, [c.info for c in ctxs if c.info.disk_index == d])],
                *_layout_fields(profile, d),
            )
    # All or nothing, never replacing by surprise: one helper puts every output in place
    # (no-replace renames, rollback on failure, signals held off) as the very last step.
    commit_pairs: list[tuple[Arg, str]] = [*zip(finals, outputs, strict=True), *reg_commit]
    argv: list[Arg] = ["diskwright", "helper", "commit"]
    if force:
        argv.append("--force")
    for src, out in commit_pairs:
        argv += [src, out]
    steps.append(
        Step(
            id="commit",
            title="Put the finished images in place (all or none, never replacing a file)"
            if not force
            else "Put the finished images in place (all or none, replacing old ones)",
            phase="finish",
            expr=cmd(*argv),
            fields=tuple(f"disks[{d}].output.path" for d in range(len(profile.disks))),
            # the Runner hashes each output first; a move to another filesystem copies it
            weight=cost(sum(d.output_bytes for d in est.disks), 300, 0.05)
            + sum(cost(d.output_bytes, 150, 0.3) for d, o in zip(est.disks, outputs, strict=True)
                  if str(Path(o).parent) != workspace_parent),
        )
    )
    tools = sorted(
        {t for c in ctxs for t in builder_for(c.part.filesystem).tools(c)} | _plan_tools(steps)
    )
    return Plan(
        steps=steps,
        outputs=outputs + reg_outputs,
        commit=commit_pairs,
        workspace_parent=workspace_parent,
        env={
            "SOURCE_DATE_EPOCH": str(profile.reproducible.source_date_epoch),
            "LC_ALL": "C",
            "TZ": "UTC",
        },
        warnings=list(est.warnings),
        force=force,
        tools=tools,
        # images + raw disks + converted outputs all sit in the workspace at once
        space_needed=sum(p.image for d in est.disks for p in d.parts)
        + sum(d.disk_bytes + d.output_bytes for d in est.disks),
        sources=source.read_folders(),
    )


def _plan_tools(steps: list[Step]) -> set[str]:
    found: set[str] = set()

    def walk(e: object) -> None:
        if isinstance(e, Cmd):
            if e.argv and isinstance(e.argv[0], str):
                found.add(e.argv[0])
        elif isinstance(e, Pipe):
            for part in e.cmds:
                walk(part)
        elif isinstance(e, And):
            for item in e.items:
                walk(item)
        elif isinstance(e, Or):
            walk(e.first)
            walk(e.then)

    for s in steps:
        if s.expr is not None:
            walk(s.expr)
    basic = {
        "sh",
        "test",
        "mv",
        "cp",
        "mkdir",
        "rm",
        "chmod",
        "touch",
        "find",
        "truncate",
        "printf",
        "dd",
        "stat",
        "sed",
        "env",
    }
    return found - basic
