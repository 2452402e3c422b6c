"""The conflict queue: every open conflict with its base value, the value shown meanwhile and
the competing values side by side; resolving goes through the resolution service, so the
decision reaches devices and hubs like any other change."""

from __future__ import annotations

from typing import Any, cast

from flask import redirect, request, url_for
from marshmallow import ValidationError

from server import errors
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.entities import records, review
from server.entities import views as entities_api
from server.entities.schemas import ResolutionRequest
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.web import commit, db

OTHER = "__other__"


def _queue(project_id: int, status: int = 200, **context: Any) -> Any:
    rows = records.conflicts(db(), project_id, list_name=request.args.get("list") or None)
    return page(
        "conflicts.html",
        # as the JSON API shows them: none of a record consent keeps from the caller, no
        # values of a personal property unless they are a survivor caseworker
        conflicts=entities_api.conflicts_json(rows),
        other=OTHER,
        status=status,
        **context,
    )


@blueprint.get("/projects/<int:project_id>/conflicts")
@requires(Role.VIEWER)
def conflicts(project_id: int) -> Any:
    return _queue(project_id)


@blueprint.post("/projects/<int:project_id>/conflicts/<int:conflict_id>/resolution")
@requires(Role.COORDINATOR)
def resolve(project_id: int, conflict_id: int) -> Any:
    row = records.get_conflict(db(), project_id, conflict_id)
    prop = row.conflict.property_name or ""
    chosen = request.form.get("choice", "")
    value = request.form.get("value", "").strip() if chosen == OTHER else chosen
    form = {
        "values": {prop: value} if prop and value else {},
        "reason": request.form.get("reason", "").strip(),
        "reopen": request.form.get("reopen") == "1",
    }
    try:
        data = cast(dict[str, Any], ResolutionRequest().load(form))
        if chosen == OTHER and not value:
            raise ValidationError({"value": ["enter the value to keep"]})
    except ValidationError as exc:
        return _queue(project_id, 400, failed=conflict_id, form_errors=exc.messages)
    try:
        applied = review.resolve(
            db(),
            project_id,
            conflict_id,
            values=data["values"],
            reason=data["reason"],
            user_id=current_user().id,
            reopen=data["reopen"],
        )
    except errors.Problem as exc:
        db().rollback()
        return _queue(project_id, exc.status, failed=conflict_id, problem=exc)
    commit()
    version = applied.version.version if applied.version else None
    return redirect(
        url_for(
            "ui.entity",
            project_id=project_id,
            list_name=row.entity_list.name,
            uuid=row.entity.uuid,
            resolved=version,
        ),
        code=303,
    )
