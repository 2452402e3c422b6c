"""What the change feed says about forms: a newly published version, and a form's new state."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.orm import Session

from server.feed.service import ChangeKind, record_change
from server.forms.models import Form, FormVersion


def form_version_changed(session: Session, form: Form, version: FormVersion) -> None:
    """Record a newly published form version (and the form's current version and state)."""
    form_id = quote(form.xml_form_id, safe="")
    base = f"/v1/projects/{form.project_id}/forms/{form_id}"
    record_change(
        session,
        form.project_id,
        ChangeKind.FORM_VERSION,
        form.xml_form_id,
        {
            "form_id": form.xml_form_id,
            "version": version.version,
            "title": version.title,
            "hash": f"md5:{version.xml_md5}",
            "state": form.state,
            "current_version": form.current_version,
            "entities": version.entity_spec or None,
            "xml_url": (
                f"/api/v1/projects/{form.project_id}/forms/{form_id}"
                f"/versions/{quote(version.version, safe='')}.xml"
            ),
            "manifest_url": f"{base}/manifest",
        },
    )


def form_state_changed(session: Session, form: Form) -> None:
    """Record a form's new state (open, closing, closed)."""
    record_change(
        session,
        form.project_id,
        ChangeKind.FORM_STATE,
        form.xml_form_id,
        {"form_id": form.xml_form_id, "state": form.state},
    )
