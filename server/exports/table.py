"""A page of a form's submissions as the export's root table, for a table on screen: the same
columns and cells as the CSV, filtered (date received, review state, submitter, device, admin
area), sorted and paged in the database."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, asc, desc
from sqlalchemy.orm import Session

from server.exports import service
from server.exports.options import ExportFormat, parse_options
from server.exports.rows import Cell, submission_rows
from server.exports.source import CENTRAL_REVIEW_STATE
from server.exports.tables import ColumnPolicy, build_schema, keep_everything
from server.forms import service as forms
from server.personal.guard import FormGuard
from server.submissions.models import Submission

SORTS = ("received", "review_state", "submitter", "device")
MAX_PAGE = 200


@dataclass(frozen=True)
class TableQuery:
    received_from: date | None = None
    received_to: date | None = None  # inclusive
    review_state: str = ""  # ours: received, has_issues, edited, approved, rejected
    submitter_id: int | None = None
    device_id: str = ""
    admin_area: str = ""  # a P-code, matched against the submission's values
    sort: str = "received"
    descending: bool = True
    limit: int = 50
    offset: int = 0

    def filter_text(self) -> str:
        """The export's ``$filter`` for the metadata parts (the same filter the CSV takes)."""
        parts = []
        if self.received_from:
            parts.append(f"__system/submissionDate ge {self.received_from.isoformat()}")
        if self.received_to:
            until = self.received_to + timedelta(days=1)
            parts.append(f"__system/submissionDate lt {until.isoformat()}")
        if self.review_state:
            central = CENTRAL_REVIEW_STATE.get(self.review_state)
            parts.append(
                "__system/reviewState eq null"
                if central is None
                else f"__system/reviewState eq '{central}'"
            )
        if self.submitter_id is not None:
            parts.append(f"__system/submitterId eq {self.submitter_id}")
        return " and ".join(parts)


@dataclass
class TableRow:
    instance_id: str
    review_state: str
    cells: list[Cell]


@dataclass
class TablePage:
    headers: list[str]
    paths: list[str]  # the field path of each column ("" for the metadata columns)
    rows: list[TableRow] = field(default_factory=list)
    total: int = 0


def _ordered(stmt: Select[Any], query: TableQuery) -> Select[Any]:
    columns = stmt.selected_columns
    key = {
        "received": Submission.id,
        "review_state": columns.review_state,
        "submitter": columns.app_user_name,
        "device": columns.device_id,
    }[query.sort if query.sort in SORTS else "received"]
    order = desc if query.descending else asc
    return stmt.order_by(None).order_by(order(key), order(Submission.id))


def table_page(
    session: Session,
    project_id: int,
    form_id: str,
    query: TableQuery,
    *,
    role: str,
    secret: str,
    policy: ColumnPolicy = keep_everything,
    guard: FormGuard | None = None,
) -> TablePage:
    """One page of the form's submissions as the CSV export's root table. With a ``guard``
    (server.personal), a submission consent keeps from the caller is left out of the page and
    the rest are what the caller may see (the export's rule).

    Raises:
        Problem: 404 ``form.not_found``; 400 ``export.bad_filter`` (never for a query built
            from the table's own controls).
    """
    form = forms.get_form(session, project_id, form_id)
    options = parse_options(ExportFormat.CSV, {"$filter": query.filter_text()})
    schema = build_schema(
        form.xml_form_id,
        service.export_fields(session, form, options),
        include_repeats=False,
        policy=policy,
        role=role,
    )
    rows, count = service.statements(
        form, options, device_id=query.device_id, xml_text=query.admin_area
    )
    limit = max(1, min(query.limit, MAX_PAGE))
    columns = schema.root.columns
    page = TablePage(
        headers=schema.root.headers,
        paths=[c.field.path if c.field is not None else "" for c in columns],
        total=int(session.scalar(count) or 0),
    )
    pseudonymise = service.pseudonymiser(secret)
    ordered = _ordered(rows, query)
    # The page's ids first, then their rows: skipping 50,000 rows then costs an index walk, not
    # 50,000 rows' XML and attachment counts.
    ids = list(
        session.scalars(ordered.with_only_columns(Submission.id).limit(limit).offset(query.offset))
    )
    for row in session.execute(ordered.where(Submission.id.in_(ids))) if ids else []:
        submission = service.export_submission(row)
        if guard is not None:
            text = submission.xml if isinstance(submission.xml, str) else submission.xml.decode()
            shown = guard.xml(text)
            if shown is None:
                continue
            submission = dataclasses.replace(submission, xml=shown)
        cells = submission_rows(schema, submission, pseudonymise).root
        page.rows.append(TableRow(submission.instance_id, row.review_state, cells))
    return page
