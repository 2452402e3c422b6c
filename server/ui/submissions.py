"""The Submissions pages: a form's submissions as the export's table (paged, sorted, filtered),
and one submission with its fields, files, map, versions, provenance, the entity changes it
made and the review actions."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import redirect, request, url_for

from server import errors
from server.accounts import service as accounts
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import current_role, requires
from server.entities import personal as entity_personal
from server.entities import records as entity_records
from server.exports import table
from server.exports.tables import form_fields
from server.forms import service as forms
from server.gazetteer.service import project_areas
from server.intake.service import review_submission
from server.personal.access import record_read
from server.submissions import records
from server.submissions import views as submissions_api
from server.submissions.models import ReviewState
from server.ui import adapters
from server.ui.blueprint import blueprint
from server.ui.instance import lay_out
from server.ui.pages import at_least, page
from server.web import commit, db, runtime

PAGE_SIZE = 50
REVIEW_ACTIONS = (ReviewState.APPROVED, ReviewState.HAS_ISSUES, ReviewState.REJECTED)


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise errors.ui_missing_field(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _query() -> table.TableQuery:
    args = request.args
    state = args.get("state", "")
    submitter = args.get("submitter", "")
    page_number = max(int(args.get("page", "1")) if args.get("page", "1").isdigit() else 1, 1)
    return table.TableQuery(
        received_from=_day("from"),
        received_to=_day("to"),
        review_state=state if state in {s.value for s in ReviewState} else "",
        submitter_id=int(submitter) if submitter.isdigit() else None,
        device_id=args.get("device", "").strip(),
        admin_area=args.get("area", "").strip(),
        sort=args.get("sort", "received") if args.get("sort") in table.SORTS else "received",
        descending=args.get("order", "desc") != "asc",
        limit=PAGE_SIZE,
        offset=(page_number - 1) * PAGE_SIZE,
    )


def _readable() -> str:
    role = current_role()
    if role not in submissions_api.READ_ROLES:
        raise errors.forbidden("data collectors send submissions but do not read them")
    return str(role.value if role else Role.VIEWER.value)


@blueprint.get("/projects/<int:project_id>/forms/<form_id>/submissions")
@requires(Role.VIEWER)
def submissions(project_id: int, form_id: str) -> Any:
    role = _readable()
    session = db()
    form = forms.get_form(session, project_id, form_id)
    query = _query()
    current = forms.get_version(session, form)
    rules = adapters.personal_rules(session, form, form_fields(current.xml), role)
    result = table.table_page(
        session,
        project_id,
        form_id,
        query,
        role=role,
        secret=runtime().settings.secret_key,
        policy=adapters.column_policy(rules),
        guard=rules.guard if rules is not None else None,
    )
    if rules is not None and rules.guard is not None and rules.guard.access.may_read:
        record_read(session, rules.guard.access, "submission", [r.instance_id for r in result.rows])
        commit()
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return page(
        "submissions.html",
        form=form,
        result=result,
        query=query,
        page_number=query.offset // PAGE_SIZE + 1,
        pages=max((result.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        args=args,
        states=[s.value for s in ReviewState],
        app_users=accounts.list_app_users(session, project_id),
        areas=project_areas(session, project_id),
        personal=rules,
    )


@blueprint.get("/projects/<int:project_id>/forms/<form_id>/submissions/<instance_id>")
@requires(Role.VIEWER)
def submission(project_id: int, form_id: str, instance_id: str) -> Any:
    role = _readable()
    session = db()
    form = forms.get_form(session, project_id, form_id)
    found = records.get_submission(session, form, instance_id)
    versions, attachments = records.details(session, [found])[found.id]
    current = records.addressed_version(found, versions, instance_id)
    form_version = forms.get_version(
        session, form, next(v for c, v in versions if c.id == current.id)
    )
    fields = form_fields(form_version.xml)
    rules = adapters.personal_rules(session, form, fields, role)
    guard = rules.guard if rules is not None else None
    xml = guard.xml(current.xml) if guard is not None else current.xml
    if xml is None or guard is None:
        raise errors.not_found("Submission", f"there is no submission {instance_id!r}")
    if guard.shows_personal(current.xml):
        record_read(session, guard.access, "submission", [current.instance_id])
        commit()
    received = {a.name for a in attachments if a.blob_sha256}
    changes = entity_records.changes_from(session, [v.id for v, _ in versions])
    return page(
        "submission.html",
        form=form,
        submission=found,
        current=current,
        versions=versions,
        laid=lay_out(xml, fields),
        received=received,
        changes=changes,
        sent=_values_sent(changes),
        actions=[s.value for s in REVIEW_ACTIONS],
        may_review=at_least(Role.COORDINATOR),
        personal=rules,
        hidden=adapters.hidden_paths(rules, fields, role),
    )


def _values_sent(changes: list[Any]) -> list[dict[str, Any]]:
    """The values each entity change sent, as the caller may see them (server.personal)."""
    guards: dict[int, Any] = {}
    sent = []
    for change in changes:
        guard = guards.get(change.entity_list.id)
        if guard is None:
            guard = guards[change.entity_list.id] = entity_personal.guard_for(
                db(), change.entity_list
            )
        uuid = change.entity.uuid
        values = dict(change.version.update.get("values", {}))
        sent.append({k: v for k, v in values.items() if guard.property_shown(uuid, k)})
    return sent


@blueprint.post("/projects/<int:project_id>/forms/<form_id>/submissions/<instance_id>/review")
@requires(Role.COORDINATOR)
def review(project_id: int, form_id: str, instance_id: str) -> Any:
    state = request.form.get("state", "")
    if state not in {s.value for s in REVIEW_ACTIONS}:
        raise errors.ui_missing_field("state", "choose approve, has issues or reject")
    form = forms.get_form(db(), project_id, form_id)
    found = records.get_submission(db(), form, instance_id)
    note = request.form.get("comment", "").strip()
    review_submission(db(), found, ReviewState(state), current_user().id, note=note)
    commit()
    return redirect(
        url_for("ui.submission", project_id=project_id, form_id=form_id, instance_id=instance_id),
        code=303,
    )


@blueprint.get("/projects/<int:project_id>/forms/<form_id>/submissions/<instance_id>/files/<name>")
@requires(Role.VIEWER)
def submission_file(project_id: int, form_id: str, instance_id: str, name: str) -> Any:
    # The JSON API's download, as it is (safe types, images inline, everything else saved).
    response = submissions_api.download_attachment(
        project_id=project_id, form_id=form_id, instance_id=instance_id, name=name
    )
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
