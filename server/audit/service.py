"""Writing to the audit log, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server.audit.models import AuditEntry


def record(
    session: Session,
    action: str,
    *,
    project_id: int | None = None,
    user_id: int | None = None,
    app_user_id: int | None = None,
    target_type: str = "",
    target_id: str | int = "",
    **details: Any,
) -> AuditEntry:
    """Append one entry; it commits or rolls back with the caller's change."""
    entry = AuditEntry(
        action=action,
        project_id=project_id,
        actor_user_id=user_id,
        actor_app_user_id=app_user_id,
        target_type=target_type,
        target_id=str(target_id),
        details=details,
    )
    session.add(entry)
    return entry
