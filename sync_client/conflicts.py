"""``fieldsync conflicts``: the open conflicts of a project, from the server when it answers and
from the last pull otherwise, and coordinators' resolutions queued for the next push.

The server side (``GET /api/v1/projects/<id>/conflicts`` and
``POST /api/v1/projects/<id>/conflicts/<conflict_id>/resolution``) belongs to the entities API.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from sync_client import outbox
from sync_client.errors import UsageError
from sync_client.http import Api, ApiProblem
from sync_client.store import Store


@dataclass
class ConflictList:
    conflicts: list[dict[str, Any]]
    from_server: bool
    note: str = ""


def list_path(project_id: int) -> str:
    return f"/api/v1/projects/{project_id}/conflicts"


def fetch_open(api: Api, project_id: int, include_soft: bool = False) -> list[dict[str, Any]]:
    """Open conflicts as the server lists them (soft ones, which need no review, on request).

    Raises:
        ApiProblem: 404 when the server does not offer the conflicts API.
        FieldsyncError: offline, auth or server failures.
    """
    params = {"status": "open", **({"soft": "1"} if include_soft else {})}
    answer = api.json("GET", list_path(project_id), params=params)
    items = answer.get("conflicts", answer.get("items")) if isinstance(answer, dict) else answer
    if not isinstance(items, list):
        return []
    return [c for c in items if isinstance(c, dict) and conflict_status(c) == "open"]


def conflict_status(conflict: dict[str, Any]) -> str:
    return str(conflict.get("status") or conflict.get("state") or "open")


def fetch_one(api: Api, project_id: int, conflict_id: str) -> dict[str, Any]:
    """One conflict as the server shows it. Raises: FieldsyncError (ApiProblem 404)."""
    answer = api.json("GET", f"{list_path(project_id)}/{conflict_id}")
    return answer if isinstance(answer, dict) else {}


_SOURCE = re.compile(r"^submission (?P<instance>\S+) \((?P<who>.*?)(?:, device (?P<device>.*))?\)$")


@dataclass(frozen=True)
class Sender:
    """Who sent a value, as the server records it: the account, the device, the submission."""

    who: str
    device: str
    instance_id: str


def sender(source: Any) -> Sender:
    match = _SOURCE.match(str(source or ""))
    if match is None:
        return Sender(str(source or "unknown"), "", "")
    return Sender(match.group("who"), match.group("device") or "", match.group("instance"))


def _day(stamp: Any) -> str:
    """An ISO timestamp to the minute (dates of information are days already)."""
    text = str(stamp or "")
    return text[:16].replace("T", " ") if "T" in text else text


def describe_value(value: dict[str, Any]) -> str:
    """``'medium' from app user 3 on device collect:X, information of 2026-11-12, received
    2026-11-13 08:10``"""
    who = sender(value.get("source"))
    shown = repr(value.get("value", value.get("values")))
    parts = [f"{shown} from {who.who}"]
    if who.device:
        parts[0] += f" on device {who.device}"
    if value.get("date_of_information"):
        parts.append(f"information of {value['date_of_information']}")
    if value.get("received_at"):
        parts.append(f"received {_day(value['received_at'])}")
    return ", ".join(parts)


def describe(conflict: dict[str, Any]) -> str:
    """A conflict in a few lines: id, record, kind and property with its base and current
    values, then one line per competing value (who sent it, from which device, when)."""
    cid = conflict.get("id", conflict.get("conflict_id", "?"))
    record = "/".join(str(conflict[k]) for k in ("list", "entity", "uuid") if conflict.get(k))
    label = f" ({conflict['entity_label']})" if conflict.get("entity_label") else ""
    prop = conflict.get("property")
    parts = [f"{cid}", f"{record}{label}", str(conflict.get("kind") or "")]
    if prop:
        base = conflict.get("base_value")
        parts.append(
            f"property {prop}: base {base!r}, now {conflict.get('current_value')!r}"
            if "base_value" in conflict
            else f"property {prop}: now {conflict.get('current_value')!r}"
        )
    lines = ["  ".join(p for p in parts if p)]
    incoming = conflict.get("incoming")
    if isinstance(incoming, list):
        lines.extend(f"    sent {describe_value(v)}" for v in incoming if isinstance(v, dict))
    return "\n".join(lines)


def fetch_versions(api: Api, project_id: int, list_name: str, uuid: str) -> list[dict[str, Any]]:
    """An entity's versions, oldest first. Raises: FieldsyncError (ApiProblem 404)."""
    answer = api.json(
        "GET", f"/api/v1/projects/{project_id}/entity-lists/{list_name}/entities/{uuid}/versions"
    )
    return [v for v in answer if isinstance(v, dict)] if isinstance(answer, list) else []


def story(conflict: dict[str, Any], versions: list[dict[str, Any]]) -> list[str]:
    """``fieldsync conflicts show``: the conflict, every value sent, and the record's versions
    (what each report sent, who sent it, its date of information, what was decided)."""
    cid = conflict.get("id", "?")
    record = f"{conflict.get('list')}/{conflict.get('entity')}"
    label = f" ({conflict['entity_label']})" if conflict.get("entity_label") else ""
    lines = [
        f"conflict {cid} ({conflict.get('kind')}) on {record}{label}",
        f"status:     {conflict.get('status')}"
        + ("" if conflict.get("requires_review", True) else " (soft: no review needed)"),
        f"opened:     {_day(conflict.get('opened_at'))} in version "
        f"{conflict.get('opened_in_version')}",
    ]
    if conflict.get("property"):
        lines.append(f"property:   {conflict['property']}")
        lines.append(f"base value: {conflict.get('base_value')!r} (what the reports started from)")
        lines.append(f"now:        {conflict.get('current_value')!r}")
    if conflict.get("provisional_value") is not None:
        lines.append(f"provisional: {conflict['provisional_value']!r} (kept until resolved)")
    if conflict.get("reason"):
        lines.append(f"why:        {conflict['reason']}")
    incoming = [v for v in conflict.get("incoming") or [] if isinstance(v, dict)]
    if incoming:
        lines.append("values sent:")
        for value in incoming:
            lines.append(f"  {describe_value(value)}")
            if value.get("submission_instance_id"):
                lines.append(f"    report {value['submission_instance_id']}")
    if versions:
        lines.append("versions:")
        for version in versions:
            who = sender(version.get("source"))
            sent = version.get("sent") or {}
            values = ", ".join(f"{k}={v!r}" for k, v in sent.items()) or "no values"
            head = (
                f"  v{version.get('version')} {_day(version.get('created_at'))} "
                f"{version.get('kind')} by {who.who}"
                + (f" on device {who.device}" if who.device else "")
            )
            lines.append(head)
            lines.append(f"    sent {values}")
            detail = []
            if version.get("date_of_information"):
                detail.append(f"information of {version['date_of_information']}")
            if who.instance_id:
                detail.append(f"report {who.instance_id}")
            if version.get("reason"):
                detail.append(f"reason {version['reason']!r}")
            if version.get("conflicts_opened"):
                detail.append(f"opened {', '.join(map(str, version['conflicts_opened']))}")
            if version.get("conflicts_closed"):
                detail.append(f"closed {', '.join(map(str, version['conflicts_closed']))}")
            if detail:
                lines.append("    " + "; ".join(detail))
    resolution = conflict.get("resolution")
    if resolution:
        lines.append(f"resolution: {json.dumps(resolution, ensure_ascii=False, sort_keys=True)}")
    return lines


def local_open_kinds(store: Store, project_id: int | None) -> dict[str, int]:
    """How many open conflicts of each kind (hard, soft...) the last pull brought."""
    kinds: dict[str, int] = {}
    for conflict in local_open(store, project_id):
        kind = str(conflict.get("kind") or "hard")
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def local_open(store: Store, project_id: int | None) -> list[dict[str, Any]]:
    """Open conflicts known from the last pull."""
    rows = store.conn.execute(
        "SELECT conflict_id, data FROM conflicts WHERE project_id = ? AND state = 'open' "
        "ORDER BY conflict_id",
        (project_id,),
    ).fetchall()
    result = []
    for conflict_id, data in rows:
        item = json.loads(data or "{}")
        item.setdefault("id", conflict_id)
        result.append(item)
    return result


def list_conflicts(
    store: Store, api: Api, project_id: int, include_soft: bool = False
) -> ConflictList:
    """Ask the server; if it has no conflicts API, fall back to the last pull's copy.

    Raises:
        FieldsyncError: offline, auth or server failures other than a missing API.
    """
    try:
        return ConflictList(fetch_open(api, project_id, include_soft), from_server=True)
    except ApiProblem as problem:
        if problem.status != 404:
            raise
        known = local_open(store, project_id)
        if not include_soft:
            known = [c for c in known if c.get("kind") != "soft"]
        return ConflictList(
            known,
            from_server=False,
            note=(
                "the server does not offer the conflicts API (404 on "
                f"{list_path(project_id)}); showing the conflicts known from the last pull"
            ),
        )


def parse_values(pairs: tuple[str, ...]) -> dict[str, str]:
    """``prop=value`` options as a dict. Values stay text: entity properties are strings, as in
    ODK, so ``007`` keeps its zeros.

    Raises:
        UsageError: a pair has no ``=`` or an empty property name.
    """
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--value {pair!r} must look like property=value")
        values[name.strip()] = raw
    return values


def queue(
    store: Store,
    project_id: int,
    conflict_id: str,
    values: dict[str, Any],
    reason: str,
    reopen: bool = False,
) -> str:
    """Queue a resolution for the next push, after checking it against the last pull: the
    conflict is known and open, and each property is one the record's list has. The reason's
    length is checked last, so the first real problem is the one reported.

    Raises:
        UsageError: unknown or closed conflict, unknown property, short reason, or a
            resolution was already sent.
    """
    known = local_conflict(store, project_id, conflict_id)
    if known is None:
        open_ids = [str(c.get("id")) for c in local_open(store, project_id)]
        seen = f"open ones: {', '.join(open_ids)}" if open_ids else "it knows of no open conflict"
        raise UsageError(
            f"there is no conflict {conflict_id} in the last pull ({seen}); "
            "`fieldsync conflicts` lists them, `fieldsync pull` brings new ones"
        )
    state, data = known
    if state != "open":
        raise UsageError(f"conflict {conflict_id} is {state} already; there is nothing to resolve")
    list_name = str(data.get("list") or "")
    properties = list_properties(store, project_id, list_name)
    unknown = sorted(set(values) - properties - {"label"})
    if unknown and properties:
        raise UsageError(
            f"list {list_name!r} has no property {', '.join(map(repr, unknown))}; its "
            f"properties are {', '.join(sorted(properties))}"
        )
    if len(reason.strip()) < 3:
        raise UsageError("a resolution needs --reason (3 characters at least): say why")
    return outbox.queue_resolution(store, project_id, conflict_id, values, reason.strip(), reopen)


def local_conflict(
    store: Store, project_id: int, conflict_id: str
) -> tuple[str, dict[str, Any]] | None:
    """(state, data) of a conflict as the last pull left it, or None."""
    row = store.conn.execute(
        "SELECT state, data FROM conflicts WHERE project_id = ? AND conflict_id = ?",
        (project_id, conflict_id),
    ).fetchone()
    return None if row is None else (str(row[0]), json.loads(row[1] or "{}"))


def list_properties(store: Store, project_id: int, list_name: str) -> set[str]:
    """The properties of an entity list known from the last pull: the columns of its CSV and
    the values of its records (empty when nothing of it was pulled)."""
    found: set[str] = set()
    row = store.conn.execute(
        "SELECT sha256 FROM media WHERE project_id = ? AND is_entity_list = 1 AND name = ? "
        "ORDER BY updated_at DESC LIMIT 1",
        (project_id, f"{list_name}.csv"),
    ).fetchone()
    if row is not None:
        try:
            with store.open_blob(str(row[0])) as stream:
                header = stream.readline().decode("utf-8-sig", errors="replace")
        except OSError:
            header = ""
        columns = next(csv.reader(io.StringIO(header)), [])
        found.update(c for c in columns if c not in ("name", "label") and not c.startswith("__"))
    for (data,) in store.conn.execute(
        "SELECT data FROM entities WHERE project_id = ? AND list_name = ?",
        (project_id, list_name),
    ):
        values = json.loads(data or "{}")
        if isinstance(values, dict):
            found.update(str(k) for k in values)
    return found
