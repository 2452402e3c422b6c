"""Two field hubs that never reach the centre: each collects reports from its own tablets on the
same hazard area, the two laptops sync with each other, and both show the same records and
conflicts; later each pushes to the centre (in either order), whose state then equals theirs,
with no submission stored twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server import hub as server_hub
from server.accounts.models import Role
from server.entities.models import Entity, EntityConflict, EntityList
from server.submissions.models import Submission, SubmissionVersion
from tests.conftest import LiveServer
from tests.entities.conftest import Field
from tests.entities.test_entity_service import clearance, new_area
from tests.factories import DEFAULT_PASSWORD
from tests.hub.test_hub_e2e import Hub, _plain, fieldsync

State = tuple[dict[str, dict[str, Any]], set[tuple[Any, ...]]]


def pull_fully(home: Path, field: Field, entities: int) -> None:
    """Pull until the laptop holds every form and ``entities`` records. On PostgreSQL the change
    feed holds rows back while any older transaction on the database server runs (ADR 0004),
    and other work may share the server: a later pull brings them."""
    import sqlite3
    import time

    for _attempt in range(30):
        pulled = fieldsync(home, "pull")
        assert pulled.returncode == 0, pulled.stderr
        with sqlite3.connect(home / "store.sqlite3") as conn:
            forms = conn.execute(
                "SELECT COUNT(DISTINCT form_id) FROM form_versions WHERE xml IS NOT NULL"
            ).fetchone()[0]
            held = conn.execute("SELECT COUNT(*) FROM entities").fetchone()[0]
        if forms >= len(field.forms) and held >= entities:
            return
        time.sleep(1)
    raise AssertionError(f"the pull never brought every form and record ({forms}, {held})")


def _login(home: Path, url: str, email: str, project_id: int) -> None:
    done = fieldsync(
        home,
        "login",
        url,
        "--email",
        email,
        "--project",
        str(project_id),
        stdin=DEFAULT_PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def laptops(field: Field, live_server: LiveServer, tmp_path: Path) -> Iterator[tuple[Hub, Hub]]:
    for email in ("north@example.org", "south@example.org"):
        field.factories.user(field.project, Role.COORDINATOR, email=email)
    north, south = Hub(tmp_path / "north"), Hub(tmp_path / "south")
    _login(north.home, live_server.url, "north@example.org", field.project.id)
    _login(south.home, live_server.url, "south@example.org", field.project.id)
    yield north, south
    north.stop()
    south.stop()


def _state(session: Any, project_id: int | None = None) -> State:
    """Every record's values and every open conflict, in terms both servers share."""
    query = select(Entity, EntityList.name).join(EntityList, EntityList.id == Entity.list_id)
    if project_id is not None:
        query = query.where(EntityList.project_id == project_id)
    records: dict[str, dict[str, Any]] = {}
    conflicts: set[tuple[Any, ...]] = set()
    by_id: dict[int, str] = {}
    for entity, list_name in session.execute(query):
        records[f"{list_name}/{entity.uuid}"] = dict(entity.values)
        by_id[entity.id] = entity.uuid
    for conflict in session.scalars(select(EntityConflict).where(EntityConflict.status == "open")):
        if conflict.entity_id not in by_id:
            continue
        competing = sorted(
            str(v.get("value")) for v in conflict.details.get("values") or [] if isinstance(v, dict)
        )
        conflicts.add(
            (
                by_id[conflict.entity_id],
                conflict.kind,
                conflict.property_name,
                conflict.requires_review,
                str(conflict.details.get("provisional_value")),
                tuple(competing),
            )
        )
    return records, conflicts


def hub_state(hub: Hub) -> State:
    runtime = server_hub.open_runtime(hub.home / "hub")
    try:
        with server_hub.reading(runtime) as session:
            return _state(session)
    finally:
        server_hub.close_runtime(runtime)


def centre_state(field: Field) -> State:
    with field.factories.session() as session:
        return _state(session, field.project.id)


def centre_submissions(field: Field) -> tuple[int, list[str]]:
    with field.factories.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Submission)) or 0,
            sorted(session.scalars(select(SubmissionVersion.instance_id))),
        )


@pytest.mark.parametrize("first", ["north", "south"])
def test_two_hubs_sync_laptop_to_laptop_then_the_centre_agrees(
    field: Field, live_server: LiveServer, laptops: tuple[Hub, Hub], first: str
) -> None:
    north, south = laptops
    known = str(uuid.uuid4())
    field.receive(new_area(field, known))
    for laptop in (north, south):
        pull_fully(laptop.home, field, entities=1)
        laptop.start()
    north_tablet = north.add_device("north team tablet")
    south_tablet = south.add_device("south team tablet")

    # From here on neither laptop reaches the centre. Both teams work on the same area.
    north_reports = [
        clearance(
            field,
            known,
            1,
            status="in_clearance",
            cleared_area_m2="2000",
            remaining_area_m2="10000",
            date="2026-11-21",
        ),
        new_area(field, str(uuid.uuid4()), ha_code="HA-0301", admin_area="Ban Na"),
        _plain(field, "eore_session"),
    ]
    south_reports = [
        clearance(
            field,
            known,
            1,
            status="in_clearance",
            cleared_area_m2="3500",
            remaining_area_m2="8500",
            date="2026-11-22",
        ),
        _plain(field, "eore_session"),
    ]
    for report in north_reports:
        assert north_tablet.submit(report) == 201
    for report in south_reports:
        assert south_tablet.submit(report) == 201
    assert hub_state(north) != hub_state(south)

    synced = fieldsync(north.home, "peer", "sync", south.url)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "sent 3 submissions (3 new to them)" in synced.stdout
    assert "2 submissions (2 queued for the centre" in synced.stdout

    # Both hubs hold the same records and the same conflicts.
    north_state, south_state = hub_state(north), hub_state(south)
    assert north_state == south_state
    records, conflicts = north_state
    assert f"hazard_areas/{known}" in records and len(records) == 2
    assert any(c[0] == known and c[2] == "cleared_area_m2" and c[3] for c in conflicts), conflicts
    # Each tablet, at its next download, sees the other team's new area.
    assert "HA-0301" in {r.get("ha_code") for r in south_tablet.hazard_areas().values()}

    # Syncing again changes nothing (both already hold everything).
    again = fieldsync(north.home, "peer", "sync", south.url)
    assert again.returncode == 0, again.stderr
    assert "(0 new to them)" in again.stdout and "0 queued for the centre" in again.stdout
    assert hub_state(north) == north_state and hub_state(south) == south_state

    # Later, with a link: both push everything, in either order; the centre stores each
    # report once and computes what the hubs showed.
    order = [north, south] if first == "north" else [south, north]
    for laptop in order:
        laptop.stop()
        pushed = fieldsync(laptop.home, "sync")
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    everything = sorted(r.instance_id for r in [*north_reports, *south_reports])
    count, ids = centre_submissions(field)
    assert count == len(everything) + 1  # and the area known before the trip
    assert sorted(set(ids) - {i for i in ids if i not in everything}) == everything
    assert len(ids) == len(set(ids))
    assert centre_state(field) == north_state

    # Provenance: which laptop carried what.
    with field.factories.session() as session:
        south_clearance = session.scalars(
            select(SubmissionVersion).where(
                SubmissionVersion.instance_id == south_reports[0].instance_id
            )
        ).one()
        hops = [h["hop"] for h in south_clearance.provenance]
    if first == "north":
        assert hops == ["device", "hub", "peer", "server"]
        assert south_clearance.provenance[2]["from"] == fieldsync_hub_id(south)
    else:
        assert hops == ["device", "hub", "server"]


def fieldsync_hub_id(hub: Hub) -> str:
    import json

    return str(json.loads((hub.home / "config.json").read_text())["hub_id"])


def test_a_laptop_whose_key_nobody_knows_is_refused_on_both_sides(
    field: Field, live_server: LiveServer, laptops: tuple[Hub, Hub], tmp_path: Path
) -> None:
    north, south = laptops
    for laptop in (north, south):
        pull_fully(laptop.home, field, entities=0)
    south.start()
    # A third laptop that never logged in: its key is on no list.
    stranger = tmp_path / "stranger"
    (stranger).mkdir()
    (stranger / "config.json").write_bytes((north.home / "config.json").read_bytes())
    assert fieldsync(stranger, "keys", "init").returncode == 0
    refused = fieldsync(stranger, "peer", "sync", south.url)
    assert refused.returncode == 9, refused.stdout + refused.stderr
    assert "does not know" in refused.stderr
    # Trusting the other laptop by hand is not enough: the hub refuses an unknown sender.
    key_file = tmp_path / "south.pub"
    key_file.write_text(fieldsync(south.home, "keys", "show", "--json").stdout)
    assert fieldsync(stranger, "keys", "trust", str(key_file)).returncode == 0
    refused = fieldsync(stranger, "peer", "sync", south.url)
    assert refused.returncode == 9
    assert "the other laptop refused this laptop's bundle" in refused.stderr
    assert "does not know" in refused.stderr


def test_a_bundle_carries_the_centres_forms_and_lists_to_a_laptop_in_the_field(
    field: Field, live_server: LiveServer, laptops: tuple[Hub, Hub], tmp_path: Path
) -> None:
    import json

    town, _south = laptops
    known = str(uuid.uuid4())
    field.receive(new_area(field, known, ha_code="HA-0777"))
    pull_fully(town.home, field, entities=1)
    # A laptop already in the field, that never pulled: it trusts the town laptop by hand.
    remote = Hub(tmp_path / "remote")
    remote.home.mkdir()
    (remote.home / "config.json").write_text(
        json.dumps(
            {
                "server_url": live_server.url,
                "project_id": field.project.id,
                "project_name": field.project.name,
                "hub_id": "remote-laptop",
            }
        )
    )
    assert fieldsync(remote.home, "keys", "init").returncode == 0
    remote_key, town_key = tmp_path / "remote.pub", tmp_path / "town.pub"
    remote_key.write_text(fieldsync(remote.home, "keys", "show", "--json").stdout)
    town_key.write_text(fieldsync(town.home, "keys", "show", "--json").stdout)
    assert fieldsync(remote.home, "keys", "trust", str(town_key)).returncode == 0

    bundle = tmp_path / "to-the-field.fsb"
    exported = fieldsync(
        town.home,
        "bundle",
        "export",
        "--to",
        str(remote_key),
        "--centre-state",
        "--out",
        str(bundle),
    )
    assert exported.returncode == 0, exported.stderr
    assert "with the centre's forms and lists" in exported.stdout
    # Not for anyone else: the other coordinator's laptop cannot open it.
    other = fieldsync(_south.home, "bundle", "import", str(bundle))
    assert other.returncode == 9 and "not for this one" in other.stderr, other.stderr

    imported = fieldsync(remote.home, "bundle", "import", str(bundle))
    assert imported.returncode == 0, imported.stderr
    assert "centre records taken" in imported.stdout
    remote.start()
    try:
        tablet = remote.add_device("remote tablet")
        assert {"hazard_report", "clearance_report"} <= tablet.form_ids()
        assert tablet.hazard_areas()[known]["ha_code"] == "HA-0777"
    finally:
        remote.stop()
