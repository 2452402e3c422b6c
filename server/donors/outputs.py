"""What funded work produced: m² released, devices destroyed, people reached by risk education.

One function, :func:`compute_outputs`, computes the outputs of any number of scopes (a funding
agreement's hazard areas, activities and admin areas over its period) from the approved reports
and the merged hazard-area records. The reading of a report (:func:`read_report`) and the
arithmetic (:func:`in_scope`, :func:`total`) are plain functions over plain data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.entities import store as entity_store
from server.entities.models import Entity
from server.forms.models import Form
from server.submissions.models import ReviewState, Submission, SubmissionVersion
from server.xmlsafe import parse

LAND_FORMS = ("hazard_report", "clearance_report", "completion_report")
REPORT_FORMS = (*LAND_FORMS, "eod_report", "eore_session")
DESTROYED_IN_SITU = "destroyed_in_situ"
# eore_session's participant counts: (field, sex, age band)
EORE_CELLS = (
    ("girls_0_9", "female", "0-9"),
    ("boys_0_9", "male", "0-9"),
    ("girls_10_17", "female", "10-17"),
    ("boys_10_17", "male", "10-17"),
    ("women_18_45", "female", "18-45"),
    ("men_18_45", "male", "18-45"),
    ("women_46_plus", "female", "46+"),
    ("men_46_plus", "male", "46+"),
)


@dataclass(frozen=True)
class Scope:
    """What an agreement funds: reports dated ``start``..``end`` (inclusive) on one of these
    hazard areas (entity ids), activities (tasking order numbers) or admin areas (P-codes)."""

    start: date
    end: date
    hazard_areas: frozenset[str] = frozenset()
    activities: frozenset[str] = frozenset()
    admin_areas: frozenset[str] = frozenset()


@dataclass
class FieldRecord:
    """One approved report's contribution (a later destruction item is a record of its own)."""

    key: str  # the instanceID, with ``#<destroyed_item_id>`` for a later destruction
    form_id: str
    on: date | None
    hazard_area: str = ""
    task_id: str = ""
    admin: tuple[str, ...] = ()
    organisation: str = ""
    cancelled_m2: float = 0.0
    reduced_m2: float = 0.0
    cleared_m2: float = 0.0
    destroyed: Counter[tuple[str, str]] = field(default_factory=Counter)
    eore_session: bool = False
    beneficiaries: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Tag references of devices removed for later destruction, and (for a later destruction)
    # the reference of the item destroyed.
    holding_refs: tuple[str, ...] = ()
    destroyed_ref: str = ""

    def source(self) -> dict[str, Any]:
        return {
            "form": self.form_id,
            "instance_id": self.key.split("#", 1)[0],
            "item": self.key.split("#", 1)[1] if "#" in self.key else None,
            "date": self.on.isoformat() if self.on else None,
            "hazard_area": self.hazard_area or None,
            "task_id": self.task_id or None,
            "admin_areas": list(self.admin),
        }


@dataclass
class Outputs:
    cancelled_m2: float = 0.0
    reduced_m2: float = 0.0
    cleared_m2: float = 0.0
    destroyed: Counter[tuple[str, str]] = field(default_factory=Counter)
    eore_sessions: int = 0
    beneficiaries: Counter[tuple[str, str]] = field(default_factory=Counter)
    reports: int = 0

    @property
    def released_m2(self) -> float:
        return self.cancelled_m2 + self.reduced_m2 + self.cleared_m2

    def to_json(self) -> dict[str, Any]:
        return {
            "cancelled_m2": round(self.cancelled_m2, 2),
            "reduced_m2": round(self.reduced_m2, 2),
            "cleared_m2": round(self.cleared_m2, 2),
            "released_m2": round(self.released_m2, 2),
            "released_km2": round(self.released_m2 / 1_000_000, 6),
            "devices_destroyed": sum(self.destroyed.values()),
            "destroyed": [
                {"category": c, "model": m, "quantity": q}
                for (c, m), q in sorted(self.destroyed.items())
            ],
            "eore_sessions": self.eore_sessions,
            "people_reached": sum(self.beneficiaries.values()),
            "beneficiaries": [
                {"sex": sex, "age_band": band, "count": self.beneficiaries[(sex, band)]}
                for _name, sex, band in EORE_CELLS
            ],
            "reports": self.reports,
        }


def compute_outputs(
    session: Session, project_id: int, scopes: Sequence[Scope], *, approved_only: bool = True
) -> list[tuple[Outputs, list[FieldRecord]]]:
    """The outputs of each scope, with the records behind them, in the order of ``scopes``.

    Which reports count:

    - the current version of each submission of ``hazard_report``, ``clearance_report``,
      ``completion_report``, ``eod_report`` and ``eore_session`` in the project; with
      ``approved_only`` (the default, IMSMA's rule) only those a data verifier approved;
    - dated by their ``date_of_information`` (a later destruction by its ``destruction_date``),
      inside the scope's period, both ends included;
    - on a hazard area of the scope (a report's ``hazard_area``, a hazard report's entity id),
      or under one of its activities (the report's ``task_id``), or in one of its admin areas
      (the report's P-codes at any level; for reports on a hazard area, the P-codes of the
      merged hazard-area record). A scope with none of the three holds nothing.

    What they count:

    - m² released: ``area_cancelled_m2``, ``area_reduced_m2`` (with and without a technical
      asset) and ``area_cleared_m2`` of clearance and completion reports; a hazard report's
      ``area_cancelled_m2`` (a re-survey that cancels land). Released is their sum.
    - devices destroyed: ``devices`` items (clearance and EOD reports) whose ``disposal`` is
      ``destroyed_in_situ``, by ``quantity``; and an EOD report's ``destroyed_items`` (items
      removed earlier), by ``destroyed_quantity``, placed where the item was found (matched by
      its tag reference, ``holding_ref``) when that report is known. Items still held in a store
      are not destroyed.
    - people reached: the eight participant counts of each ``eore_session`` (female and male by
      age band 0-9, 10-17, 18-45, 46+), and the number of sessions.

    A report counts once per scope however many of the scope's criteria it meets.
    """
    if not scopes:
        return []
    records = load_records(session, project_id, approved_only=approved_only)
    results = []
    for scope in scopes:
        chosen = [r for r in records if in_scope(r, scope)]
        results.append((total(chosen), chosen))
    return results


def in_scope(record: FieldRecord, scope: Scope) -> bool:
    if record.on is None or not scope.start <= record.on <= scope.end:
        return False
    return (
        bool(record.hazard_area and record.hazard_area in scope.hazard_areas)
        or bool(record.task_id and record.task_id in scope.activities)
        or any(code in scope.admin_areas for code in record.admin)
    )


def total(records: Iterable[FieldRecord]) -> Outputs:
    out = Outputs()
    seen: set[str] = set()
    for record in records:
        if record.key in seen:
            continue
        seen.add(record.key)
        out.reports += 1
        out.cancelled_m2 += record.cancelled_m2
        out.reduced_m2 += record.reduced_m2
        out.cleared_m2 += record.cleared_m2
        out.destroyed.update(record.destroyed)
        out.eore_sessions += int(record.eore_session)
        out.beneficiaries.update(record.beneficiaries)
    return out


# --- reading the reports ------------------------------------------------------------------------


def load_records(
    session: Session, project_id: int, *, approved_only: bool = True
) -> list[FieldRecord]:
    """Every report of the project that can count, read into records."""
    stmt = (
        select(Form.xml_form_id, SubmissionVersion.instance_id, SubmissionVersion.xml)
        .join(Submission, Submission.form_id == Form.id)
        .join(
            SubmissionVersion,
            (SubmissionVersion.submission_id == Submission.id)
            & (SubmissionVersion.instance_id == Submission.current_instance_id),
        )
        .where(Form.project_id == project_id, Form.xml_form_id.in_(REPORT_FORMS))
        .order_by(Submission.id)
    )
    if approved_only:
        stmt = stmt.where(Submission.review_state == ReviewState.APPROVED.value)
    places = _hazard_area_places(session, project_id)
    # Stored submissions were checked by xmlsafe on arrival; read them without entities or DTDs.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    records: list[FieldRecord] = []
    for form_id, instance_id, xml in session.execute(stmt):
        data = xml.encode("utf-8")
        try:
            root = etree.fromstring(data, parser=parser)
        except etree.XMLSyntaxError:
            root = parse(data, "a stored submission")  # raises the precise refusal
        records.extend(read_report(form_id, instance_id, root, places))
    return _place_later_destructions(records)


def _hazard_area_places(session: Session, project_id: int) -> dict[str, tuple[str, ...]]:
    entity_list = entity_store.find_list(session, project_id, "hazard_areas")
    if entity_list is None:
        return {}
    places = {}
    for uuid, values in session.execute(
        select(Entity.uuid, Entity.values).where(Entity.list_id == entity_list.id)
    ):
        values = values or {}
        codes = (values.get(f"admin{n}_pcode", "") for n in (1, 2, 3))
        places[uuid] = tuple(c for c in codes if c)
    return places


def read_report(
    form_id: str,
    instance_id: str,
    root: etree._Element,
    places: dict[str, tuple[str, ...]],
) -> list[FieldRecord]:
    """The records one report contributes (pure: the XML and the hazard areas' P-codes)."""
    fields, repeats, entity_id = _read(root)
    hazard_area = (fields.get("hazard_area") or entity_id) if form_id in LAND_FORMS else ""
    own_place = tuple(fields[f"admin{n}"] for n in (1, 2, 3) if fields.get(f"admin{n}"))
    record = FieldRecord(
        key=instance_id,
        form_id=form_id,
        on=_date(fields.get("date_of_information")),
        hazard_area=hazard_area,
        task_id=fields.get("task_id", ""),
        admin=places.get(hazard_area, ()) or own_place,
        organisation=fields.get("organisation", ""),
    )
    if form_id in ("clearance_report", "completion_report"):
        record.cancelled_m2 = _number(fields.get("area_cancelled_m2"))
        record.reduced_m2 = _number(fields.get("area_reduced_asset_m2")) + _number(
            fields.get("area_reduced_no_asset_m2")
        )
        record.cleared_m2 = _number(fields.get("area_cleared_m2"))
    elif form_id == "hazard_report":
        record.cancelled_m2 = _number(fields.get("area_cancelled_m2"))
    elif form_id == "eore_session":
        record.eore_session = True
        for name, sex, band in EORE_CELLS:
            record.beneficiaries[(sex, band)] += int(_number(fields.get(name)))
    for item in repeats.get("devices", []):
        if item.get("disposal") == DESTROYED_IN_SITU:
            key = (item.get("device_category", ""), item.get("device_model", ""))
            record.destroyed[key] += int(_number(item.get("quantity"), default=1))
        elif item.get("holding_ref"):
            record.holding_refs += (item["holding_ref"],)
    records = [record]
    destroyed_on = _date(fields.get("destruction_date")) or record.on
    for index, item in enumerate(repeats.get("destroyed_items", [])):
        later = FieldRecord(
            key=f"{instance_id}#{item.get('destroyed_item_id') or index}",
            form_id=form_id,
            on=destroyed_on,
            task_id=record.task_id,
            admin=record.admin,
            organisation=record.organisation,
            destroyed_ref=item.get("destroyed_holding_ref", ""),
        )
        key = (item.get("destroyed_category", ""), item.get("destroyed_model", ""))
        later.destroyed[key] += int(_number(item.get("destroyed_quantity"), default=1))
        records.append(later)
    return records


def _place_later_destructions(records: list[FieldRecord]) -> list[FieldRecord]:
    """A later destruction counts where its item was found: the finding report's hazard area,
    activity and admin areas (when that report counts too)."""
    found = {ref: r for r in records for ref in r.holding_refs}
    for record in records:
        origin = found.get(record.destroyed_ref) if record.destroyed_ref else None
        if origin is not None:
            record.hazard_area = origin.hazard_area
            record.task_id = origin.task_id or record.task_id
            record.admin = origin.admin or record.admin
    return records


_REPEATS = frozenset(
    {"devices", "destroyed_items", "evidence_points", "casualties", "referrals", "new_referrals"}
)


def _read(root: etree._Element) -> tuple[dict[str, str], dict[str, list[dict[str, str]]], str]:
    """In one walk: leaf values by name outside repeats (groups flattened: names are unique in a
    form), each repeat's items as name -> value, and the entity block's id."""
    values: dict[str, str] = {}
    repeats: dict[str, list[dict[str, str]]] = {}
    entity_id = ""
    stack: list[tuple[etree._Element, dict[str, str] | None]] = [(root, None)]
    while stack:
        element, item = stack.pop()
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            name = tag.rsplit("}", 1)[-1]
            if len(child):
                if name == "entity":
                    entity_id = str(child.get("id") or "")
                if name in _REPEATS and item is None:
                    fresh: dict[str, str] = {}
                    repeats.setdefault(name, []).append(fresh)
                    stack.append((child, fresh))
                else:
                    stack.append((child, item))
                continue
            target = values if item is None else item
            if name not in target:
                target[name] = (child.text or "").strip()
    return values, repeats, entity_id


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        return None


def _number(value: str | None, default: float = 0.0) -> float:
    """A figure of a report; what is not a finite number (blank, text, NaN) counts as the
    default."""
    try:
        number = float(value) if value not in (None, "") else default
    except ValueError:
        return default
    return number if math.isfinite(number) else default
