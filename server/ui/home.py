"""The projects a user sees, and a project's home: today's and this week's submissions, open
conflicts, reports awaiting review, devices and hubs last seen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import redirect, url_for

from server.accounts import service as accounts
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.db import utcnow
from server.donors import members
from server.entities import records as entity_records
from server.forms import service as forms
from server.projects.service import list_projects
from server.submissions import records as submission_records
from server.ui import hub as hub_page
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.web import db, runtime

AWAITING_REVIEW = ("received", "edited")


@blueprint.get("/")
def home() -> Any:
    user = current_user()
    visible = accounts.visible_project_ids(db(), user)
    donor_only: set[int] = set()
    if visible is not None:
        # A donor's programme officer with no role in a project reads its donor report there.
        donor_only = members.linked_project_ids(db(), user) - set(visible)
        visible = [*visible, *sorted(donor_only)]
    projects = list_projects(db(), visible)
    if len(projects) == 1:
        endpoint = "ui.reports" if projects[0].id in donor_only else "ui.project"
        return redirect(url_for(endpoint, project_id=projects[0].id))
    return page("projects.html", projects=projects, donor_only=donor_only)


@blueprint.get("/projects/<int:project_id>")
@requires(Role.VIEWER)
def project(project_id: int) -> Any:
    session = db()
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = midnight - timedelta(days=midnight.weekday())
    states = submission_records.review_state_counts(session, project_id)
    last_seen = submission_records.app_users_last_seen(session, project_id)
    devices = [
        (app_user, last_seen.get(app_user.id))
        for app_user in accounts.list_app_users(session, project_id)
        if accounts.app_user_usable(app_user)
    ]
    figures = {
        "today": submission_records.count_received_since(session, project_id, midnight),
        "week": submission_records.count_received_since(session, project_id, week_start),
        "conflicts": len(entity_records.conflicts(session, project_id)),
        "awaiting": sum(states[s] for s in AWAITING_REVIEW),
        "approved": states["approved"],
    }
    return page(
        "project.html",
        figures=figures,
        states=states,
        devices=devices,
        hubs=sorted(submission_records.hubs_last_seen(session, project_id).items()),
        forms=forms.list_forms(session, project_id),
        hub_view=hub_page.hub_view(project_id, summary=True) if runtime().settings.hub else None,
    )
