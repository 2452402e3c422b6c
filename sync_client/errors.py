"""Every failure the client expects, under one base class.

Each kind carries the exit code the CLI ends with, so a script driving ``fieldsync`` can tell an
unreachable server from a refused login or a damaged local store without parsing messages.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_OFFLINE = 3
EXIT_AUTH = 4
EXIT_SERVER = 5
EXIT_CONFLICT = 6
EXIT_STORE = 7
EXIT_SKIPPED = 8


class FieldsyncError(Exception):
    """A failure the user can act on; ``str()`` is the one line the CLI prints."""

    exit_code = EXIT_INTERNAL
    label = "error"


class UsageError(FieldsyncError):
    """The command was asked for something that cannot be done as asked (not logged in,
    no such project, a malformed option)."""

    exit_code = EXIT_USAGE
    label = "usage"


class OfflineError(FieldsyncError):
    """The server could not be reached (no link, DNS failure, timeouts) after the retries."""

    exit_code = EXIT_OFFLINE
    label = "offline"


class AuthError(FieldsyncError):
    """The server refused who we are: wrong password, expired or revoked token, no role."""

    exit_code = EXIT_AUTH
    label = "auth"


class ServerError(FieldsyncError):
    """The server answered, but with a failure that is not ours to fix (5xx, garbage)."""

    exit_code = EXIT_SERVER
    label = "server"


class ConflictError(FieldsyncError):
    """The server refused some items (conflict or rejected); they are kept locally."""

    exit_code = EXIT_CONFLICT
    label = "conflict"


class StoreError(FieldsyncError):
    """The local store cannot be used: damaged file, full disk, no permission."""

    exit_code = EXIT_STORE
    label = "store"


class SkippedError(FieldsyncError):
    """An import left files out (unknown form, broken XML, unreadable file); the rest was
    imported."""

    exit_code = EXIT_SKIPPED
    label = "skipped"
