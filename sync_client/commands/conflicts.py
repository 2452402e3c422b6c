"""``fieldsync conflicts``: list the project's open conflicts, tell one's full story, and queue
a coordinator's resolution for the next push."""

from __future__ import annotations

import click

from sync_client import conflicts as conflicts_mod
from sync_client.commands.common import NetOptions, make_api, network_options, opened_store
from sync_client.errors import UsageError
from sync_client.home import fieldsync_home, load_config
from sync_client.http import ApiProblem


@click.group(
    "conflicts",
    invoke_without_command=True,
    help=(
        "List the project's open conflicts: each competing value with the base value it "
        "started from, who sent it from which device, and when. `conflicts show ID` tells one "
        "conflict's full story; `conflicts resolve` queues a resolution."
    ),
)
@click.option("--soft", is_flag=True, help="Also list soft conflicts (no review needed).")
@network_options
@click.pass_context
def conflicts_group(ctx: click.Context, soft: bool, net: NetOptions) -> None:
    if ctx.invoked_subcommand is not None:
        return
    home = fieldsync_home()
    config = load_config(home).require_login()
    assert config.project_id is not None
    with opened_store(home) as store:
        listing = conflicts_mod.list_conflicts(
            store, make_api(config, net), config.project_id, include_soft=soft
        )
    if listing.note:
        click.echo(f"note: {listing.note}", err=True)
    if not listing.conflicts:
        click.echo("no open conflicts")
        return
    for conflict in listing.conflicts:
        click.echo(conflicts_mod.describe(conflict))


@conflicts_group.command(
    "show",
    help=(
        "One conflict's full story, from the server: the base value, every value sent (by "
        "whom, from which device, with its date of information), and the record's versions."
    ),
)
@click.argument("conflict_id", type=int)
@network_options
def conflicts_show(conflict_id: int, net: NetOptions) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    assert config.project_id is not None
    api = make_api(config, net)
    try:
        conflict = conflicts_mod.fetch_one(api, config.project_id, str(conflict_id))
    except ApiProblem as problem:
        if problem.status == 404:
            raise UsageError(
                f"the server knows no conflict {conflict_id} in project {config.project_id}; "
                "`fieldsync conflicts` lists the open ones"
            ) from problem
        raise
    versions = conflicts_mod.fetch_versions(
        api, config.project_id, str(conflict.get("list")), str(conflict.get("entity"))
    )
    for line in conflicts_mod.story(conflict, versions):
        click.echo(line)


@conflicts_group.command(
    "resolve",
    help=(
        "Queue a resolution of CONFLICT_ID (sent on the next push): the values that are right "
        "(none: accept the value the server shows), and why. The conflict and the properties "
        "are checked against the last pull first. Needs a coordinator role."
    ),
)
@click.argument("conflict_id")
@click.option(
    "--value", "values", multiple=True, metavar="PROP=VALUE", help="A property's right value."
)
@click.option("--reason", required=True, help="Why these values are right (3 characters at least).")
@click.option(
    "--reopen",
    is_flag=True,
    help="The values move a status back (e.g. cleared to suspected): say so on purpose.",
)
def conflicts_resolve(conflict_id: str, values: tuple[str, ...], reason: str, reopen: bool) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    assert config.project_id is not None
    parsed = conflicts_mod.parse_values(values)
    with opened_store(home) as store:
        outcome = conflicts_mod.queue(store, config.project_id, conflict_id, parsed, reason, reopen)
    click.echo(f"resolution of conflict {conflict_id} {outcome}; it is sent on the next push")
