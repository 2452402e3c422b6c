"""The Shared records pages: each entity list as a table, the map of a list with geometries
(hazard areas coloured by status), and a record with its values, versions and conflicts;
reopening a cleared area on purpose, with a reason."""

from __future__ import annotations

from typing import Any, cast

from flask import Response, redirect, request, url_for
from marshmallow import ValidationError

from server import errors
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.entities import personal, records, render, review
from server.entities import views as entities_api
from server.entities.schemas import ReopenRequest
from server.exports import people
from server.exports import views as exports_api
from server.gazetteer import service as gazetteer
from server.gazetteer.service import project_areas
from server.http import bytes_response
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.web import commit, db

PAGE_SIZE = 100
YEAR = 365 * 24 * 3600


def _has_geometry(entity_list: Any) -> bool:
    try:
        people.geometry_property(entity_list, None)
    except errors.Problem:
        return False
    return True


@blueprint.get("/projects/<int:project_id>/entities")
@requires(Role.VIEWER)
def entity_lists(project_id: int) -> Any:
    summaries = records.lists(db(), project_id)
    return page(
        "entity_lists.html",
        summaries=[(s, _has_geometry(s.entity_list)) for s in summaries],
    )


@blueprint.get("/projects/<int:project_id>/entities/<list_name>")
@requires(Role.VIEWER)
def entity_list(project_id: int, list_name: str) -> Any:
    found = records.get_list(db(), project_id, list_name)
    number = int(request.args.get("page", "1")) if request.args.get("page", "1").isdigit() else 1
    number = max(number, 1)
    conflict = request.args.get("conflict") or None
    rows = records.entities(
        db(), found, conflict=conflict, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE
    )
    guard = personal.guard_for(db(), found)
    shown = personal.visible(guard, rows[:PAGE_SIZE])
    _audited(guard, found, [e.uuid for e in shown])
    return page(
        "entity_list.html",
        entity_list=found,
        entities=shown,
        shown={e.uuid: guard.values(e.uuid, e.values) for e in shown},
        personal_properties=guard.personal,
        more=len(rows) > PAGE_SIZE,
        page_number=number,
        conflict=conflict or "",
        has_map=_has_geometry(found),
    )


@blueprint.get("/projects/<int:project_id>/entities/<list_name>/map")
@requires(Role.VIEWER)
def entity_map(project_id: int, list_name: str) -> Any:
    found = records.get_list(db(), project_id, list_name)
    prop = people.geometry_property(found, request.args.get("property"))
    version = gazetteer.boundaries_version(db(), project_id)
    return page(
        "entity_map.html",
        entity_list=found,
        geometry=prop,
        areas=project_areas(db(), project_id),
        data_url=url_for(
            "ui.entity_geojson", project_id=project_id, list_name=list_name, property=prop
        ),
        boundaries_url=(
            url_for("ui.gazetteer_boundaries", project_id=project_id, v=version) if version else ""
        ),
    )


@blueprint.get("/projects/<int:project_id>/gazetteer/boundaries.geojson")
@requires(Role.VIEWER)
def gazetteer_boundaries(project_id: int) -> Response:
    """The outlines of the gazetteer's areas, with their names: the maps' base layer, kept by
    the browser for as long as the URL's version says they have not changed."""
    version = gazetteer.boundaries_version(db(), project_id)
    response = bytes_response(
        gazetteer.boundaries_geojson(db(), project_id),
        "application/geo+json",
        etag=f"boundaries-{version}" if version else None,
    )
    if version and request.args.get("v") == version:
        response.headers["Cache-Control"] = f"private, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "private, no-cache"
    return response


@blueprint.get("/projects/<int:project_id>/entities/<list_name>/entities.geojson")
@requires(Role.VIEWER)
def entity_geojson(project_id: int, list_name: str) -> Any:
    # The export's GeoJSON of the list, as the JSON API serves it.
    return exports_api.entity_list_geojson(project_id=project_id, list_name=list_name)


@blueprint.get("/projects/<int:project_id>/entities/<list_name>/<uuid>")
@requires(Role.VIEWER)
def entity(project_id: int, list_name: str, uuid: str) -> Any:
    return _entity_page(project_id, list_name, uuid)


def _entity_page(project_id: int, list_name: str, uuid: str, **context: Any) -> Any:
    """The record as the caller may see it (server.personal): 404 for a record consent keeps
    from them, personal properties only for a survivor caseworker, whose read is audited."""
    session = db()
    found_list = records.get_list(session, project_id, list_name)
    found = records.get_entity(session, found_list, uuid)
    guard = personal.guard_for(session, found_list)
    if not guard.shown(found.uuid, found.values):
        raise errors.not_found("Entity", f"there is no entity {uuid!r} in {list_name!r}")
    rows = records.conflicts(
        session, project_id, list_name=list_name, entity_uuid=uuid, include_soft=True
    )
    versions = [
        personal.version_body(guard, found.uuid, render.version_json(v))
        for v in reversed(records.versions(session, found))
    ]
    _audited(guard, found_list, [found.uuid])
    return page(
        "entity.html",
        entity_list=found_list,
        entity=found,
        values=guard.values(found.uuid, found.values),
        personal_properties=guard.personal,
        versions=versions,
        conflicts=entities_api.conflicts_json(rows),
        **context,
    )


def _audited(guard: Any, entity_list: Any, uuids: list[str]) -> None:
    """Audit a caseworker's read of these records' personal properties (server.personal)."""
    if guard.access.may_read and guard.personal:
        personal.audit_reads(db(), guard, entity_list, uuids)
        commit()


@blueprint.post("/projects/<int:project_id>/entities/<list_name>/<uuid>/reopen")
@requires(Role.COORDINATOR)
def entity_reopen(project_id: int, list_name: str, uuid: str) -> Any:
    try:
        data = cast(dict[str, Any], ReopenRequest().load(request.form.to_dict()))
    except ValidationError as exc:
        return _entity_page(project_id, list_name, uuid, reopen_errors=exc.messages)
    found_list = records.get_list(db(), project_id, list_name)
    found = records.get_entity(db(), found_list, uuid)
    review.reopen(
        db(),
        found_list,
        found,
        status=data["status"],
        reason=data["reason"],
        user_id=current_user().id,
    )
    commit()
    return redirect(
        url_for("ui.entity", project_id=project_id, list_name=list_name, uuid=uuid), code=303
    )
