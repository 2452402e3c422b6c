"""``fieldsync``: the coordinator's sync client.

Every failure ends in one line on standard error and an exit code per kind (see
:mod:`sync_client.errors`); no stack trace reaches the terminal. The commands live in
:mod:`sync_client.commands` and are registered below, one line each.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from typing import Any

import click

from sync_client.commands.bundle import bundle_group
from sync_client.commands.conflicts import conflicts_group
from sync_client.commands.importing import import_command
from sync_client.commands.keys import keys_group
from sync_client.commands.login import login
from sync_client.commands.outbox import outbox_group
from sync_client.commands.peer import peer_group
from sync_client.commands.status import status
from sync_client.commands.transfer import pull_command, push_command, sync_command
from sync_client.errors import EXIT_INTERNAL, FieldsyncError
from sync_client.export import export_command
from sync_client.home import fieldsync_home
from sync_client.hub_cli import hub_group
from sync_client.store import STORE_NAME, describe_sqlite_error, store_os_error


class FieldsyncGroup(click.Group):
    """Turns every failure into one line on stderr and the exit code of its kind."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except FieldsyncError as exc:
            fail(ctx, f"{exc}", exc.exit_code)
        except sqlite3.Error as exc:
            error = describe_sqlite_error(exc, fieldsync_home() / STORE_NAME)
            fail(ctx, str(error), error.exit_code)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                error = store_os_error(exc, fieldsync_home())
                fail(ctx, str(error), error.exit_code)
            fail(ctx, f"unexpected system error: {exc}", EXIT_INTERNAL)
        except KeyboardInterrupt:
            fail(ctx, "interrupted; nothing confirmed was lost, run the command again", 130)
        except Exception as exc:  # the promise is: never a stack trace
            fail(ctx, f"internal error ({type(exc).__name__}: {exc}); please report it", 1)
        return None


def fail(ctx: click.Context, message: str, code: int) -> None:
    if sys.stderr.isatty():
        # Ctrl-C may land in the middle of a retry message that updates in place.
        click.echo("\r\x1b[K", err=True, nl=False)
    click.echo(f"fieldsync: {message}", err=True)
    ctx.exit(code)


@click.group(
    cls=FieldsyncGroup,
    help=(
        "Sync a coordinator's laptop with a fieldsync server over slow, flaky links.\n\n"
        "Data lives in FIELDSYNC_HOME (default: a per-user data folder). Exit codes: "
        "2 usage, 3 offline, 4 login refused, 5 server error, 6 items refused (conflict or "
        "rejected), 7 local store problem, 8 import skipped files, 9 bundle refused."
    ),
)
@click.version_option(package_name="fieldsync")
def main() -> None:
    pass


# Every command, by name: adding one is one import above and one line here.
main.add_command(login)
main.add_command(import_command)
main.add_command(push_command)
main.add_command(pull_command)
main.add_command(sync_command)
main.add_command(status)
main.add_command(conflicts_group)
main.add_command(outbox_group)
main.add_command(hub_group)
main.add_command(export_command)
main.add_command(keys_group)
main.add_command(bundle_group)
main.add_command(peer_group)

if __name__ == "__main__":
    main(prog_name="fieldsync")
