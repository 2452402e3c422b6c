"""The entity list a creation reads is kept between requests (``server.config_cache``), and is
never out of date: a list changed by plain SQL, as another server process or host would change
it, is seen by the very next report."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text

from server.entities.models import Entity, EntityList
from tests.entities.conftest import Field
from tests.entities.test_entity_service import new_area


def _entities(field: Field) -> int:
    with field.factories.session() as session:
        return int(session.scalar(select(func.count()).select_from(Entity)) or 0)


def test_approval_switched_on_with_plain_sql_holds_the_next_creation(field: Field) -> None:
    first = new_area(field, str(uuid.uuid4()))
    field.receive(first)  # the list is now kept
    field.receive(new_area(field, str(uuid.uuid4())))  # and read from what is kept
    assert _entities(field) == 2
    engine = field.factories.runtime.engine
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE entity_lists SET approval_required = true WHERE name = 'hazard_areas'")
        )
    held = new_area(field, str(uuid.uuid4()))
    field.receive(held)
    assert field.inbox(held.instance_id).status == "awaiting_approval"
    assert _entities(field) == 2


def test_a_property_the_list_lost_is_added_back_by_the_next_creation(field: Field) -> None:
    field.receive(new_area(field, str(uuid.uuid4())))
    engine = field.factories.runtime.engine
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE entity_lists SET properties = '[\"ha_code\"]' WHERE name = 'hazard_areas'")
        )
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    with field.factories.session() as session:
        properties = session.scalars(
            select(EntityList.properties).where(EntityList.name == "hazard_areas")
        ).one()
    assert "priority" in properties and "ha_code" in properties
    assert field.entity(ha).values["priority"] == "high"
