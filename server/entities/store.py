"""The entity store: a project's entity lists (created when a form that saves to them is
published), their merge policies, and reading one entity with its versions under its lock."""

from __future__ import annotations

import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.config_cache import config_cache
from server.entities.models import Entity, EntityList, EntityVersion
from server.entities.policies import EntityPolicies, ListPolicy, load_policies
from server.settings import BUNDLED_FORMS_DIR, Settings


@lru_cache(maxsize=8)
def _policies_at(path: str, mtime: float) -> EntityPolicies:
    return load_policies(path)


def policies(session: Session) -> EntityPolicies:
    """The declared merge policies (reloaded when the file changes)."""
    settings: Settings | None = session.info.get("settings")
    path = Path(
        settings.entity_policies_path if settings else BUNDLED_FORMS_DIR / "entity_policies.toml"
    )
    return _policies_at(str(path), path.stat().st_mtime)


def list_policy(session: Session, entity_list: EntityList) -> ListPolicy:
    return policies(session).for_list(entity_list.name, entity_list.properties)


def find_list(session: Session, project_id: int, name: str) -> EntityList | None:
    return session.scalars(
        select(EntityList).where(EntityList.project_id == project_id, EntityList.name == name)
    ).first()


def known_list(
    session: Session, project_id: int, name: str, properties: list[str]
) -> EntityList | None:
    """A copy of the project's list, kept between requests (``server.config_cache``), when it
    exists and already has every one of ``properties``; None otherwise (the caller takes
    :func:`ensure_list`). The copy is not in the session: read it, never change it."""
    cache = config_cache(session)
    if cache is None:
        return None
    key = {"project_id": project_id, "name": name}
    kept = cache.get(
        session, ("entity_list", project_id, name), lambda: session.scalars(_LIST, key).first()
    )
    if kept is None or not set(properties) <= set(kept.properties):
        return None
    return kept


def ensure_list(
    session: Session, project_id: int, name: str, properties: list[str] | None = None
) -> EntityList:
    """Get or create a project's entity list, adding properties a form declares."""
    key = {"project_id": project_id, "name": name}
    entity_list = session.scalars(_LIST, key).first()
    if entity_list is None:
        try:
            with session.begin_nested():
                entity_list = EntityList(project_id=project_id, name=name, properties=[])
                session.add(entity_list)
                session.flush()
        except IntegrityError:
            entity_list = session.scalars(_LIST, key).one()
    new = [p for p in properties or [] if p not in entity_list.properties]
    if new:
        entity_list.properties = [*entity_list.properties, *new]
    return entity_list


# Built once: every report with an entity block looks its list up.
_LIST = select(EntityList).where(
    EntityList.project_id == bindparam("project_id"), EntityList.name == bindparam("name")
)
_LOCK = text("SELECT pg_advisory_xact_lock(:ns, :key)")


def register_form_version(session: Session, project_id: int, spec: dict[str, Any]) -> None:
    """Called when a form is published: its entity list exists from then on."""
    if spec and spec.get("dataset"):
        names = [str(p["name"]) for p in spec.get("properties", [])]
        entity_list = ensure_list(session, project_id, str(spec["dataset"]), names)
        # Saved from a personal field in any version: personal from then on (server.personal).
        personal = [
            str(p["name"])
            for p in spec.get("properties", [])
            if p.get("personal") and p["name"] not in entity_list.personal_properties
        ]
        if personal:
            entity_list.personal_properties = [*entity_list.personal_properties, *personal]


def lock_entity(session: Session, project_id: int, list_name: str, uuid: str) -> None:
    """Serialise work on one entity across server processes (PostgreSQL); SQLite already
    serialises every writer. The lock is taken before the "already applied?" check."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"{project_id}:{list_name}:{uuid}".encode()) - 2**31
        session.connection().execute(_LOCK, {"ns": 7010, "key": key})


def find_entity(session: Session, entity_list: EntityList, uuid: str) -> Entity | None:
    return session.scalars(
        select(Entity).where(Entity.list_id == entity_list.id, Entity.uuid == uuid)
    ).first()


def versions_of(session: Session, entity: Entity) -> list[EntityVersion]:
    """Every version of the entity, oldest first."""
    return list(
        session.scalars(
            select(EntityVersion)
            .where(EntityVersion.entity_id == entity.id)
            .order_by(EntityVersion.version)
        )
    )
