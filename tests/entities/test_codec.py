"""The stored JSON of the entity step: an inbox entry's payload and a field hub's context keep
the format rows already hold (the backlog API shows it), and malformed hub contexts are
ignored rather than trusted."""

from __future__ import annotations

import pytest

from server.entities.codec import HubContext, InboxPayload

STORED_KEYS = [
    "create",
    "update",
    "label",
    "values",
    "base_version",
    "trunk_version",
    "branch_id",
    "date_of_information",
    "reason",
    "source",
    "replaces_update",
    "problems",
]


def test_a_device_payload_keeps_the_stored_keys_and_round_trips() -> None:
    payload = InboxPayload(
        update=True,
        label="HA-0145",
        values={"status": "in_clearance"},
        base_version=3,
        trunk_version=2,
        branch_id="b-1",
        date_of_information="2026-11-20",
        source="submission uuid:1 (app user 4)",
        replaces_update="uuid:0",
        problems=("estimated_area_m2 'x' is not a number",),
    )
    data = payload.to_json()
    assert list(data) == STORED_KEYS
    assert data["problems"] == ["estimated_area_m2 'x' is not a number"]
    assert InboxPayload.from_json(data) == payload


def test_a_forwarded_report_and_a_hub_record_add_their_keys() -> None:
    forwarded = InboxPayload(create=True, hub=HubContext(4, ("uuid:a", "uuid:b")))
    data = forwarded.to_json()
    assert list(data) == [*STORED_KEYS, "hub_trunk_version", "hub_seen_updates", "hub_context"]
    assert (data["hub_trunk_version"], data["hub_seen_updates"], data["hub_context"]) == (
        4,
        ["uuid:a", "uuid:b"],
        True,
    )
    assert InboxPayload.from_json(data) == forwarded

    on_hub = InboxPayload(update=True, on_hub=True, export_context=None)
    assert on_hub.to_json()["export_context"] is None
    assert InboxPayload.from_json(on_hub.to_json()) == on_hub
    exported = InboxPayload(on_hub=True, export_context=HubContext(None, ("uuid:c",)))
    assert exported.to_json()["export_context"] == {
        "trunk_version": None,
        "seen_updates": ["uuid:c"],
    }
    assert InboxPayload.from_json(exported.to_json()) == exported


def test_a_row_written_before_a_key_existed_still_reads() -> None:
    payload = InboxPayload.from_json({"update": True, "values": {"priority": "low"}})
    assert payload.update and not payload.create
    assert payload.values == {"priority": "low"}
    assert payload.hub is None and not payload.on_hub and payload.problems == ()


@pytest.mark.parametrize(
    "sent",
    [None, {}, [], "4", {"trunk_version": "4"}, {"seen_updates": "uuid:a"}],
)
def test_a_malformed_hub_context_is_ignored(sent: object) -> None:
    assert HubContext.from_json(sent) is None


def test_a_hub_context_reads_its_updates_as_strings() -> None:
    assert HubContext.from_json({"trunk_version": 2, "seen_updates": [7]}) == HubContext(2, ("7",))
    assert HubContext.from_json({"seen_updates": ["uuid:a"]}) == HubContext(None, ("uuid:a",))
