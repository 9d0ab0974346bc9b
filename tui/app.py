"""The Textual wizard: owns the wizard's state and applies what the screens ask.

The state (draft, scan, latest analysis, selection, step: tui/state.py) is
written here only, in the handlers of the screens' messages (tui/messages.py)
and when a worker reports. Edits land in the draft at once; estimate and plan
are recomputed in a worker thread after a short debounce, and the newest
result wins. The scan runs in its own thread and reports progress a few times
a second, so typing never waits for the disk.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import Notify
from textual.timer import Timer

from ..core.errors import ProfileError
from ..core.scan import Scan
from . import messages as msg
from .model import (
    STEP_TITLES,
    Analysis,
    Draft,
    PathKey,
    analyse,
    blank_draft,
    internal_error,
    load_draft,
    plan_header,
    scan_draft_source,
)
from .state import WizardState
from .widgets import short_path

TITLE_KEYS = frozenset({"label", "role", "filesystem", "mount_point", "contents", "empty"})
DEBOUNCE = 0.02  # seconds between the last keystroke and the refresh
SCAN_DEBOUNCE = 0.25  # typing a path: wait a little before scanning it


class WizardApp(App[int]):
    """`diskwright wizard`: from a preset (or a saved profile) to a built image."""

    CSS_PATH = "wizard.tcss"
    TITLE = "diskwright"
    ENABLE_COMMAND_PALETTE = False
    # App-level and priority, so the footer lists them in this order on every screen and
    # Ctrl+E/Ctrl+S work inside text fields too (End is still there for the cursor).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", priority=True),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+o", "open", "Open", priority=True),
        Binding("ctrl+e", "export", "Export plan", priority=True),
        Binding("ctrl+b", "step(-1)", "Back", priority=True),
        Binding("ctrl+n", "step(1)", "Next", priority=True),
        Binding("f2", "panel", "Panels", priority=True),
        Binding("f5", "rescan", "Rescan", show=False, priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        # while a build runs (and no dialog is open), Esc and Ctrl+C ask to cancel it
        Binding("escape", "cancel_build", "Cancel build", show=False, priority=True),
        Binding("ctrl+c", "cancel_build", "Cancel build", priority=True),
    ]

    def __init__(
        self,
        profile_path: str | None = None,
        *,
        draft: Draft | None = None,
        step: str = "source",
        frozen: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.profile_path = profile_path
        self._initial = draft
        self._initial_step = step
        self.frozen = frozen  # snapshots: no timings on screen (headless: no cursor blinks)
        # the one state every screen reads; only this app changes it (see tui/messages.py)
        self.state = WizardState(frozen=frozen, clock=clock, draft=draft, step=step)
        self.pending_path: Path | None = None  # `wizard new.toml`: where to save later
        self._gen = 0
        self._applied = -1
        self._timer: Timer | None = None
        self._scan_timer: Timer | None = None
        self._analysing = 0
        self._scan_key: Any = None
        self._scan_cancel: threading.Event | None = None
        self.first_paint: float | None = None
        self._opening = False
        self._loading = False  # a profile is being read after the first paint

    # ------------------------------------------------------------ start

    def on_mount(self) -> None:
        from .screens.start import StartScreen

        if self._initial is not None:
            self.open_draft(self._initial, self._initial_step)
            return
        if self.profile_path:
            path = Path(self.profile_path).expanduser()
            if not path.exists():
                self.pending_path = path.resolve()
                self.push_screen(StartScreen(
                    note=f"{path} does not exist yet: choose a starting point and it will be "
                    "saved there (Ctrl+S)."))
                return
            # paint the wizard's frame first; reading and validating the profile follows
            from .screens.wizard import WizardScreen

            self.sub_title = f"opening {path}…"
            self._loading = True
            self.push_screen(WizardScreen(self.state))
            self.call_after_refresh(self._open_path, path)
            return
        self.push_screen(StartScreen())

    def _open_path(self, path: Path) -> None:
        """Read the profile in a thread: the frame stays responsive while pydantic loads."""

        def work() -> None:
            try:
                draft = load_draft(path)
            except ProfileError as err:
                self._post(self._open_failed, err)
                return
            self._post(self._opened, draft)

        self.run_worker(work, thread=True, group="load", exit_on_error=False)

    def _opened(self, draft: Draft) -> None:
        self.open_draft(draft, self._initial_step, reuse=True)
        self._loading = False

    def _open_failed(self, err: ProfileError) -> None:
        from .screens.start import StartScreen

        self._loading = False
        self.switch_screen(StartScreen(note=f"✗ {err}"))

    def _on_notify(self, event: Notify) -> None:
        """One toast per message: the same notice again replaces the one still shown.

        Pressing Next three times (or any repeated refusal) stacked three copies
        over the form at 80×24; the new one takes the old one's place, and its
        timeout starts again.
        """
        new = event.notification
        for old in list(self._notifications):
            if (old.message, old.title, old.severity) == (new.message, new.title, new.severity):
                self._unnotify(old, refresh=False)
        super()._on_notify(event)

    def on_ready(self) -> None:
        self.first_paint = time.perf_counter()
        self.run_worker(_warm_up, thread=True, group="warm-up", exit_on_error=False)

    def start_preset(self, name: str) -> None:
        """Ask where the user's copy of the example goes, copy it there and open the copy.

        The example itself is never opened: its paths would be saved pointing into
        the install folder. The default is ./my-<name>.toml (or the PROFILE the
        wizard was started with, when it does not exist yet).
        """
        from ..core.presets import new_profile_name, preset
        from .dialogs import PresetCopyModal

        chosen = preset(name)
        base = Path.cwd()
        initial = self.pending_path or base / new_profile_name(base, name)

        def copy(answer: tuple[Path, bool] | None) -> None:
            if answer is None:
                return
            target, with_demo = answer
            try:
                path = chosen.copy_to(target.parent, with_demo=with_demo, name=target.name)
                draft = load_draft(path)
            except FileExistsError as err:
                self.notify(f"{err} exists; nothing was copied", severity="error",
                            title="Not created")
                return
            except OSError as err:
                self.notify(f"Could not copy the example to {target}: {err.strerror or err}",
                            severity="error", title="Not created")
                return
            except ProfileError as err:
                self.notify(str(err), severity="error", title="Cannot open")
                return
            self.pending_path = None
            self.open_draft(draft)

        self.push_screen(PresetCopyModal(chosen, initial, base=base), copy)

    def start_blank(self) -> None:
        base = self.pending_path.parent if self.pending_path else Path.cwd()
        draft = blank_draft(base)
        self._adopt_pending(draft)
        self.open_draft(draft)

    def _adopt_pending(self, draft: Draft) -> None:
        if self.pending_path is not None:
            draft.path = self.pending_path
            draft.dirty = True

    def open_draft(self, draft: Draft, step: str = "source", *, reuse: bool = False) -> None:
        """Show `draft` in a fresh wizard screen (replacing the start screen or the old one).

        `reuse`: the current screen is an empty wizard frame painted while loading.
        """
        from .screens.wizard import WizardScreen

        self.state.open(draft, step)
        self._scan_key = None
        if not (reuse and isinstance(self.screen, WizardScreen)):
            screen = WizardScreen(self.state)
            if len(self.screen_stack) > 1:
                self.switch_screen(screen)
            else:
                self.push_screen(screen)
        self._opening = True
        self.call_after_refresh(self._after_open, step)
        self.update_title()

    async def _after_open(self, step: str) -> None:
        try:
            await self.goto(step, force=True)
            self.start_scan()
            self.schedule_analysis(0)
        finally:
            self._opening = False

    def update_title(self) -> None:
        if self.state.draft is None:
            return
        name = self.state.draft.get(("name",)) or "profile"
        where = str(self.state.draft.path) if self.state.draft.path else "not saved"
        tail = " · modified" if self.state.draft.dirty else ""
        # the header cuts what does not fit at its end, which lost the file's own name
        # at 80 columns ("…/ex/zfs-root.to…"): a long path gives up its first folders
        room = self.size.width - len(f"{self.title} — ") - 18  # the icon and its mirror
        if self.state.draft.path and len(f"{name} · {where}{tail}") > room:
            where = short_path(where, 2)
            if len(f"{name} · {where}{tail}") > room:
                where = short_path(where, 1)
        self.sub_title = f"{name} · {where}{tail}"

    def on_resize(self) -> None:
        self.update_title()

    # ------------------------------------------------------------ wizard plumbing

    @property
    def wizard_screen(self) -> Any:
        from .screens.wizard import WizardScreen

        for screen in reversed(self.screen_stack):
            if isinstance(screen, WizardScreen):
                return screen
        return None

    async def goto(self, step: str, *, force: bool = False) -> None:
        screen = self.wizard_screen
        if screen is None:
            return
        if self.state.building and step != "build" and not force:
            self.notify("A build is running: cancel it first (Cancel button).",
                        title="Building", severity="warning")
            return
        if step not in screen.visible_steps():
            step = "layout"
        self._select_for(step)
        self.state.current_step = step
        await screen.show_step(step)

    def _select_for(self, step: str) -> None:
        """A filesystem's own step (zfs) edits one partition: keep the selected one if it
        belongs there, else select the first that does."""
        parts = self.state.draft.parts_for_step(step, by_role=True)
        if parts and self.state.selected not in parts:
            self.state.selected = parts[0]

    # ------------------------------------------------------------ what the screens ask

    # Screens never change the state: they post the messages of tui/messages.py, which
    # bubble up to here. Each handler applies one and brings every form up to date.

    @on(msg.Edit)
    async def _on_edit(self, message: msg.Edit) -> None:
        await self.edit(message.path, message.value, structural=message.structural)

    @on(msg.Reshape)
    async def _on_reshape(self, message: msg.Reshape) -> None:
        if self._refused():
            return
        done = message.apply(self.state.draft, self.state.selected)
        if done is None:
            return
        await self.structure_changed(select=done.select)
        if done.note:
            self.notify(done.note, title=done.title)

    @on(msg.Goto)
    async def _on_goto(self, message: msg.Goto) -> None:
        await self.goto(message.step)

    @on(msg.Step)
    async def _on_step(self, message: msg.Step) -> None:
        await self.action_step(message.delta)

    @on(msg.Select)
    async def _on_select(self, message: msg.Select) -> None:
        await self.select(message.d, message.p)

    @on(msg.Rescan)
    def _on_rescan(self, message: msg.Rescan) -> None:
        self.start_scan(force=message.force)

    @on(msg.SetForce)
    def _on_set_force(self, message: msg.SetForce) -> None:
        self.set_force(message.force)

    @on(msg.Save)
    def _on_save(self) -> None:
        self.action_save()

    @on(msg.Export)
    def _on_export(self) -> None:
        self.action_export()

    @on(msg.Open)
    def _on_open(self) -> None:
        self.action_open()

    @on(msg.StartBlank)
    def _on_start_blank(self) -> None:
        self.start_blank()

    @on(msg.StartPreset)
    def _on_start_preset(self, message: msg.StartPreset) -> None:
        self.start_preset(message.name)

    @on(msg.Building)
    def _on_building(self, message: msg.Building) -> None:
        self.state.building = message.running
        if message.built is not None:
            self.state.draft.built = message.built
        self.refresh_bindings()
        if not message.running:
            self.refresh_steps()
            self.schedule_analysis()  # the outputs it wrote are this wizard's own now

    # ------------------------------------------------------------ applying them

    def _refused(self) -> bool:
        if self.state.building:
            self.notify("The profile cannot change while a build runs.", severity="warning")
        return self.state.building

    async def edit(self, path: PathKey, value: Any, *, structural: bool = False) -> None:
        """A field changed: store it, refresh soon; rebuild forms whose shape changed."""
        if self._refused():
            return
        changed = self.state.draft.set(path, value)
        if changed:
            screen = self.wizard_screen
            if screen is not None:
                screen.show_value(path, value)  # the same field on other steps, or a dialog's pick
            self.update_title()
            if path[0] == "source" and path[1:2] in (("path",), ("closure",), ("store",)):
                self._schedule_scan()
            self.schedule_analysis()
            if screen is not None and path[-1] in TITLE_KEYS and "partitions" in path:
                await screen.sync_titles()
        if structural:
            await self.structure_changed()

    async def structure_changed(self, select: tuple[int, int] | None = None) -> None:
        if select is not None:
            self.state.selected = select
        self._clamp()
        self.update_title()
        self.schedule_analysis()
        await self._resync()

    async def select(self, d: int, p: int) -> None:
        self.state.selected = (d, p)
        self._clamp()
        await self._resync()

    async def _resync(self) -> None:
        """Every form shows the state again; on a step that is gone (ZFS), go to Layout."""
        screen = self.wizard_screen
        if screen is None:
            return
        await screen.sync_all()
        if self.state.current_step not in screen.visible_steps():
            await self.goto("layout")

    def _clamp(self) -> None:
        d, p = self.state.selected
        n = len(self.state.draft.disks)
        d = min(max(d, 0), max(n - 1, 0))
        p = min(max(p, 0), max(len(self.state.draft.parts(d)) - 1, 0))
        self.state.selected = (d, p)

    def set_force(self, force: bool) -> None:
        if force != self.state.draft.force:
            self.state.draft.force = force
            self.schedule_analysis()

    def refresh_steps(self) -> None:
        screen = self.wizard_screen
        if screen is not None:
            screen.refresh_steps()

    # ------------------------------------------------------------ analysis

    @property
    def analysis_pending(self) -> bool:
        return self._timer is not None or self._analysing > 0

    @property
    def busy(self) -> bool:
        """Something is still being computed (tests and benchmarks wait on this)."""
        return (self._loading or self._opening or self.analysis_pending
                or self._scan_timer is not None or self.state.scan_status.state == "scanning")

    def schedule_analysis(self, delay: float = DEBOUNCE) -> None:
        self._gen += 1
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(max(delay, 0.001), self._launch_analysis)

    def _launch_analysis(self) -> None:
        self._timer = None
        gen = self._gen
        draft = self.state.draft
        data = copy.deepcopy(draft.data)
        base, scan, force, path = draft.base_dir, self.state.scan, draft.force, draft.path
        built = dict(draft.built)
        extra = [self.state.scan_error] if self.state.scan_error is not None else []
        screen = self.wizard_screen
        width = screen.plan_width() if screen is not None else 0
        self._analysing += 1

        def work() -> None:
            from .widgets import prepare_script

            try:
                result = analyse(data, base, scan, force=force, revision=gen, path=path,
                                 extra_errors=extra, built=built)
                if result.script:
                    result.prepared = prepare_script(result.script, width)
            except Exception as err:  # never let a core bug take the UI down
                result = Analysis(revision=gen, crash=internal_error(err, base))
            self._post(self._analysis_ready, result)

        self.run_worker(work, thread=True, group="analyse", exit_on_error=False)

    def _analysis_ready(self, result: Analysis) -> None:
        self._analysing -= 1
        if result.revision < self._applied:
            return
        self._applied = result.revision
        self.state.analysis = result
        if result.estimate is not None and result.plan is not None:
            self.state.last_good = result
        screen = self.wizard_screen
        if screen is not None:
            screen.apply_analysis(result)

    def _post(self, fn: Callable[..., Any], *args: Any) -> None:
        """From a worker thread to the UI; quietly dropped once the app is gone."""
        try:
            self.call_from_thread(fn, *args)
        except RuntimeError:
            pass

    # ------------------------------------------------------------ scanning

    def _schedule_scan(self) -> None:
        if self._scan_timer is not None:
            self._scan_timer.stop()
        self._scan_timer = self.set_timer(SCAN_DEBOUNCE, self._scan_due)

    def _scan_due(self) -> None:
        self._scan_timer = None
        self.start_scan()

    def start_scan(self, *, force: bool = False) -> None:
        """Scan the source (folder and/or Nix closure) in a thread, unless its scan is current."""
        from ..core.scan import forget_cache

        key = self.state.draft.source_key()
        root, closure, _store = key
        if not self.state.draft.has_source() or (
                root is not None and not root.is_dir() and not closure):
            self._cancel_scan()
            self.state.scan = None
            self.state.scan_error = None
            self._scan_key = None
            if root is None:
                self.state.scan_status = self.state.status()
            else:
                why = "does not exist" if not root.exists() else "is not a folder"
                self.state.scan_status = self.state.status("missing", root,
                                                    message=f"{root} {why}")
            self._scan_changed()
            return
        if not force and key == self._scan_key and (
                self.state.scan is not None
                or self.state.scan_status.state in ("scanning", "error")):
            return
        self._cancel_scan()
        if force:
            forget_cache()
        self._scan_key = key
        cancel = threading.Event()
        self._scan_cancel = cancel
        shown = root or Path("/nix/store")
        self.state.scan_status = self.state.status("scanning", shown)
        self._scan_changed()
        source = copy.deepcopy(self.state.draft.data.get("source") or {})
        base = self.state.draft.base_dir

        def work() -> None:
            from ..core.scan import ScanCancelled

            last = 0.0

            def progress(entries: int, nbytes: int) -> None:
                nonlocal last
                now = time.monotonic()
                if now - last >= 0.1:
                    last = now
                    self._post(self._scan_progress, key, entries, nbytes)

            try:
                scan = scan_draft_source({"source": source}, base, progress, cancel)
            except ScanCancelled:
                return
            except ProfileError as err:
                self._post(self._scan_failed, key, str(err), err)
                return
            except OSError as err:
                self._post(self._scan_failed, key, err.strerror or str(err), None)
                return
            self._post(self._scan_done, key, scan)

        self.run_worker(work, thread=True, group="scan", exit_on_error=False)

    def _cancel_scan(self) -> None:
        if self._scan_cancel is not None:
            self._scan_cancel.set()
            self._scan_cancel = None

    def _scan_progress(self, key: Any, entries: int, nbytes: int) -> None:
        if key == self._scan_key and self.state.scan_status.state == "scanning":
            self.state.scan_status.entries = entries
            self.state.scan_status.nbytes = nbytes
            self._scan_changed()

    def _scan_failed(self, key: Any, message: str, error: ProfileError | None) -> None:
        if key == self._scan_key:
            self.state.scan_status = self.state.status(
                "error", key[0] or Path("/nix/store"), message=message)
            self.state.scan = None
            self.state.scan_error = error
            self._scan_changed()
            self.schedule_analysis(0)

    def _scan_done(self, key: Any, scan: Scan) -> None:
        if key != self._scan_key:
            return
        total = scan.total()
        self.state.scan = scan
        self.state.scan_error = None
        self.state.scan_status = self.state.status(
            "done", key[0] or scan.root, entries=total.entries, nbytes=total.bytes,
            files=total.files,
            dirs=total.dirs, symlinks=total.symlinks, hardlinks=total.hardlinks,
            seconds=scan.seconds)
        self._scan_changed()
        self.schedule_analysis(0)

    def _scan_changed(self) -> None:
        screen = self.wizard_screen
        if screen is not None:
            screen.show_scan()

    # ------------------------------------------------------------ anywhere: save, open, export

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Wizard keys only where they mean something; none of them inside a dialog."""
        from textual.screen import ModalScreen

        if action == "cancel_build":
            return self.state.building and not isinstance(self.screen, ModalScreen)
        if action in ("save", "export", "step", "panel", "rescan", "open", "help") and \
                isinstance(self.screen, ModalScreen):
            return None if action != "help" else False
        if action in ("save", "export", "step", "panel", "rescan") and (
                self.wizard_screen is None or self.screen is not self.wizard_screen):
            return False
        if action == "panel" and not self.screen.has_class("-narrow"):
            return False
        return True

    def action_cancel_build(self) -> None:
        form = self.wizard_screen.form("build") if self.wizard_screen is not None else None
        if form is not None:
            form.ask_cancel()

    async def action_step(self, delta: int) -> None:
        """Back (-1) or Next (+1) from the step shown now (Next says why when it cannot)."""
        screen = self.wizard_screen
        if screen is not None and (step := screen.neighbour(delta)) is not None:
            await self.goto(step)

    def action_panel(self) -> None:
        if self.wizard_screen is not None:
            self.wizard_screen.action_panel()

    def action_rescan(self) -> None:
        self.start_scan(force=True)

    def action_help(self) -> None:
        from .dialogs import HelpModal
        from .help import help_for

        step = self.state.current_step if self.wizard_screen is not None else "start"
        if isinstance(self.screen, HelpModal):
            return
        self.push_screen(HelpModal(help_for(step)))

    def action_save(self, then: Callable[[], Any] | None = None) -> None:
        from .dialogs import ConfirmModal, PathModal

        if self.wizard_screen is None:
            return
        default = self._suggested_save_path()

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            if path.exists() and path != self.state.draft.path:
                self.push_screen(ConfirmModal(
                    "Replace the file?", f"{path} exists. Replace it with this profile?",
                    [("Replace", "yes", "error"), ("Cancel", "no", "default")]),
                    lambda answer: self._check_and_save(path, then) if answer == "yes" else None)
            else:
                self._check_and_save(path, then)

        self.push_screen(PathModal("Save the profile as", default, mode="save", suffix=".toml",
                                   base=self.state.draft.base_dir,
                                   note="TOML; relative paths inside are kept pointing at the "
                                   "same files."), chosen)

    def _suggested_save_path(self) -> Path:
        """The file itself, or a new my-<name>.toml: never the example shipped with diskwright."""
        from ..core.presets import EXAMPLES, new_profile_name

        examples = EXAMPLES.resolve()
        path = self.state.draft.path
        if path is not None and not path.resolve().is_relative_to(examples):
            return path
        base = self.state.draft.base_dir
        if base.resolve().is_relative_to(examples):
            base = Path.cwd()
        return base / new_profile_name(base, str(self.state.draft.get(("name",)) or "profile"))

    def _check_and_save(self, path: Path, then: Callable[[], Any] | None) -> None:
        from .dialogs import ConfirmModal

        n = len(self.state.analysis.model_errors)
        if n:
            self.push_screen(ConfirmModal(
                "Save with problems?",
                f"The profile has {n} problem{'s' * (n != 1)} the model rejects; "
                "`diskwright build` will refuse it until they are fixed. Save anyway?",
                [("Save anyway", "yes", "warning"), ("Cancel", "no", "default")]),
                lambda answer: self._save_to(path, then) if answer == "yes" else None)
        else:
            self._save_to(path, then)

    def _save_to(self, path: Path, then: Callable[[], Any] | None = None) -> None:
        try:
            self.state.draft.save(path)
        except OSError as err:
            self.notify(f"Could not save {path}: {err.strerror or err}", severity="error",
                        title="Not saved")
            return
        self.update_title()
        self.notify(f"Saved {path}", title="Profile saved")
        self.schedule_analysis(0)
        if self.wizard_screen is not None:
            self.call_later(self._resync)
        if then is not None:
            then()

    def action_open(self) -> None:
        from .dialogs import ConfirmModal, PathModal

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            try:
                draft = load_draft(path)
            except ProfileError as err:
                self.notify(str(err), severity="error", title="Cannot open")
                return
            self.open_draft(draft)

        def ask_path(answer: str | None = "yes") -> None:
            if answer == "yes":
                # on the start screen there is no draft yet (Open… used to crash here)
                draft = self.state.draft
                start = (draft.path if draft is not None else None) or Path.cwd()
                self.push_screen(PathModal("Open a profile", start, mode="open", suffix=".toml"),
                                 chosen)

        if self.state.building:
            self.notify("A build is running: cancel it first.", severity="warning")
        elif self.wizard_screen is not None and self.state.draft.dirty:
            self.push_screen(ConfirmModal(
                "Discard changes?", "This profile has unsaved changes. Open another one anyway?",
                [("Open another", "yes", "warning"), ("Stay", "no", "default")]), ask_path)
        else:
            ask_path()

    def action_export(self) -> None:
        from .dialogs import ConfirmModal, PathModal

        if self.wizard_screen is None:
            return
        a = self.state.analysis
        if a.plan is None:
            self.notify("The plan exists once the profile is valid; fix the marked fields.",
                        severity="warning", title="Nothing to export yet")
            return
        default = self.state.draft.base_dir / f"{self.state.draft.get(('name',)) or 'plan'}-plan.sh"

        def write(path: Path) -> None:
            from ..core.plan import helper_dir, render_script

            text = render_script(a.plan, header=plan_header(str(self.state.draft.get(("name",))),
                                                            self.state.draft.path),
                                 helper_bin=helper_dir())
            try:
                path.write_text(text, encoding="utf-8")
                path.chmod(0o755)
            except OSError as err:
                self.notify(f"Could not write {path}: {err.strerror or err}", severity="error")
                return
            self.notify(f"Wrote {path} — run it with: sh {path.name}", title="Plan exported")

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            if path.exists():
                self.push_screen(ConfirmModal(
                    "Replace the file?", f"{path} exists. Replace it with the plan?",
                    [("Replace", "yes", "error"), ("Cancel", "no", "default")]),
                    lambda answer: write(path) if answer == "yes" else None)
            else:
                write(path)

        self.push_screen(PathModal("Export the plan as a shell script", default, mode="save",
                                   base=self.state.draft.base_dir), chosen)

    async def action_quit(self) -> None:
        from .dialogs import ConfirmModal

        if self.state.building:
            def answered(answer: str | None) -> None:
                if answer == "stop":
                    form = self.wizard_screen.form("build") if self.wizard_screen else None
                    if form is not None:
                        form.cancel_now()
                    self.set_timer(0.5, self._quit_after_build)

            self.push_screen(ConfirmModal(
                "Stop the build and quit?", "The build is cancelled; nothing is written.",
                [("Stop and quit", "stop", "error"), ("Keep building", "keep", "primary")]),
                answered)
            return
        draft = self.state.draft
        if self.wizard_screen is not None and draft is not None and draft.dirty:
            def decided(answer: str | None) -> None:
                if answer == "save":
                    self.action_save(then=lambda: self.exit(0))
                elif answer == "quit":
                    self.exit(0)

            self.push_screen(ConfirmModal(
                "Quit with unsaved changes?",
                "The profile has changes that are not saved.",
                [("Save…", "save", "primary"), ("Quit without saving", "quit", "error"),
                 ("Stay", "stay", "default")]), decided)
            return
        self.exit(0)

    def _quit_after_build(self) -> None:
        if self.state.building:
            self.set_timer(0.2, self._quit_after_build)
        else:
            self.exit(0)


def _warm_up() -> None:
    """After the first paint, import what the first refresh needs, off the UI thread."""
    from ..core import plan, planner, profile, runner  # noqa: F401
    from .screens import source  # noqa: F401


def run_app(profile_path: str | None) -> int:
    """Entry point for `diskwright` / `diskwright wizard [PROFILE]`."""
    app = WizardApp(profile_path)
    result = app.run()
    return int(result or 0)


__all__ = ["STEP_TITLES", "WizardApp", "run_app"]
