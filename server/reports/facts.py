"""Keeping the reporting tables current: a submission's facts are written when it arrives
(and replaced when it is edited), its approval is copied when a data verifier decides, and
``rebuild`` recomputes every fact of a project from the stored XML.

Called by the intake use cases (:mod:`server.intake.service`) in the same transaction as the
submission, so a report never counts a submission that was not stored, nor misses one that was.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any, cast

from lxml import etree
from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, make_transient_to_detached

from server.forms.models import Form
from server.reports import summary
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
    summarise: bool = True,
    new: bool = False,
) -> ReportFact | None:
    """Write (or replace) the facts of ``submission``'s current version, read from ``root``,
    and keep the summary (:mod:`server.reports.summary`) in step unless ``summarise`` is
    false (:func:`rebuild` recomputes it at the end).

    ``received`` dates a report that carries no date of its own; ``new`` says the submission
    was created in this transaction, so it has no facts to replace. Returns None for a form the
    reports do not read.
    """
    extracted = extract(form_id, root)
    mine = ReportFact.submission_id == submission.id
    areas: set[str] = set()
    held_before: set[str] = set()
    # An earlier version's facts (an edit, or a rebuild): taken away from the summary, then
    # deleted. A submission created in this transaction (``new``) has none: no read at all.
    earlier = (
        None
        if new
        else session.execute(select(ReportFact.id, ReportFact.hazard_area).where(mine)).first()
    )
    if earlier is not None:
        held_before = _held_refs(session, submission.id)
        if summarise:
            summary.add(session, -1, mine)
        session.execute(delete(ReportFact).where(mine))
        if earlier.hazard_area:
            areas.add(earlier.hazard_area)
    if extracted is None:
        if held_before:
            areas |= place_destructions(
                session, submission.project_id, held_before, summarise=summarise
            )
        if summarise:
            summary.place_states(session, submission.project_id, areas)
        return None
    fact = _insert_fact(session, submission, extracted, received)
    if extracted.items:
        session.execute(
            insert(ReportItem),
            [{"fact_id": fact.id, **vars(item)} for item in extracted.items],
        )
    if fact.hazard_area:
        place_area(session, fact.project_id, fact.hazard_area, pending=fact.id)
        areas.add(fact.hazard_area)
    if fact.kind == "eod_destruction":
        # Not summed yet: placed before it is added to the summary.
        areas |= _place_destruction(session, fact.id, fact.project_id)
    held = held_before | {i.item_key for i in extracted.items if i.kind == "held"}
    if held:
        areas |= place_destructions(
            session, fact.project_id, held, summarise=summarise, pending=fact.id
        )
    if summarise:
        summary.add_facts(session, 1, [fact.id])
        summary.place_states(session, fact.project_id, areas)
    return fact


def place_area(
    session: Session, project_id: int, hazard_area: str, *, pending: int | None = None
) -> None:
    """Give every fact about a hazard area the area's place: the P-codes and code of the
    latest hazard report naming it (by date of information, then arrival). A report about an
    area carries no place of its own, and grouping by place must not need a join.

    The facts that move are moved in the summary too, but for ``pending`` (a fact not summed
    yet)."""
    f = ReportFact
    latest_place, placed_elsewhere = _place_reads()
    area = {"project_id": project_id, "hazard_area": hazard_area}
    latest = session.execute(latest_place, area).first()
    if latest is None:
        return
    moved = list(session.scalars(placed_elsewhere, {**area, **latest._asdict()}))
    summed = [fact_id for fact_id in moved if fact_id != pending]
    if summed:
        summary.add_facts(session, -1, summed)
    if moved:
        session.execute(
            update(f)
            .where(f.id.in_(moved))
            .values(
                admin1=latest.admin1,
                admin2=latest.admin2,
                admin3=latest.admin3,
                ha_code=latest.ha_code,
            )
        )
    if summed:
        summary.add_facts(session, 1, summed)


@lru_cache(maxsize=1)
def _place_reads() -> tuple[Any, Any]:
    """:func:`place_area`'s two reads, built once (they run for every report on an area): the
    place of the area's latest hazard report, and the facts placed otherwise."""
    f = ReportFact
    project: Any = bindparam("project_id")
    area: Any = bindparam("hazard_area")
    latest = (
        select(f.admin1, f.admin2, f.admin3, f.ha_code)
        .where(
            f.project_id == project,
            f.hazard_area == area,
            f.kind == "nts",
            f.admin1.is_not(None),
        )
        .order_by(f.fact_date.desc(), f.id.desc())
        .limit(1)
    )
    elsewhere = select(f.id).where(
        f.project_id == project,
        f.hazard_area == area,
        or_(*(getattr(f, c).is_distinct_from(bindparam(c)) for c in _PLACE)),
    )
    return latest, elsewhere


_PLACE = ("admin1", "admin2", "admin3", "ha_code")


def place_destructions(
    session: Session,
    project_id: int,
    refs: set[str],
    *,
    summarise: bool = True,
    pending: int | None = None,
) -> set[str]:
    """Place again the later destructions of items with these tag references (their finding
    report arrived, changed or went), moving them in the summary when ``summarise`` (but for
    ``pending``, a fact not summed yet). Returns the hazard areas they left or joined."""
    f, i = ReportFact, ReportItem
    fact_ids = session.scalars(
        select(f.id)
        .join(i, i.fact_id == f.id)
        .where(
            f.project_id == project_id,
            f.kind == "eod_destruction",
            i.kind == "destroyed",
            i.item_key.in_(sorted(refs)),
        )
        .distinct()
    ).all()
    areas: set[str] = set()
    for fact_id in fact_ids:
        summed = summarise and fact_id != pending
        if summed:
            summary.add_facts(session, -1, [fact_id])
        areas |= _place_destruction(session, fact_id, project_id)
        if summed:
            summary.add_facts(session, 1, [fact_id])
    return areas


def _place_destruction(session: Session, fact_id: int, project_id: int) -> set[str]:
    """A later destruction counts where its item was found: it takes the hazard area and place
    of the report that removed the item (matched by tag reference, the first item that matches;
    the earliest such report), and keeps its own date, operator and tasking order. Without a
    match it has no place (ADR 0018). Returns the hazard areas it left or joined."""
    f, i, held = ReportFact, ReportItem, aliased(ReportItem)
    before = session.scalar(select(f.hazard_area).where(f.id == fact_id))
    origin = session.execute(
        select(f.hazard_area, f.ha_code, f.admin1, f.admin2, f.admin3)
        .join(held, held.fact_id == f.id)
        .join(i, (i.item_key == held.item_key) & (i.kind == "destroyed"))
        .where(
            i.fact_id == fact_id,
            held.kind == "held",
            held.item_key != "",
            f.project_id == project_id,
        )
        .order_by(i.id, f.id)
        .limit(1)
    ).first()
    place = (
        dict(origin._mapping)
        if origin is not None
        else dict.fromkeys(("hazard_area", "ha_code", "admin1", "admin2", "admin3"))
    )
    session.execute(update(f).where(f.id == fact_id).values(**place))
    return {area for area in (before, place["hazard_area"]) if area}


def _held_refs(session: Session, submission_id: int) -> set[str]:
    """The tag references of the items a submission's current facts hold for destruction."""
    return set(
        session.scalars(
            select(ReportItem.item_key)
            .join(ReportFact, ReportFact.id == ReportItem.fact_id)
            .where(ReportFact.submission_id == submission_id, ReportItem.kind == "held")
        )
    )


def review_changed(session: Session, submission: Submission) -> None:
    """Copy a data verifier's decision to the submission's facts (and move them in the
    summary, when the decision changes whether they are approved)."""
    f = ReportFact
    approved = submission.review_state == ReviewState.APPROVED.value
    changed = (f.submission_id == submission.id, f.approved.is_not(approved))
    flipped = session.execute(select(f.id, f.hazard_area).where(*changed)).first()
    if flipped is None:
        return
    summary.add_facts(session, -1, [flipped.id])
    session.execute(update(f).where(f.id == flipped.id).values(approved=approved))
    summary.add_facts(session, 1, [flipped.id])
    if flipped.hazard_area:
        summary.place_states(session, submission.project_id, {flipped.hazard_area})


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
        fact = record(session, submission, form_id, root, received_at.date(), summarise=False)
        if fact is not None:
            written += 1
    summary.resummarise(session, project_id)
    return written


def _insert_fact(
    session: Session, submission: Submission, extracted: Extracted, received: date
) -> ReportFact:
    """Insert the fact (a Core insert built once, after what is pending is flushed, as the
    ORM's flush would) and put it in the session as if it had been loaded (no SELECT)."""
    values = {k: v for k, v in vars(extracted).items() if k != "items"}
    values["fact_date"] = extracted.fact_date or received
    values.update(
        project_id=submission.project_id,
        submission_id=submission.id,
        approved=submission.review_state == ReviewState.APPROVED.value,
    )
    if session.autoflush:
        session.flush()
    fact_id = session.connection().execute(_NEW_FACT, values).scalar_one()
    fact = ReportFact(id=fact_id, **values)
    make_transient_to_detached(fact)
    session.add(fact)
    return fact


_FACTS = cast(Table, ReportFact.__table__)
_NEW_FACT = insert(_FACTS).returning(_FACTS.c.id)
