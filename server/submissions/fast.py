"""The common case of receiving a submission in the fewest round trips: a new instance, no
edit. Two inserts (``ON CONFLICT DO NOTHING … RETURNING``) let the unique constraints decide
whether it is new, with no look-up first, no savepoint and no ORM unit of work; anything else (a
resend, a different body under a known instanceID, an instanceID already used by an edit)
returns None and the caller takes the full decision tree in :mod:`server.submissions.service`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.sql.dml import Insert

from server.blobs import service as blob_service
from server.blobs.service import insert_for
from server.forms.models import Form, FormVersion
from server.submissions.models import (
    ReviewState,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)
from server.submissions.parse import ParsedInstance


def store_if_new(
    session: Session,
    project_id: int,
    form: Form,
    form_version: FormVersion,
    parsed: ParsedInstance,
    xml: bytes,
    sha256: str,
    attachments: dict[str, Any],
    expected: Sequence[str],
    provenance: list[dict[str, Any]],
    submitter_ids: tuple[int | None, int | None],
    now: datetime,
) -> tuple[Submission, SubmissionVersion, list[str]] | None:
    """Insert a new submission and its first version; None when the constraints say it is not
    new (nothing is left behind then). Returns the rows and the attachment names filled."""
    submission_values = {
        "project_id": project_id,
        "form_id": form.id,
        "root_instance_id": parsed.instance_id,
        "current_instance_id": parsed.instance_id,
        "review_state": ReviewState.RECEIVED.value,
        "created_at": now,
        "updated_at": now,
    }
    if session.autoflush:
        session.flush()  # as an ORM statement would: what is pending goes first (usually none)
    connection = session.connection()
    new_submission, new_version = _inserts(connection.dialect.name)
    submission_id = connection.execute(new_submission, submission_values).scalar()
    if submission_id is None:
        return None
    user_id, app_user_id = submitter_ids
    version_values = {
        "submission_id": submission_id,
        "form_id": form.id,
        "form_version_id": form_version.id,
        "instance_id": parsed.instance_id,
        "deprecated_id": None,
        "instance_name": parsed.instance_name,
        "xml": xml.decode("utf-8"),
        "xml_sha256": sha256,
        "xml_size": len(xml),
        "device_id": parsed.device_id,
        "submitter_user_id": user_id,
        "submitter_app_user_id": app_user_id,
        "provenance": provenance,
        "received_at": now,
        "is_current": True,
        # Given, not left to the server default, so the row in the session is complete.
        "encrypted": False,
        "entities_pending": False,
    }
    version_id = connection.execute(new_version, version_values).scalar()
    if version_id is None:
        # The instanceID is a later version of another submission: not new after all.
        session.execute(delete(Submission).where(Submission.id == submission_id))
        return None
    filled = [name for name in expected if name in attachments]
    if expected:
        insert = insert_for(session)
        for name in filled:
            incoming = attachments[name]
            blob_service.record(
                session, incoming.stored, incoming.content_type, project_id=project_id
            )
        session.execute(
            insert(SubmissionAttachment),
            [
                {
                    "submission_version_id": version_id,
                    "name": name,
                    "blob_sha256": attachments[name].stored.sha256 if name in attachments else None,
                    "received_at": now if name in attachments else None,
                }
                for name in expected
            ],
        )
    submission = _persistent(session, Submission(id=submission_id, **submission_values))
    version = _persistent(session, SubmissionVersion(id=version_id, **version_values))
    return submission, version, filled


@lru_cache(maxsize=4)
def _inserts(dialect: str) -> tuple[Insert, Insert]:
    """The two inserts, built once per dialect: their values are bound at execution, which
    costs a fraction of building a statement around them each time."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    submissions = cast(Table, Submission.__table__)
    versions = cast(Table, SubmissionVersion.__table__)
    return (
        insert(submissions)
        .on_conflict_do_nothing(index_elements=["form_id", "root_instance_id"])
        .returning(submissions.c.id),
        insert(versions)
        .on_conflict_do_nothing(index_elements=["form_id", "instance_id"])
        .returning(versions.c.id),
    )


def _persistent(session: Session, row: Any) -> Any:
    """Put a row just inserted into the session as if it had been loaded (no SELECT)."""
    make_transient_to_detached(row)
    session.add(row)
    return row
