"""Reading what the server holds, to check the client's work against it."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from server.submissions.models import Submission, SubmissionAttachment, SubmissionVersion
from tests.factories import Factories


def submissions(factories: Factories, project_id: int) -> dict[str, dict[str, str]]:
    """instanceID -> {attachment name: sha256 of the bytes the server's blob store holds}."""
    result: dict[str, dict[str, str]] = {}
    blobs = factories.runtime.blobs
    with factories.session() as session:
        rows = session.execute(
            select(SubmissionVersion.instance_id, SubmissionVersion.id)
            .join(Submission, Submission.id == SubmissionVersion.submission_id)
            .where(Submission.project_id == project_id, SubmissionVersion.is_current)
        ).all()
        for instance_id, version_id in rows:
            attachments = {}
            for name, sha in session.execute(
                select(SubmissionAttachment.name, SubmissionAttachment.blob_sha256).where(
                    SubmissionAttachment.submission_version_id == version_id
                )
            ):
                if sha is None:
                    attachments[name] = ""
                    continue
                with blobs.open(sha) as fh:
                    attachments[name] = hashlib.sha256(fh.read()).hexdigest()
            result[instance_id] = attachments
        count = session.scalar(
            select(Submission.id).where(Submission.project_id == project_id).limit(1)
        )
    assert count is not None or not result
    return result
