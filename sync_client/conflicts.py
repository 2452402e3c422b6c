"""``fieldsync conflicts``: the open conflicts of a project, from the server when it answers and
from the last pull otherwise, and coordinators' resolutions queued for the next push.

The server side (``GET /api/v1/projects/<id>/conflicts`` and
``POST /api/v1/projects/<id>/conflicts/<conflict_id>/resolution``) belongs to the entities API.
"""

from __future__ import annotations

import json
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


def describe(conflict: dict[str, Any]) -> str:
    """One line per conflict: id, record, property, the value now and the competing ones."""
    cid = conflict.get("id", conflict.get("conflict_id", "?"))
    record = "/".join(str(conflict[k]) for k in ("list", "entity", "uuid") if conflict.get(k))
    label = f" ({conflict['entity_label']})" if conflict.get("entity_label") else ""
    prop = conflict.get("property")
    parts = [f"{cid}", f"{record}{label}", str(conflict.get("kind") or "")]
    if prop:
        parts.append(f"property {prop}: now {conflict.get('current_value')!r}")
    incoming = conflict.get("incoming")
    if isinstance(incoming, list) and incoming:
        offered = [repr(v.get("value", v.get("values"))) for v in incoming if isinstance(v, dict)]
        parts.append("sent: " + " | ".join(offered))
    return "  ".join(p for p in parts if p)


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
    """Queue a resolution for the next push.

    Raises:
        UsageError: no reason, no values, or a resolution was already sent.
    """
    if not reason.strip():
        raise UsageError("a resolution needs --reason: say why these values are right")
    return outbox.queue_resolution(store, project_id, conflict_id, values, reason.strip(), reopen)
