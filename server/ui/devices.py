"""Devices and hubs: the project's app users with their Collect QR code (an image drawn on the
server, shown once, when the device is added), when each last sent something, revoking; and
the field hubs with the last time their relay arrived."""

from __future__ import annotations

from typing import Any

import segno
from flask import redirect, request, url_for

from server import errors
from server.accounts import service as accounts
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.projects.service import get_project
from server.submissions import records as submission_records
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.urls import app_user_url, collect_qr_payload
from server.web import commit, db


def _devices(project_id: int, **context: Any) -> Any:
    session = db()
    last_seen = submission_records.app_users_last_seen(session, project_id)
    return page(
        "devices.html",
        devices=[
            (a, last_seen.get(a.id), accounts.app_user_usable(a))
            for a in accounts.list_app_users(session, project_id)
        ],
        hubs=sorted(submission_records.hubs_last_seen(session, project_id).items()),
        **context,
    )


@blueprint.get("/projects/<int:project_id>/devices")
@requires(Role.COORDINATOR)
def devices(project_id: int) -> Any:
    return _devices(project_id)


@blueprint.post("/projects/<int:project_id>/devices")
@requires(Role.COORDINATOR)
def add_device(project_id: int) -> Any:
    name = request.form.get("name", "").strip()
    if not name:
        raise errors.ui_missing_field("name", "give the device a name, e.g. 'Team 3 tablet'")
    project = get_project(db(), project_id)
    issued = accounts.create_app_user(db(), project, name, current_user().id)
    commit()
    url = app_user_url(request.host_url, issued.token, project_id)
    code = segno.make(collect_qr_payload(url, project.name, name), error="m")
    # An inline SVG: an image the page carries, so the token never sits in a cacheable URL.
    svg = code.svg_inline(scale=4, title=f"QR code for {name}")
    return _devices(project_id, issued=issued.app_user, qr_svg=svg, server_url=url)


@blueprint.post("/projects/<int:project_id>/devices/<int:app_user_id>/revoke")
@requires(Role.COORDINATOR)
def revoke_device(project_id: int, app_user_id: int) -> Any:
    app_user = accounts.get_app_user(db(), app_user_id, project_id)
    accounts.revoke_app_user(db(), app_user, current_user().id)
    commit()
    return redirect(url_for("ui.devices", project_id=project_id), code=303)
