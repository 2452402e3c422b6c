"""Rendering a page: the template with what every page shows (the user, the project's menu,
the CSRF token, the language), sent gzipped to browsers that accept it."""

from __future__ import annotations

from typing import Any

from flask import Response, g, render_template, request

from server.accounts.models import ROLE_RANK, Role
from server.accounts.permissions import current_role
from server.http import bytes_response
from server.projects.models import Project
from server.projects.service import get_project
from server.ui.assets import asset_url
from server.ui.blueprint import CSRF_FIELD, csrf_token, ui_user
from server.ui.i18n import LANGUAGES, select_locale
from server.web import db, runtime

HTML = "text/html; charset=utf-8"


def at_least(minimum: Role) -> bool:
    """Whether the caller's role in the route's project reaches ``minimum`` (site
    administrators always do), to show or hide the actions they may take."""
    user = ui_user()
    if user is not None and user.is_site_admin:
        return True
    role = current_role()
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def page(
    template: str, *, project: Project | None = None, status: int = 200, **context: Any
) -> Response:
    project_id = request.view_args.get("project_id") if request.view_args else None
    if project is None and isinstance(project_id, int):
        project = get_project(db(), project_id)
    user = ui_user()
    html = render_template(
        f"ui/{template}",
        user=user,
        project=project,
        role=current_role(),
        can_review=at_least(Role.COORDINATOR),
        can_admin=at_least(Role.ADMINISTRATOR),
        # No role in the project (a donor's programme officer): the menu offers what they
        # may open, the donor report.
        roleless=project is not None
        and user is not None
        and not user.is_site_admin
        and current_role() is None,
        csrf_field=CSRF_FIELD,
        csrf_token=csrf_token(),
        asset=asset_url,
        languages=LANGUAGES,
        language=select_locale(),
        hub=runtime().settings.hub,
        tile_url=runtime().settings.ui_tile_url or "",
        **context,
    )
    response = bytes_response(html.encode("utf-8"), HTML)
    response.status_code = status
    g.ui_rendered = True
    return response
