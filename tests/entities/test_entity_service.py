"""Shared records end to end through the submission service: the classic field cases, on the
real database, with the library's forms."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.db import transaction, utcnow
from server.entities import records, review
from server.entities.inbox import process, process_backlog
from server.entities.models import EntityConflict, EntityInbox, EntityVersion
from server.entities.store import find_list
from server.submissions.service import Outcome
from tests.entities.builders import Filled
from tests.entities.conftest import Field

AREA = {
    "ha_code": "HA-0145",
    "admin_area": "Xieng Khouang / Phonsavan",
    "hazard_type": "sha",
    "status": "suspected",
    "contamination_types": "cmr",
    "evidence": "indirect",
    "estimated_area_m2": "12000",
    "remaining_area_m2": "12000",
    "land_use": "agriculture",
    "blockages": "farmland",
    "priority": "high",
    "landowner_type": "community",
}


def new_area(field: Field, ha: str, **changes: str) -> Filled:
    values = {**AREA, **changes}
    return field.fill(
        "hazard_report",
        entity_id=ha,
        create=True,
        label=f"{values['ha_code']} {values['admin_area']}",
        values=values,
        date_of_information="2026-11-01",
    )


def clearance(
    field: Field,
    ha: str,
    base: int,
    *,
    date: str = "2026-11-10",
    trunk: int | None = None,
    branch: str | None = None,
    **values: str,
) -> Filled:
    sent = {
        "status": "in_clearance",
        "remaining_area_m2": "12000",
        "cleared_area_m2": "0",
        "contamination_types": "cmr",
        "hazard_type": "sha",
        "evidence": "indirect",
        **values,
    }
    return field.fill(
        "clearance_report",
        entity_id=ha,
        update=True,
        base_version=base,
        trunk_version=base if trunk is None else trunk,
        branch_id=branch,
        values=sent,
        date_of_information=date,
    )


def survey_update(
    field: Field, ha: str, base: int, *, date: str = "2026-11-10", **changes: str
) -> Filled:
    values = {**AREA, **changes}
    return field.fill(
        "hazard_report",
        entity_id=ha,
        update=True,
        base_version=base,
        trunk_version=base,
        label=f"{values['ha_code']} {values['admin_area']}",
        values=values,
        date_of_information=date,
    )


def versions(field: Field, ha: str) -> list[EntityVersion]:
    entity = field.entity(ha)
    with field.factories.session() as session:
        return list(
            session.scalars(
                select(EntityVersion)
                .where(EntityVersion.entity_id == entity.id)
                .order_by(EntityVersion.version)
            )
        )


def test_a_hazard_report_creates_a_hazard_area(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    entity = field.entity(ha)
    assert entity.label == "HA-0145 Xieng Khouang / Phonsavan"
    assert entity.current_version == 1
    assert entity.values["status"] == "suspected"
    assert entity.values["estimated_area_m2"] == "12000"
    assert entity.conflict is None


def test_two_teams_updating_different_properties_both_apply(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    field.receive(survey_update(field, ha, 1, priority="medium"))
    field.receive(survey_update(field, ha, 1, village="Ban Na"))
    entity = field.entity(ha)
    assert entity.values["priority"] == "medium"
    assert entity.values["village"] == "Ban Na"
    assert entity.current_version == 3
    # Visible as a soft conflict, but nothing waits for review.
    assert entity.conflict == "soft"
    assert all(not c.requires_review for c in field.open_conflicts(ha))


def test_two_teams_updating_the_same_property_open_a_hard_conflict(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    early = survey_update(field, ha, 1, priority="medium", date="2026-11-05")
    late = survey_update(field, ha, 1, priority="low", date="2026-11-09")
    field.receive(late)
    field.receive(early)
    entity = field.entity(ha)
    # Provisional value: the later date of information, whatever the arrival order.
    assert entity.values["priority"] == "low"
    assert entity.conflict == "hard"
    hard = [c for c in field.open_conflicts(ha) if c.requires_review]
    assert [c.property_name for c in hard] == ["priority"]
    sent = {v["update_id"]: v["value"] for v in hard[0].details["values"]}
    assert sent == {early.instance_id: "medium", late.instance_id: "low"}


def test_stale_device_cannot_move_a_cleared_area_back(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    field.receive(
        clearance(
            field,
            ha,
            1,
            status="cleared",
            remaining_area_m2="0",
            cleared_area_m2="12000",
            date="2026-11-15",
        )
    )
    assert field.entity(ha).values["status"] == "cleared"
    # A tablet that never saw the clearance confirms the area (suspected -> confirmed) and
    # reports other observations, later in time than the clearance.
    stale = survey_update(field, ha, 1, status="confirmed", priority="low", date="2026-11-20")
    field.receive(stale)
    entity = field.entity(ha)
    assert entity.values["status"] == "cleared"
    assert entity.values["remaining_area_m2"] == "0"
    held = [
        c
        for c in field.open_conflicts(ha)
        if c.requires_review and stale.instance_id in {v["update_id"] for v in c.details["values"]}
    ]
    assert held, field.open_conflicts(ha)
    carried = {
        v["property"]: v["value"]
        for c in held
        for v in c.details["values"]
        if v["update_id"] == stale.instance_id
    }
    assert carried["status"] == "confirmed"
    assert entity.conflict == "hard"


def test_a_team_that_saw_the_clearance_cannot_move_it_back_without_reopen(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    field.receive(
        clearance(
            field,
            ha,
            1,
            status="cleared",
            remaining_area_m2="0",
            cleared_area_m2="12000",
            date="2026-11-15",
        )
    )
    back = survey_update(
        field, ha, 2, status="suspected", priority="low", date="2026-11-20", remaining_area_m2="0"
    )
    field.receive(back)
    entity = field.entity(ha)
    assert entity.values["status"] == "cleared"
    regression = [c for c in field.open_conflicts(ha) if c.kind == "status_regression"]
    assert len(regression) == 1
    carried = {v["property"]: v["value"] for v in regression[0].details["values"]}
    assert carried["status"] == "suspected"
    assert carried["priority"] == "low"  # everything it carried is kept for review
    assert entity.values["priority"] == "high"


def test_offline_chain_arriving_in_reverse_order_is_held_then_applied(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    branch = str(uuid.uuid4())
    # One tablet, offline for three days, three reports on the same area (local versions 2-4).
    day1 = clearance(
        field,
        ha,
        1,
        trunk=1,
        branch=branch,
        cleared_area_m2="1000",
        remaining_area_m2="11000",
        date="2026-11-11",
    )
    day2 = clearance(
        field,
        ha,
        2,
        trunk=1,
        branch=branch,
        cleared_area_m2="3000",
        remaining_area_m2="9000",
        date="2026-11-12",
    )
    day3 = clearance(
        field,
        ha,
        3,
        trunk=1,
        branch=branch,
        cleared_area_m2="6000",
        remaining_area_m2="6000",
        date="2026-11-13",
    )
    field.receive(day3)
    field.receive(day2)
    assert field.inbox(day3.instance_id).status == "held"
    assert "waiting for the previous offline update" in field.inbox(day3.instance_id).reason
    assert field.entity(ha).current_version == 1
    field.receive(day1)
    entity = field.entity(ha)
    assert entity.current_version == 4
    assert entity.values["cleared_area_m2"] == "6000"
    assert entity.values["remaining_area_m2"] == "6000"
    assert [c for c in field.open_conflicts(ha) if c.requires_review] == []
    assert [v.update_id for v in versions(field, ha)][1:] == [
        day1.instance_id,
        day2.instance_id,
        day3.instance_id,
    ]


def test_the_same_submission_twice_yields_one_version(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    update = clearance(field, ha, 1, status="in_clearance")
    assert field.receive(update).outcome is Outcome.CREATED
    assert field.receive(update).outcome is Outcome.DUPLICATE
    # Processing the same inbox entry again (a retry after a crash) adds nothing either.
    with transaction(field.factories.runtime.session_factory) as session:
        row = session.scalars(
            select(EntityInbox).where(EntityInbox.update_id == update.instance_id)
        ).one()
        row.status = "held"
        process(session, row)
    assert field.entity(ha).current_version == 2
    assert len(versions(field, ha)) == 2


def test_result_does_not_depend_on_arrival_order(field: Field) -> None:
    """The same reports, received in every order, give the same record and conflicts."""
    outcomes = set()
    for order in itertools.permutations(range(3)):
        ha = str(uuid.uuid4())
        field.receive(new_area(field, ha))
        reports = [
            clearance(
                field,
                ha,
                1,
                status="cleared",
                remaining_area_m2="0",
                cleared_area_m2="12000",
                date="2026-11-15",
            ),
            survey_update(field, ha, 1, priority="low", status="confirmed", date="2026-11-12"),
            survey_update(
                field, ha, 1, priority="medium", land_use="agriculture grazing", date="2026-11-13"
            ),
        ]
        for index in order:
            field.receive(reports[index])
        entity = field.entity(ha)
        conflicts = tuple(
            sorted(
                (c.kind, c.property_name or "", c.requires_review) for c in field.open_conflicts(ha)
            )
        )
        outcomes.add((tuple(sorted(entity.values.items())), conflicts))
    assert len(outcomes) == 1, outcomes
    values = dict(next(iter(outcomes))[0])
    assert values["status"] == "cleared"
    assert set(values["land_use"].split()) == {"agriculture", "grazing"}


def test_conflict_resolution_is_a_new_version_and_closes_it(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    field.receive(survey_update(field, ha, 1, priority="medium", date="2026-11-05"))
    field.receive(survey_update(field, ha, 1, priority="low", date="2026-11-09"))
    conflict = next(c for c in field.open_conflicts(ha) if c.requires_review)
    admin = field.factories.user(field.project, "coordinator")
    with transaction(field.factories.runtime.session_factory) as session:
        applied = review.resolve(
            session,
            field.project.id,
            conflict.id,
            values={"priority": "medium"},
            reason="team leader confirmed medium",
            user_id=admin.id,
        )
        assert applied.version is not None
    entity = field.entity(ha)
    assert entity.values["priority"] == "medium"
    assert entity.current_version == 4
    with field.factories.session() as session:
        row = session.get(EntityConflict, conflict.id)
        assert row is not None
        assert row.status == "resolved"
        assert row.resolution["reason"] == "team leader confirmed medium"


def test_reopen_by_a_coordinator_moves_status_back_with_a_reason(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    field.receive(
        clearance(field, ha, 1, status="cleared", remaining_area_m2="0", cleared_area_m2="12000")
    )
    admin = field.factories.user(field.project, "coordinator")
    with transaction(field.factories.runtime.session_factory) as session:
        entity_list = records.get_list(session, field.project.id, "hazard_areas")
        entity = records.get_entity(session, entity_list, ha)
        review.reopen(
            session,
            entity_list,
            entity,
            status="suspected",
            reason="villagers found a BLU-26 near the school",
            user_id=admin.id,
        )
    assert field.entity(ha).values["status"] == "suspected"


def test_update_for_an_unknown_entity_is_held_then_force_applied(field: Field) -> None:
    ha = str(uuid.uuid4())
    update = clearance(field, ha, 1, status="in_clearance")
    field.receive(update)
    held = field.inbox(update.instance_id)
    assert held.status == "held"
    assert "waiting for the entity" in held.reason
    with transaction(field.factories.runtime.session_factory) as session:
        report = process_backlog(session, older_than=timedelta(days=5))
    assert (report.applied, report.forced, report.still_held) == (0, 0, 1)
    with transaction(field.factories.runtime.session_factory) as session:
        report = process_backlog(session, force=True)
    assert report.forced == 1
    entity = field.entity(ha)
    assert entity.values["status"] == "in_clearance"
    assert versions(field, ha)[0].forced is True


def test_an_update_that_arrived_before_its_creation_is_applied_when_the_report_arrives(
    field: Field,
) -> None:
    ha = str(uuid.uuid4())
    update = clearance(field, ha, 1, status="in_clearance", cleared_area_m2="3000")
    field.receive(update)
    assert field.inbox(update.instance_id).status == "held"
    created = new_area(field, ha)
    field.receive(created)
    creation = field.inbox(created.instance_id)
    assert (creation.status, creation.entity_version, creation.reason) == ("applied", 1, "")
    assert field.inbox(update.instance_id).status == "applied"
    assert [(v.version, v.kind, v.update_id) for v in versions(field, ha)] == [
        (1, "create", created.instance_id),
        (2, "update", update.instance_id),
    ]
    entity = field.entity(ha)
    assert entity.current_version == 2
    assert entity.values["status"] == "in_clearance"
    assert entity.values["cleared_area_m2"] == "3000"


def test_a_second_creation_of_an_existing_id_takes_the_merge_not_an_insert(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    again = new_area(field, ha, priority="low")
    field.receive(again)
    assert field.inbox(again.instance_id).status == "applied"
    assert [v.version for v in versions(field, ha)] == [1, 2]
    # Its author saw nothing of the entity: the differing value is a conflict.
    assert [c.property_name for c in field.open_conflicts(ha)] == ["priority"]


def test_base_version_from_the_future_is_held_not_applied(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    future = survey_update(field, ha, 9, priority="low")
    future.trunk_version = None
    field.receive(future)
    row = field.inbox(future.instance_id)
    assert row.status == "held"
    assert "newer than the entity's current version" in row.reason
    assert field.entity(ha).values["priority"] == "high"
    # Held longer than the configured delay: force-applied, flagged.
    with transaction(field.factories.runtime.session_factory) as session:
        inbox = session.scalars(
            select(EntityInbox).where(EntityInbox.update_id == future.instance_id)
        ).one()
        inbox.received_at = utcnow() - timedelta(days=6)
    with transaction(field.factories.runtime.session_factory) as session:
        assert process_backlog(session, older_than=timedelta(days=5)).forced == 1
    assert field.entity(ha).values["priority"] == "low"


def test_a_property_the_list_does_not_have_is_kept_as_invalid(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    update = clearance(field, ha, 1, status="in_clearance")
    update.values["status"] = "exploded"  # not a status the list knows
    field.receive(update)
    entity = field.entity(ha)
    assert entity.values["status"] == "suspected"
    invalid = [c for c in field.open_conflicts(ha) if c.kind == "invalid"]
    assert invalid and invalid[0].details["values"][0]["value"] == "exploded"


def test_approval_required_list_waits_for_the_data_verifier(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    with transaction(field.factories.runtime.session_factory) as session:
        records.get_list(session, field.project.id, "hazard_areas").approval_required = True
    update = clearance(field, ha, 1, status="in_clearance")
    result = field.receive(update)
    assert field.inbox(update.instance_id).status == "awaiting_approval"
    assert field.entity(ha).values["status"] == "suspected"
    verifier = field.factories.user(field.project, "coordinator")
    from server.intake.service import review_submission
    from server.submissions.models import ReviewState, Submission

    with transaction(field.factories.runtime.session_factory) as session:
        submission = session.get(Submission, result.submission.id)
        assert submission is not None
        review_submission(session, submission, ReviewState.APPROVED, verifier.id)
    assert field.entity(ha).values["status"] == "in_clearance"
    rejected = clearance(
        field, ha, 2, status="cleared", remaining_area_m2="0", cleared_area_m2="12000"
    )
    result = field.receive(rejected)
    with transaction(field.factories.runtime.session_factory) as session:
        submission = session.get(Submission, result.submission.id)
        assert submission is not None
        review_submission(session, submission, ReviewState.REJECTED, verifier.id)
    row = field.inbox(rejected.instance_id)
    assert row.status == "rejected"
    assert "rejected by a data verifier" in row.reason
    assert field.entity(ha).values["status"] == "in_clearance"


def test_history_can_be_read_back(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    field.receive(clearance(field, ha, 1, status="in_clearance", cleared_area_m2="500"))
    history = versions(field, ha)
    assert [v.version for v in history] == [1, 2]
    assert history[1].base_version == 1
    assert history[1].update["values"]["cleared_area_m2"] == "500"
    assert history[1].result["values"]["cleared_area_m2"] == "500"
    assert history[1].source_submission_version_id is not None
    with field.factories.session() as session:
        assert session.scalar(select(func.count()).select_from(EntityVersion)) == 2


def test_an_entity_block_naming_another_list_is_refused_with_a_reason(field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    update = clearance(field, ha, 1, status="in_clearance")
    xml = update.xml().replace(b'dataset="hazard_areas"', b'dataset="minefields"')

    from server.errors import Problem
    from server.intake.service import submission_arrives
    from server.projects.models import Project
    from server.submissions.service import Submitter

    with (
        pytest.raises(Problem) as refused,
        transaction(field.factories.runtime.session_factory) as session,
    ):
        project = session.get(Project, field.project.id)
        assert project is not None
        submission_arrives(session, project, xml, submitter=Submitter())
    assert refused.value.code == "entity.undeclared_list"
    assert "'minefields'" in refused.value.detail and "'hazard_areas'" in refused.value.detail
    with field.factories.session() as session:
        assert (
            session.scalars(
                select(EntityInbox).where(EntityInbox.update_id == update.instance_id)
            ).first()
            is None
        )
        assert find_list(session, field.project.id, "minefields") is None
    assert field.entity(ha).current_version == 1
