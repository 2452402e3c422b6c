"""``fieldsync keys``: this laptop's signing and encryption keys for bundles."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sync_client import keys
from sync_client.home import fieldsync_home


@click.group("keys", help="This laptop's keys for bundles (signed and encrypted files).")
def keys_group() -> None:
    pass


@keys_group.command(
    "init",
    help=(
        "Make this laptop's keys (Ed25519 to sign, X25519 to receive) in FIELDSYNC_HOME/keys, "
        "readable by you only, encrypted with FIELDSYNC_KEY_PASSPHRASE when it is set. The "
        "next `fieldsync login` or sync registers the public half at the centre."
    ),
)
@click.option("--new", is_flag=True, help="Replace the keys (after the old ones were revoked).")
def init_command(new: bool) -> None:
    public, made = keys.init_keys(fieldsync_home(), new=new)
    state = "made" if made else "already there (use --new to replace them)"
    click.echo(f"laptop key {public.key_id}: {state}")


@keys_group.command("show", help="This laptop's key id and public keys (to give another laptop).")
@click.option("--json", "as_json", is_flag=True, help="The public keys as JSON, for `keys trust`.")
def show_command(as_json: bool) -> None:
    public = keys.load_keys(fieldsync_home()).public
    if as_json:
        click.echo(json.dumps(public.to_json()))
        return
    click.echo(f"laptop key {public.key_id}")
    known = keys.peers(fieldsync_home())
    active = sum(1 for p in known.values() if not p.get("revoked"))
    click.echo(f"trusted laptops: {active} ({len(known) - active} revoked)")


@keys_group.command(
    "trust",
    help=(
        "Trust another laptop's public keys (the file its `fieldsync keys show --json` wrote), "
        "when the centre could not list it yet."
    ),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--label", default="", help="A name for that laptop.")
def trust_command(path: Path, label: str) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        data = None
    key_id = keys.trust(fieldsync_home(), data if isinstance(data, dict) else {}, label)
    click.echo(f"trusting laptop key {key_id}")
