"""``fieldsync-server keys ...`` (laptop keys: list, revoke) and ``fieldsync-server bundle
import FILE.fsb`` (a bundle carried by hand, answered with a receipt file)."""

from __future__ import annotations

from pathlib import Path

import click

from server.bundles import keys, service
from server.console import CliState, handle_errors, pass_state


@click.group("keys", help="Laptops' signing keys: list them, revoke a lost laptop's key.")
def keys_group() -> None:
    pass


@keys_group.command("list", help="Every registered laptop key: id, owner, label, state.")
@pass_state
@handle_errors
def list_command(state: CliState) -> None:
    with state.transaction() as session:
        rows = keys.list_keys(session)
    for row in rows:
        status = f"revoked {row.revoked_at.date().isoformat()}" if row.revoked_at else "active"
        click.echo(f"{row.key_id}\t{row.email}\t{row.label}\t{status}")


@keys_group.command(
    "revoke",
    help=(
        "Revoke a laptop's key (lost, stolen or retired laptop): bundles it signed are refused "
        "from now on, with a message naming the key."
    ),
)
@click.argument("key_id")
@click.option("--reason", default="revoked by an administrator", show_default=True)
@pass_state
@handle_errors
def revoke_command(state: CliState, key_id: str, reason: str) -> None:
    with state.transaction() as session:
        view = keys.revoke(session, key_id, None, reason)
    click.echo(f"revoked key {view.key_id} of {view.email} ({view.label}): {reason}")


@click.group("bundle", help="Bundles carried by hand (USB stick) from laptops with no link.")
def bundle_group() -> None:
    pass


@bundle_group.command(
    "import",
    help=(
        "Check a bundle (signature, the sender's key and right to the project, every hash) and "
        "apply it as a push would; nothing is applied when a check fails. Writes the receipt "
        "bundle the laptop imports to mark its items delivered (default: FILE.receipt.fsb)."
    ),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, default=None, help="Expected project id.")
@click.option(
    "--receipt",
    "receipt_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the receipt bundle.",
)
@pass_state
@handle_errors
def import_command(
    state: CliState, path: Path, project_id: int | None, receipt_out: Path | None
) -> None:
    runtime = state.runtime
    receipt_out = receipt_out or path.with_name(path.stem + ".receipt.fsb")
    work = service.scratch_dir(runtime.settings.upload_tmp_dir)
    try:
        imported = service.import_bundle(
            runtime.session_factory,
            runtime.blobs,
            runtime.settings.secret_key,
            path,
            receipt_out,
            project_id=project_id,
            workdir=work,
        )
    finally:
        service.remove(work)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(imported.counts().items()))
    again = " (imported before: nothing applied again)" if imported.replayed else ""
    click.echo(
        f"imported bundle {imported.bundle_id} from {imported.sender_email} into project "
        f"{imported.project_id}{again}: {counts or 'no items'}; receipt written to "
        f"{imported.receipt.path}"
    )
