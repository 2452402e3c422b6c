"""Keeping the reporting tables current: a submission's facts are written when it arrives
(and replaced when it is edited), its approval is copied when a data verifier decides, and
``rebuild`` recomputes every fact of a project from the stored XML.

Called by the intake use cases (:mod:`server.intake.service`) in the same transaction as the
submission, so a report never counts a submission that was not stored, nor misses one that was.
"""

from __future__ import annotations

from datetime import date

from lxml import etree
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from server.forms.models import Form
from server.reports.extract import Extracted, extract
from server.reports.models import ReportFact, ReportItem
from server.submissions.models import ReviewState, Submission, SubmissionVersion
from server.xmlsafe import parse


def record(
    session: Session,
    submission: Submission,
    form_id: str,
    root: etree._Element,
    received: date,
    *,
    new: bool = False,
) -> ReportFact | None:
    """Write (or replace) the facts of ``submission``'s current version, read from ``root``.

    ``received`` dates a report that carries no date of its own; ``new`` says the submission
    was created in this transaction, so it has no facts to replace. Returns None for a form the
    reports do not read.
    """
    extracted = extract(form_id, root)
    if not new:
        session.execute(delete(ReportFact).where(ReportFact.submission_id == submission.id))
    if extracted is None:
        return None
    fact = _fact(submission, extracted, received)
    session.add(fact)
    session.flush()
    if extracted.items:
        session.execute(
            insert(ReportItem),
            [{"fact_id": fact.id, **vars(item)} for item in extracted.items],
        )
    if fact.hazard_area:
        place_area(session, fact.project_id, fact.hazard_area)
    return fact


def place_area(session: Session, project_id: int, hazard_area: str) -> None:
    """Give every fact about a hazard area the area's place: the P-codes and code of the
    latest hazard report naming it (by date of information, then arrival). A report about an
    area carries no place of its own, and grouping by place must not need a join."""
    f = ReportFact
    latest = session.execute(
        select(f.admin1, f.admin2, f.ha_code)
        .where(
            f.project_id == project_id,
            f.hazard_area == hazard_area,
            f.kind == "nts",
            f.admin1.is_not(None),
        )
        .order_by(f.fact_date.desc(), f.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return
    session.execute(
        update(f)
        .where(f.project_id == project_id, f.hazard_area == hazard_area)
        .values(admin1=latest.admin1, admin2=latest.admin2, ha_code=latest.ha_code)
    )


def review_changed(session: Session, submission: Submission) -> None:
    """Copy a data verifier's decision to the submission's facts."""
    session.execute(
        update(ReportFact)
        .where(ReportFact.submission_id == submission.id)
        .values(approved=submission.review_state == ReviewState.APPROVED.value)
    )


def rebuild(session: Session, project_id: int) -> int:
    """Recompute the facts of every submission of a project from its current version's XML
    (after an upgrade, or when the extraction rules change). Returns how many were written."""
    rows = session.execute(
        select(Submission, Form.xml_form_id, SubmissionVersion.xml, SubmissionVersion.received_at)
        .join(Form, Form.id == Submission.form_id)
        .join(
            SubmissionVersion,
            (SubmissionVersion.submission_id == Submission.id)
            & (SubmissionVersion.instance_id == Submission.current_instance_id),
        )
        .where(Submission.project_id == project_id)
        .order_by(Submission.id)
    )
    written = 0
    for submission, form_id, xml, received_at in rows:
        root = parse(xml.encode("utf-8"), "the submission")
        if record(session, submission, form_id, root, received_at.date()) is not None:
            written += 1
    return written


def _fact(submission: Submission, extracted: Extracted, received: date) -> ReportFact:
    columns = {k: v for k, v in vars(extracted).items() if k != "items"}
    columns["fact_date"] = extracted.fact_date or received
    return ReportFact(
        project_id=submission.project_id,
        submission_id=submission.id,
        approved=submission.review_state == ReviewState.APPROVED.value,
        **columns,
    )
