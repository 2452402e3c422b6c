"""A field hub adopting the centre's entity list: an entity the centre deleted (through
Central's API) leaves the hub too, unless the hub holds reports of it the centre has not seen."""

from __future__ import annotations

from sqlalchemy import select

from server.db import transaction
from server.entities.hub import adopt_entity_list
from server.entities.models import Entity
from tests.factories import Factories

NORTH = "0c4e1a3b-0000-4000-8000-000000000001"
SOUTH = "0c4e1a3b-0000-4000-8000-000000000002"


def csv_of(*rows: tuple[str, str, int]) -> str:
    return "name,label,__version,status\n" + "".join(
        f"{uuid},{label},{version},suspected\n" for uuid, label, version in rows
    )


def test_an_entity_missing_from_the_centres_list_is_deleted_on_the_hub(
    factories: Factories,
) -> None:
    project = factories.project("Hub")
    factory = factories.runtime.session_factory
    with transaction(factory) as session:
        report = adopt_entity_list(
            session,
            project.id,
            "hazard_areas",
            csv_of((NORTH, "North", 1), (SOUTH, "South", 2)),
            set(),
        )
    assert report.adopted == 2
    with transaction(factory) as session:
        adopt_entity_list(session, project.id, "hazard_areas", csv_of((SOUTH, "South", 2)), set())
    with factories.session() as session:
        deleted = dict(session.execute(select(Entity.uuid, Entity.deleted_at)).all())
    assert deleted[NORTH] is not None
    assert deleted[SOUTH] is None
