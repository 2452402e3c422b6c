"""``fieldsync-server blobs migrate``: moving blob contents between the file store and the
database store (docs/deploy.md, "Several server hosts")."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.blobs.database import BlobCorrupt, DatabaseBlobStore
from server.blobs.models import Blob, BlobContent
from server.console import CliState, handle_errors, pass_state
from server.db import transaction


@dataclass
class MigrateReport:
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


def migrate_to_database(store: DatabaseBlobStore, factory: sessionmaker[Session]) -> MigrateReport:
    """Copy every registered blob whose content is not in the database yet from the data
    directory into ``blob_contents``, one transaction per blob; a file whose bytes do not hash to
    its name is left out. Running it again copies only what is still missing."""
    report = MigrateReport()
    with transaction(factory) as session:
        hashes = list(session.scalars(select(Blob.sha256).order_by(Blob.sha256)))
        present = set(session.scalars(select(BlobContent.sha256).where(BlobContent.chunk == 0)))
    for sha256 in hashes:
        if sha256 in present:
            report.present += 1
            continue
        path = store.path(sha256)
        if not path.exists():
            report.missing.append(sha256)
            continue
        if _file_hash(path) != sha256:
            report.corrupt.append(sha256)
            continue
        with transaction(factory) as session:
            store.persist(session, sha256)
        report.copied += 1
        report.copied_bytes += path.stat().st_size
    return report


def migrate_to_files(store: DatabaseBlobStore, factory: sessionmaker[Session]) -> MigrateReport:
    """Write every blob the database holds into the data directory (where the file store reads
    them), unless the file is there already; each is checked against its hash on the way."""
    report = MigrateReport()
    with transaction(factory) as session:
        hashes = list(session.scalars(select(Blob.sha256).order_by(Blob.sha256)))
    for sha256 in hashes:
        if store.path(sha256).exists():
            report.present += 1
            continue
        try:
            path = store.fetch(sha256)
        except FileNotFoundError:
            report.missing.append(sha256)
            continue
        except BlobCorrupt:
            report.corrupt.append(sha256)
            continue
        report.copied += 1
        report.copied_bytes += path.stat().st_size
    return report


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while data := fh.read(1024 * 1024):
            digest.update(data)
    return digest.hexdigest()


@click.command(
    "migrate",
    help=(
        "Copy blob contents (attachments, form media, form sources) between the data "
        "directory and the database. '--to database' copies every file the database does not "
        "hold yet into it: run it before setting FIELDSYNC_BLOB_STORE=database, and again after, "
        "to catch what arrived in between. '--to file' writes every blob the database holds into "
        "the data directory, for going back to FIELDSYNC_BLOB_STORE=file. Safe to repeat; "
        "exits with status 1 if a blob is missing or does not match its hash."
    ),
)
@click.option(
    "--to",
    "target",
    type=click.Choice(["database", "file"]),
    required=True,
    help="Where the contents go.",
)
@pass_state
@handle_errors
def migrate(state: CliState, target: str) -> None:
    runtime = state.runtime
    store = DatabaseBlobStore(runtime.settings.blob_dir, runtime.engine)
    if target == "database":
        report = migrate_to_database(store, runtime.session_factory)
    else:
        report = migrate_to_files(store, runtime.session_factory)
    missing, corrupt = report.missing, report.corrupt
    click.echo(
        f"copied {report.copied} blobs ({report.copied_bytes} bytes) to the {target}, "
        f"{report.present} there already, {len(missing)} missing, {len(corrupt)} not matching "
        "their hash"
    )
    if missing or corrupt:
        click.echo(
            "blobs not copied: " + ", ".join((missing + corrupt)[:10]),
            err=True,
        )
        raise SystemExit(1)
