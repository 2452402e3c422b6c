"""The Field hub page: on a laptop running ``fieldsync hub``, what the tablets sent, what waits
to go to the centre (and what the centre refused), the last exchange with the centre, the
records the hub changed that the centre has not confirmed yet, and the hub's devices.

The laptop's outbox is not the server's: the hub (``sync_client``) hands a callable to
``server.hub.install_laptop_state`` when it builds the app, and this page calls it. The server
itself never imports the sync client (docs/adr/0021-web-ui.md, "The field hub's page").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app

from server import errors
from server.accounts import service as accounts
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.entities import hub as entity_hub
from server.entities import personal
from server.entities.models import EntityList
from server.personal.guard import ListGuard
from server.submissions import records as submission_records
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.web import commit, db, runtime

log = logging.getLogger("fieldsync.ui")

# Where the hub's callable is kept on the Flask app (``app.extensions``).
LAPTOP_STATE = "fieldsync.hub_laptop_state"
# At most this many provisional changes are listed (the count is always whole).
CHANGES_SHOWN = 200


# --- what the laptop's outbox says (built by the sync client, read here) ------------------------


@dataclass(frozen=True)
class QueuedReport:
    """A tablet's report in the laptop's outbox that the centre has not acknowledged."""

    instance_id: str
    form_id: str
    received_at: datetime | None  # when the hub received it (its device hop)
    queued_at: datetime | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class RefusedItem:
    """An outbox item the centre refused, kept on the laptop with the centre's reason."""

    item_id: int
    kind: str  # submission | resolution
    key: str  # the instanceID, or the conflict a resolution resolves
    form_id: str
    state: str  # conflict | rejected
    code: str
    detail: str


@dataclass(frozen=True)
class CentreExchange:
    """The laptop's last exchanges with the centre (None: never)."""

    last_sync: datetime | None = None
    last_push: datetime | None = None
    last_pull: datetime | None = None
    last_attempt: datetime | None = None  # a push or sync started
    last_done: datetime | None = None  # a pull finished and the hub serves its result
    failed_at: datetime | None = None  # the hub's background sync failed
    failure: str = ""  # its one-line reason

    @property
    def outcome(self) -> str:
        """``ok`` (a push, pull or sync finished last), ``failed`` (the hub's background sync
        failed last), ``unfinished`` (a push or sync started after the last one that finished)
        or ``never``."""
        finished = [
            t
            for t in (self.last_done, self.last_pull, self.last_push, self.last_sync)
            if t is not None
        ]
        events = [*finished, *(t for t in (self.last_attempt, self.failed_at) if t is not None)]
        if not events:
            return "never"
        latest = max(events)
        if self.failed_at is not None and latest == self.failed_at:
            return "failed"
        if latest in finished:
            return "ok"
        return "unfinished"


@dataclass(frozen=True)
class LaptopState:
    """What the laptop's store says about the hub's reports."""

    centre_url: str
    collected_upto: int  # the hub's submission versions up to here are in the outbox
    queued: tuple[QueuedReport, ...] = ()
    refused: tuple[RefusedItem, ...] = ()
    resolutions_waiting: int = 0
    exchange: CentreExchange = field(default_factory=CentreExchange)


LaptopStateSource = Callable[[], LaptopState]


def laptop_state_source() -> LaptopStateSource | None:
    source: LaptopStateSource | None = current_app.extensions.get(LAPTOP_STATE)
    return source


# --- the page's figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """A report the centre does not have yet: on the hub only, or queued on the laptop."""

    instance_id: str
    form_id: str
    received_at: datetime | None
    where: str  # "hub": not collected into the outbox yet; "outbox": queued for the centre
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class FormWaiting:
    form_id: str
    count: int
    oldest: datetime | None


@dataclass(frozen=True)
class ChangeRow:
    list_name: str
    uuid: str
    record: str  # the label, or the uuid where the label may name a person
    version: int
    kind: str
    sent: dict[str, Any]
    hidden: int  # how many of the values sent are not shown to this caller
    report: str | None
    at: datetime


@dataclass
class HubView:
    laptop: LaptopState | None
    laptop_problem: str
    waiting: list[Waiting]
    per_form: list[FormWaiting]
    changes: list[ChangeRow]
    changes_total: int


def _oldest(moments: list[datetime | None]) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def waiting_reports(
    laptop: LaptopState | None, on_hub: list[submission_records.ReceivedVersion]
) -> list[Waiting]:
    """The reports not at the centre yet: the outbox's unacknowledged ones, then those the hub
    received after the last collect (each once, by instanceID), oldest first."""
    rows = [
        Waiting(
            q.instance_id,
            q.form_id,
            q.received_at or q.queued_at,
            "outbox",
            q.attempts,
            q.last_error,
        )
        for q in (laptop.queued if laptop else ())
    ]
    seen = {w.instance_id for w in rows}
    for version in on_hub:
        if version.instance_id not in seen:
            seen.add(version.instance_id)
            rows.append(Waiting(version.instance_id, version.form_id, version.received_at, "hub"))
    return sorted(rows, key=lambda w: (w.received_at is None, w.received_at or datetime.min))


def per_form(waiting: list[Waiting]) -> list[FormWaiting]:
    forms: dict[str, list[datetime | None]] = {}
    for w in waiting:
        forms.setdefault(w.form_id, []).append(w.received_at)
    return [FormWaiting(f, len(m), _oldest(m)) for f, m in sorted(forms.items())]


def _changes(project_id: int, audit: bool) -> tuple[list[ChangeRow], int]:
    """The provisional changes as the caller may see them (server.personal): records consent
    keeps from them left out, personal properties and the label of a list that has them only
    for a survivor caseworker, whose read is audited when ``audit`` (the page shows them)."""
    session = db()
    guards: dict[str, tuple[EntityList, ListGuard]] = {}
    rows: list[ChangeRow] = []
    read: list[tuple[str, str]] = []  # (list, uuid) shown with its personal values
    for change in entity_hub.provisional_changes(session, project_id):
        name = change.entity_list.name
        if name not in guards:
            guards[name] = (change.entity_list, personal.guard_for(session, change.entity_list))
        guard = guards[name][1]
        entity = change.entity
        if not guard.shown(entity.uuid, entity.values):
            continue
        values = dict(change.version.update.get("values") or {})
        body = personal.version_body(guard, entity.uuid, {"sent": values})
        shows_personal = guard.shows_personal(entity.uuid)
        # A list with personal properties may carry a person's name in its label.
        label_ok = not guard.personal or shows_personal
        sent = {k: v for k, v in body["sent"].items() if label_ok or k != "label"}
        if shows_personal and len(rows) < CHANGES_SHOWN:
            read.append((name, entity.uuid))
        rows.append(
            ChangeRow(
                name,
                entity.uuid,
                (entity.label if label_ok else "") or entity.uuid,
                change.version.version,
                change.version.kind,
                sent,
                len(values) - len(sent),
                change.report,
                change.version.created_at,
            )
        )
    if audit and read:
        for name, (entity_list, guard) in guards.items():
            uuids = [u for n, u in read if n == name]
            if uuids:
                personal.audit_reads(session, guard, entity_list, uuids)
        commit()
    return rows[:CHANGES_SHOWN], len(rows)


def hub_view(project_id: int, *, summary: bool = False) -> HubView:
    """Everything the page shows (``summary``: the home page's figures, no values read).

    Raises:
        Problem: 404 when this server is not a field hub.
    """
    if not runtime().settings.hub:
        raise errors.not_found("Page", "this server is not a field hub")
    laptop: LaptopState | None = None
    problem = ""
    source = laptop_state_source()
    if source is None:
        problem = "unavailable"
    else:
        try:
            laptop = source()
        except Exception:  # the page still shows what the hub itself knows
            log.exception("the laptop's outbox could not be read")
            problem = "unreadable"
    after = laptop.collected_upto if laptop is not None else 0
    on_hub = submission_records.received_after(db(), project_id, after)
    waiting = waiting_reports(laptop, on_hub)
    changes, total = _changes(project_id, audit=not summary)
    return HubView(laptop, problem, waiting, per_form(waiting), changes, total)


@blueprint.get("/projects/<int:project_id>/hub")
@requires(Role.VIEWER)
def hub(project_id: int) -> Any:
    view = hub_view(project_id)
    session = db()
    last_seen = submission_records.app_users_last_seen(session, project_id)
    return page(
        "hub.html",
        view=view,
        received=submission_records.received_by_device_and_form(session, project_id),
        devices=[
            (a, last_seen.get(a.id), accounts.app_user_usable(a))
            for a in accounts.list_app_users(session, project_id)
        ],
    )
