"""One family of errors the user can fix, each carrying a message for a person.

Front ends print `str(err)` and map the class to an exit code; no traceback
ever reaches the user for these.
"""

from __future__ import annotations


class DiskwrightError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ProfileError(DiskwrightError):
    """The profile is wrong: names the field and the fix."""

    exit_code = 2

    def __init__(self, field: str, message: str, fix: str = "") -> None:
        self.field = field
        self.problem = message
        self.fix = fix
        text = f"{field}: {message}" if field else message
        if fix:
            text += f" — {fix}"
        super().__init__(text)


class ProfileErrors(DiskwrightError):
    """Several profile problems at once, so the user can fix them in one go."""

    exit_code = 2

    def __init__(self, errors: list[ProfileError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class ToolMissing(DiskwrightError):
    """A required program is not installed; `hint` says how to get it."""

    exit_code = 2

    def __init__(self, tool: str, hint: str) -> None:
        self.tool = tool
        self.hint = hint
        super().__init__(f"{tool} is not installed — {hint}")


class PreflightError(DiskwrightError):
    """The machine cannot build this profile (space, permissions, existing output)."""

    exit_code = 2


class BuildFailed(DiskwrightError):
    """A step failed; `lines` holds the tool's last output for the user."""

    exit_code = 1

    def __init__(self, step: str, message: str, lines: list[str] | None = None) -> None:
        self.step = step
        self.lines = list(lines or [])
        super().__init__(f"step {step!r} failed: {message}")


class Cancelled(DiskwrightError):
    """The user stopped the build; nothing was written."""

    exit_code = 130

    def __init__(self, message: str = "cancelled; nothing was written") -> None:
        super().__init__(message)
