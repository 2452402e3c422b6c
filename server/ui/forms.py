"""The Forms pages: the project's forms with their versions and state, publishing an XLSForm
by upload (the compiler's errors shown against their sheet and row), media, state, the XForm."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Response, redirect, request, url_for

from server import errors
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.forms import service
from server.forms.models import FormState
from server.projects.service import get_project
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.web import commit, db, runtime

_ROW = re.compile(r"\[row\s*:\s*(\d+)\]", re.IGNORECASE)
_SHEET = re.compile(r"'(\w+)' sheet|sheet '(\w+)'|(\w+) sheet", re.IGNORECASE)


@dataclass(frozen=True)
class CompileError:
    sheet: str
    row: int | None
    message: str


def compile_errors(problem: errors.Problem) -> list[CompileError]:
    """The compiler's refusal, one entry per error line, with the sheet and row it names."""
    found = []
    for line in (problem.detail or problem.title).splitlines():
        line = line.strip()
        if not line:
            continue
        row = _ROW.search(line)
        sheet = _SHEET.search(line)
        name = next((g for g in sheet.groups() if g), "") if sheet else ""
        found.append(
            CompileError(
                (name or "survey") if row else name, int(row.group(1)) if row else None, line
            )
        )
    return found


def _form_list(project_id: int, status: int = 200, **context: Any) -> Response:
    session = db()
    listed = [
        (f, service.list_versions(session, f)) for f in service.list_forms(session, project_id)
    ]
    return page(
        "forms.html", forms=listed, states=[s.value for s in FormState], status=status, **context
    )


@blueprint.get("/projects/<int:project_id>/forms")
@requires(Role.VIEWER)
def forms(project_id: int) -> Any:
    return _form_list(project_id)


@blueprint.post("/projects/<int:project_id>/forms")
@requires(Role.ADMINISTRATOR)
def publish(project_id: int) -> Any:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form_list(
            project_id,
            400,
            upload_errors=[CompileError("", None, "Choose an XLSForm file to publish.")],
        )
    data = upload.read()
    try:
        result = service.publish(
            db(),
            runtime().blobs,
            get_project(db(), project_id),
            upload.filename,
            data,
            max_bytes=runtime().settings.max_form_bytes,
            actor_user_id=current_user().id,
        )
    except errors.Problem as exc:
        db().rollback()
        return _form_list(
            project_id,
            exc.status,
            upload_errors=compile_errors(exc),
            upload_title=exc.title,
            filename=upload.filename,
        )
    commit()
    return redirect(
        url_for(
            "ui.form",
            project_id=project_id,
            form_id=result.form.xml_form_id,
            published=result.version.version,
        ),
        code=303,
    )


@blueprint.get("/projects/<int:project_id>/forms/<form_id>")
@requires(Role.VIEWER)
def form(project_id: int, form_id: str) -> Any:
    session = db()
    found = service.get_form(session, project_id, form_id)
    current = service.get_version(session, found)
    return page(
        "form.html",
        form=found,
        versions=service.list_versions(session, found),
        attachments=service.list_attachments(session, current.id),
        states=[s.value for s in FormState],
        published=request.args.get("published"),
    )


@blueprint.post("/projects/<int:project_id>/forms/<form_id>/state")
@requires(Role.ADMINISTRATOR)
def form_state(project_id: int, form_id: str) -> Any:
    state = request.form.get("state", "")
    if state not in {s.value for s in FormState}:
        raise errors.ui_missing_field("state", "choose open, closing or closed")
    found = service.get_form(db(), project_id, form_id)
    service.set_state(db(), found, FormState(state), current_user().id)
    commit()
    return redirect(url_for("ui.form", project_id=project_id, form_id=form_id), code=303)


@blueprint.post("/projects/<int:project_id>/forms/<form_id>/media")
@requires(Role.ADMINISTRATOR)
def form_media(project_id: int, form_id: str) -> Any:
    upload = request.files.get("file")
    name = request.form.get("name", "")
    if upload is None or not name:
        raise errors.ui_missing_field("file", "choose the media file the form expects")
    found = service.get_form(db(), project_id, form_id)
    service.attach_media(db(), runtime().blobs, found, name, upload.read(), current_user().id)
    commit()
    return redirect(url_for("ui.form", project_id=project_id, form_id=form_id), code=303)


@blueprint.get("/projects/<int:project_id>/forms/<form_id>/versions/<version>.xml")
@requires(Role.VIEWER)
def form_xml(project_id: int, form_id: str, version: str) -> Any:
    row = service.get_version(db(), service.get_form(db(), project_id, form_id), version)
    response = Response(row.xml, mimetype="text/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{form_id}-{version}.xml"'
    return response
