"""Central's OData feed of a form's submissions: the service document, ``$metadata`` and the
tables, with ``$top``, ``$skip``, ``$count``, ``$filter``, ``$orderby``, ``$select``,
``$expand=*``, ``$wkt`` and ``$skiptoken`` paging (``@odata.nextLink``).

A separate blueprint from :mod:`server.central.views`, named in
:data:`server.central.problems.BLUEPRINTS` so its refusals are rendered in Central's shape.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, jsonify, request

from server import errors, http
from server.accounts.models import Role
from server.accounts.permissions import current_role, requires
from server.central import odata, service
from server.central.auth import basic_caller
from server.central.render import timestamp
from server.exports.filters import FIELDS as SYSTEM_FILTER_FIELDS
from server.exports.filters import FilterError, Node, matches, parse_filter
from server.forms import service as forms
from server.forms.models import Form
from server.forms.personal import submission_guard
from server.personal.access import record_read
from server.submissions.views import READ_ROLES
from server.urls import base_url
from server.web import commit, db

blueprint = Blueprint("central_odata", __name__, url_prefix="/v1")
blueprint.before_request(basic_caller)  # HTTP Basic, as Central accepts

SERVICE = "/projects/<int:project_id>/forms/<form_id>.svc"
ORDERABLE = {"__system/submissionDate": "created_at", "__system/updatedAt": "updated_at"}


def _form(project_id: int, form_id: str) -> Form:
    """Raises: Problem 404 (no form) or 403 (a data collector)."""
    if current_role() not in READ_ROLES:
        raise errors.forbidden("data collectors send submissions but do not read them")
    return forms.get_form(db(), project_id, form_id)


def _service_url(project_id: int, form_id: str) -> str:
    return f"{base_url()}/v1/projects/{project_id}/forms/{quote(form_id, safe='')}.svc"


@blueprint.get(SERVICE)
@requires(Role.VIEWER)
def service_document(project_id: int, form_id: str) -> Any:
    form = _form(project_id, form_id)
    tree = odata.field_tree(forms.get_version(db(), form).xml)
    names = [odata.SUBMISSIONS, *odata.repeat_tables(tree)]
    return jsonify(
        {
            "@odata.context": f"{_service_url(project_id, form_id)}/$metadata",
            "value": [{"name": n, "kind": "EntitySet", "url": n} for n in names],
        }
    )


@blueprint.get(SERVICE + "/$metadata")
@requires(Role.VIEWER)
def metadata(project_id: int, form_id: str) -> Response:
    form = _form(project_id, form_id)
    tree = odata.field_tree(forms.get_version(db(), form).xml)
    return http.bytes_response(
        odata.edmx(tree, form.xml_form_id).encode("utf-8"), "application/xml; charset=utf-8"
    )


@blueprint.get(SERVICE + "/<table>")
@requires(Role.VIEWER)
def table_rows(project_id: int, form_id: str, table: str) -> Any:
    form = _form(project_id, form_id)
    tree = odata.field_tree(forms.get_version(db(), form).xml)
    repeats = odata.repeat_tables(tree)
    if table != odata.SUBMISSIONS and table not in repeats:
        raise errors.not_found("Table", f"form {form_id!r} has no table {table!r}")
    args = request.args
    wkt = _flag("$wkt")
    expand = args.get("$expand")
    if expand not in (None, "*"):
        raise errors.central_odata_query("only $expand=* (every repeat) is supported")
    # What the caller may see first (server.personal), so a filter cannot probe what is hidden.
    submissions = _shown(form, service.odata_submissions(db(), form))
    submissions = _ordered(submissions, args.get("$orderby"))
    prefix = f"{odata.SUBMISSIONS}('"

    def context(s: service.ODataSubmission, *, expanded: bool) -> odata.Context:
        return odata.Context(
            instance_id=s.instance_id,
            navigation_base=f"{prefix}{quote(s.instance_id, safe='')}')",
            expand=expanded,
            wkt=wkt,
        )

    # A submission's row, as the filter reads it and as Submissions shows it (one build each;
    # none for a repeat's table without a filter).
    needed = table == odata.SUBMISSIONS or bool(args.get("$filter"))
    rows_of = {
        s.id: odata.submission_object(
            tree, s.xml, _system(s), context(s, expanded=expand == "*" and table == "Submissions")
        )
        for s in (submissions if needed else [])
    }
    submissions = _filtered(tree, submissions, rows_of, args.get("$filter"))
    rows: list[dict[str, Any]]
    if table == odata.SUBMISSIONS:
        rows = [rows_of[s.id] for s in submissions]
        known = odata.known_paths(tree)
    else:
        rows = [
            r
            for s in submissions
            for r in odata.repeat_rows(tree, table, s.xml, context(s, expanded=False))
        ]
        known = odata.repeat_paths(tree, table)
    selected = _select(known, args.get("$select"))
    if selected is not None:
        rows = [odata.select(row, selected) for row in rows]
    return jsonify(page_rows(rows, _service_url(project_id, form_id), table))


def _shown(form: Form, submissions: list[service.ODataSubmission]) -> list[service.ODataSubmission]:
    """The submissions as the caller may see them (server.personal): personal answers emptied
    unless they are a survivor caseworker (then the read is audited), and none that consent
    keeps from them."""
    guard = submission_guard(db(), form)
    shown = []
    read = []
    for s in submissions:
        xml = guard.xml(s.xml)
        if xml is None:
            continue
        if guard.shows_personal(s.xml):
            read.append(s.instance_id)
        shown.append(dataclasses.replace(s, xml=xml))
    if read:
        record_read(db(), guard.access, "submission", read)
        commit()
    return shown


def _flag(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false"):
        raise errors.central_odata_query(f"{name} is true or false, not {value!r}")
    return value == "true"


def _count(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise errors.central_odata_query(f"{name} is a whole number, not {value!r}")
    return int(value)


def _system(s: service.ODataSubmission) -> odata.SystemValues:
    return odata.SystemValues(
        submission_date=timestamp(s.created_at) or "",
        updated_at=timestamp(s.updated_at),
        submitter_id=s.submitter_id,
        submitter_name=s.submitter_name,
        attachments_present=s.attachments_present,
        attachments_expected=s.attachments_expected,
        review_state=s.review_state,
        device_id=s.device_id,
        edits=s.edits,
        form_version=s.form_version,
    )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _filtered(
    tree: list[odata.Node],
    submissions: list[service.ODataSubmission],
    rows: dict[int, dict[str, Any]],
    text: str | None,
) -> list[service.ODataSubmission]:
    """``$filter`` on ``__system`` and the form's fields outside repeats, with ``year()``,
    ``month()`` and ``day()``; a repeat's table keeps the rows of the submissions it passes."""
    if not text:
        return submissions
    own = odata.filter_fields(tree)
    try:
        node: Node = parse_filter(text, {**SYSTEM_FILTER_FIELDS, **own}, functions=True)
    except FilterError as exc:
        raise errors.central_odata_query(f"$filter: {exc}") from None
    kept = []
    for s in submissions:
        values: dict[str, Any] = {
            "__system/submissionDate": _utc(s.created_at),
            "__system/updatedAt": _utc(s.updated_at),
            "__system/reviewState": s.review_state,
            "__system/submitterId": s.submitter_id,
        }
        for path, kind in own.items():
            values[path] = odata.filter_value(kind, odata.path_value(rows[s.id], path))
        if matches(node, values):
            kept.append(s)
    return kept


def _ordered(
    submissions: list[service.ODataSubmission], text: str | None
) -> list[service.ODataSubmission]:
    """``$orderby`` on the submission date or update time, ``asc`` or ``desc``; newest first
    without one, as Central."""
    if not text:
        return submissions
    parts = text.split()
    if (
        len(parts) not in (1, 2)
        or parts[0] not in ORDERABLE
        or parts[1:] not in ([], ["asc"], ["desc"])
    ):
        raise errors.central_odata_query(
            f"$orderby {text!r}: order by {' or '.join(ORDERABLE)}, then asc or desc"
        )
    attribute = ORDERABLE[parts[0]]
    key: Callable[[service.ODataSubmission], Any] = lambda s: (  # noqa: E731
        (_utc(getattr(s, attribute)) or datetime.min.replace(tzinfo=UTC)),
        s.id,
    )
    return sorted(submissions, key=key, reverse=parts[1:] == ["desc"])


def _select(known: set[str], text: str | None) -> list[str] | None:
    if not text:
        return None
    paths = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in paths if p not in known]
    if unknown:
        raise errors.central_odata_query(f"$select names unknown properties: {', '.join(unknown)}")
    return paths


def page_rows(rows: Sequence[dict[str, Any]], service_url: str, table: str) -> dict[str, Any]:
    """One page of an OData table: apply ``$skiptoken``, ``$skip`` and ``$top``; add
    ``@odata.count`` and, when rows remain after this page, ``@odata.nextLink``.

    Raises:
        Problem: 400 ``central.odata_query`` for a malformed option or a foreign skiptoken.
    """
    start = _skiptoken(request.args.get("$skiptoken"))
    start += _count("$skip") or 0
    top = _count("$top")
    end = len(rows) if top is None else min(len(rows), start + top)
    body: dict[str, Any] = {"@odata.context": f"{service_url}/$metadata#{table}"}
    if _flag("$count"):
        body["@odata.count"] = len(rows)
    body["value"] = list(rows[start:end])
    if end < len(rows):
        params = {k: v for k, v in request.args.items() if k not in ("$skip", "$skiptoken")}
        params["$skiptoken"] = _token(end)
        body["@odata.nextLink"] = f"{service_url}/{quote(table)}?{urlencode(params)}"
    return body


def _token(offset: int) -> str:
    raw = json.dumps({"offset": offset}).encode()
    return "01" + base64.urlsafe_b64encode(raw).decode()


def _skiptoken(token: str | None) -> int:
    if not token:
        return 0
    try:
        if not token.startswith("01"):
            raise ValueError
        value = json.loads(base64.urlsafe_b64decode(token[2:].encode()))
        offset = value["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.central_odata_query("$skiptoken was not issued by this server") from None
    return offset
