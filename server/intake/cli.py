"""``fieldsync-server project encrypt ID`` and ``project decrypt-entities ID``: turning ODK
managed encryption on for a project, and applying the entity updates of its encrypted
submissions with the passphrase (ADR 0016)."""

from __future__ import annotations

import click

from server.console import (
    CliState,
    handle_errors,
    pass_state,
    passphrase_stdin_option,
    read_passphrase,
)


@click.command(
    "encrypt",
    help=(
        "Turn on ODK managed encryption for project ID: create its key pair (the private key "
        "sealed under a passphrase that is never stored: lose it and the data is lost), and "
        "publish its forms again with the public key, as new versions. Devices then send "
        "encrypted submissions. A project whose survivor forms are encrypted already gets "
        "every form encrypted with the same key."
    ),
)
@click.argument("project_id", type=int)
@passphrase_stdin_option
@click.option("--hint", default="", help="A reminder of the passphrase, shown with the key.")
@click.option(
    "--survivor-forms-only",
    is_flag=True,
    help="Encrypt only the survivor forms (those that save to the survivors list).",
)
@pass_state
@handle_errors
def encrypt(
    state: CliState, project_id: int, passphrase_stdin: bool, hint: str, survivor_forms_only: bool
) -> None:
    from server.forms.reencrypt import publish_encrypted
    from server.projects import keys
    from server.projects.models import KeyScope
    from server.projects.service import get_project

    scope = KeyScope.SURVIVOR_FORMS if survivor_forms_only else KeyScope.ALL_FORMS
    with state.transaction() as session:
        project = get_project(session, project_id)
        key = keys.project_key(session, project.id)
    if key is None:
        passphrase = read_passphrase(passphrase_stdin, confirm=True)
    with state.transaction() as session:
        project = get_project(session, project_id)
        key = keys.project_key(session, project.id)
        if key is None:
            key = keys.create_key(session, project, passphrase, hint=hint, scope=scope)
            click.echo(f"project {project.id}: encryption key {key.id} created ({key.scope})")
        elif scope is KeyScope.ALL_FORMS and keys.widen_scope(session, key):
            click.echo(f"project {project.id}: key {key.id} now encrypts every form")
        else:
            click.echo(f"project {project.id}: already encrypted with key {key.id}")
        results = publish_encrypted(session, state.runtime.blobs, project)
    for result in results:
        status = "published" if result.created else "unchanged (it carries a key of its own)"
        click.echo(f"form {result.form.xml_form_id} version {result.version.version}: {status}")


@click.command(
    "decrypt-entities",
    help=(
        "Decrypt, in memory, project ID's encrypted submissions whose entity updates are "
        "waiting, and apply those updates (survivor records are created or updated then)."
    ),
)
@click.argument("project_id", type=int)
@passphrase_stdin_option
@pass_state
@handle_errors
def decrypt_entities(state: CliState, project_id: int, passphrase_stdin: bool) -> None:
    from server.intake.encrypted import apply_encrypted_entities
    from server.projects.service import get_project

    passphrase = read_passphrase(passphrase_stdin)
    with state.transaction() as session:
        project = get_project(session, project_id)
        batch = apply_encrypted_entities(session, state.runtime.blobs, project, passphrase)
    click.echo(f"applied the entity updates of {len(batch.applied)} encrypted submissions")
    for instance_id, why in sorted(batch.held.items()):
        click.echo(f"held {instance_id}: {why}", err=True)
