"""What every ``fieldsync-server`` command shares: the runtime, one transaction per command,
and failures as one line on standard error with an exit code (no stack trace reaches the
terminal). The command groups live with their packages; ``server/cli.py`` registers them all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import click
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from server.errors import Problem
from server.settings import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_DATABASE = 4
EXIT_REFUSED = 1


class OpenedRuntime(Protocol):
    """What a command needs of the server's runtime (``server.web.Runtime``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def session_factory(self) -> sessionmaker[Session]: ...


class CliState:
    """The runtime, opened on first use (``--help`` needs no database).

    ``open_runtime`` is set by the entry point (``server/cli.py``), which sits above every
    layer; this module is below the packages whose commands use it (ADR 0007).
    """

    open_runtime: Callable[[Settings], OpenedRuntime] | None = None

    def __init__(self) -> None:
        self._runtime: OpenedRuntime | None = None

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def runtime(self) -> Any:
        if self._runtime is None:
            if CliState.open_runtime is None:
                raise RuntimeError("the command tree in server/cli.py sets CliState.open_runtime")
            self._runtime = CliState.open_runtime(Settings.from_env())
        return self._runtime

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        from server.db import transaction

        with transaction(self.runtime.session_factory) as session:
            yield session


def fail(message: str, code: int = EXIT_REFUSED) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn every expected failure into one line and an exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Problem as exc:
            fail(describe_problem(exc))
        except SettingsError as exc:
            fail(str(exc), EXIT_CONFIG)
        except ArgumentError as exc:
            fail(f"DATABASE_URL is malformed: {exc}", EXIT_CONFIG)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            fail(f"cannot reach the database: {reason}", EXIT_DATABASE)
        return None

    return cast(F, wrapper)


def describe_problem(problem: Problem) -> str:
    field_errors = problem.extra.get("errors")
    if isinstance(field_errors, dict) and field_errors:
        return "; ".join(
            f"{name}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for name, msgs in sorted(field_errors.items())
        )
    return problem.detail


pass_state = click.make_pass_decorator(CliState, ensure=True)


def read_password() -> str:
    """A password from the terminal (asked twice) or the first line of standard input."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail(
            "no password on standard input (echo 'the-password' | fieldsync-server user ...)",
            EXIT_USAGE,
        )
    return password


def read_passphrase(from_stdin: bool, *, confirm: bool = False) -> str:
    """An encryption passphrase: the first line of standard input (``--passphrase-stdin``, for
    scripts), else typed at a hidden prompt. It is never echoed, logged or stored."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt(
        "Encryption passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return value


passphrase_stdin_option = click.option(
    "--passphrase-stdin",
    is_flag=True,
    help="Read the encryption passphrase from the first line of standard input "
    "instead of prompting for it.",
)
