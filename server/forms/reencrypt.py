"""Turning encryption on for a project's published forms: each form whose current version the
project's key should encrypt is published again with the key, as a new version (ODK Central
does the same). Submissions made with the old, plain version stay readable under it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.blobs.store import FileBlobStore
from server.forms.encrypt import recompiled
from server.forms.service import PublishResult, get_version, list_forms, publish_compiled
from server.projects.keys import encrypts_form, project_key
from server.projects.models import Project


def publish_encrypted(
    session: Session,
    blobs: FileBlobStore,
    project: Project,
    actor_user_id: int | None = None,
) -> list[PublishResult]:
    """Publish again, encrypted, the forms that the project's key covers and that are not yet
    encrypted with it. Returns the new versions (none when there is no key)."""
    key = project_key(session, project.id)
    results = []
    for form in list_forms(session, project.id):
        version = get_version(session, form)
        if version.key_id is not None or not encrypts_form(key, version.entity_spec):
            continue
        results.append(
            publish_compiled(
                session,
                blobs,
                project,
                recompiled(version.xml),
                version.source_filename or f"{form.xml_form_id}.xml",
                version.source_blob_sha256,
                actor_user_id,
            )
        )
    return results
