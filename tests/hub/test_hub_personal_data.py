"""A field hub that had a survivor's record: after the person withdraws consent at the centre,
the hub's next sync takes the record off the hub, and its tablets' next refresh off them. The
survivor forms reach only the hub's tablets they are assigned to."""

from __future__ import annotations

import csv
import io
import uuid

import requests

from server.accounts.models import Role
from tests.conftest import LiveServer
from tests.entities.conftest import Field
from tests.hub.test_hub_e2e import Hub, Tablet, fieldsync, laptop

__all__ = ["laptop"]


def survivors(tablet: Tablet) -> dict[str, dict[str, str]]:
    manifest = tablet.http.get(f"{tablet.base}/forms/survivor_followup/manifest", timeout=10)
    assert manifest.status_code == 200, manifest.text
    entry = manifest.text.split("<filename>survivors.csv</filename>")[1]
    url = entry.split("<downloadUrl>")[1].split("</downloadUrl>")[0]
    data = tablet.http.get(url.replace("&amp;", "&"), timeout=30)
    assert data.status_code == 200, data.text
    return {r["name"]: r for r in csv.DictReader(io.StringIO(data.text))}


def test_a_withdrawal_at_the_centre_reaches_the_hub_and_its_tablets(
    field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    person, other = str(uuid.uuid4()), str(uuid.uuid4())
    for code, survivor in (("SV-0101", person), ("SV-0102", other)):
        field.receive(
            field.fill(
                "survivor_needs_assessment",
                entity_id=survivor,
                create=True,
                label=f"{code} Pek, Xiengkhuang",
                values={
                    "survivor_code": code,
                    "consent_followup": "yes",
                    "consent_sharing": "yes",
                    "sex": "male",
                    "demographics/pii_full_name": "Bounmy S.",
                },
            )
        )
    assert fieldsync(laptop.home, "pull").returncode == 0
    laptop.start()
    added = fieldsync(
        laptop.home,
        "hub",
        "add-device",
        "VA tablet",
        "--url",
        laptop.url,
        "--form",
        "survivor_needs_assessment",
        "--form",
        "survivor_followup",
    )
    assert added.returncode == 0, added.stderr
    va = Tablet(added.stdout.strip().splitlines()[-1])
    clearance = laptop.add_device("clearance tablet")
    assert "survivor_followup" in va.form_ids()
    assert "survivor_followup" not in clearance.form_ids()
    assert "hazard_report" in clearance.form_ids()
    before = survivors(va)
    assert set(before) == {person, other}
    assert "sex" not in before[person] and "Bounmy" not in str(before)

    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    withdrawn = requests.post(
        f"{live_server.url}/api/v1/projects/{field.project.id}/entity-lists/survivors/"
        f"entities/{person}/consent-withdrawal",
        headers=coordinator.headers,
        timeout=10,
    )
    assert withdrawn.status_code == 201
    assert set(survivors(va)) == {person, other}, "the hub is offline until it syncs"
    synced = fieldsync(laptop.home, "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert set(survivors(va)) == {other}
