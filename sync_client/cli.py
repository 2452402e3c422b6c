"""``fieldsync``: the coordinator's sync client."""

from __future__ import annotations

import click


@click.group(help="Sync a coordinator's laptop with a fieldsync server over slow, flaky links.")
@click.version_option(package_name="fieldsync")
def main() -> None:
    pass
