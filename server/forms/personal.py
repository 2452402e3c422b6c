"""A caller's view of a form's submissions (server.personal), from the form's versions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.forms.models import Form
from server.forms.service import get_version, list_versions
from server.personal.access import Access, caller_access
from server.personal.guard import FormGuard, form_guard


def submission_guard(
    session: Session, form: Form, access: Access | None = None, *, export: bool = False
) -> FormGuard:
    """The guard for ``form``: the personal fields of all its versions, the consent rules of
    the list its current version saves to. ``access`` defaults to the request's caller."""
    who = access if access is not None else caller_access(form.project_id)
    xforms = [v.xml for v in list_versions(session, form)]
    return form_guard(session, who, xforms, get_version(session, form).entity_spec, export=export)
