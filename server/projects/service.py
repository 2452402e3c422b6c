"""Project operations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server.audit import service as audit
from server.projects.models import Project

DEFAULT_PROJECT_NAME = "Default project"


def create_project(
    session: Session, name: str, description: str = "", actor_user_id: int | None = None
) -> Project:
    """Create a project.

    Raises:
        Problem: 409 when the name is taken.
    """
    project = Project(name=name.strip(), description=description)
    try:
        with session.begin_nested():
            session.add(project)
            session.flush()
    except IntegrityError:
        raise errors.project_exists(name) from None
    audit.record(
        session,
        "project.create",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="project",
        target_id=project.id,
    )
    return project


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise errors.not_found("Project", f"there is no project {project_id}")
    return project


def first_project(session: Session) -> Project | None:
    """The oldest project: the one commands use when none is named."""
    return session.scalars(select(Project).order_by(Project.id).limit(1)).first()


def list_projects(session: Session, ids: list[int] | None) -> list[Project]:
    stmt = select(Project).order_by(Project.id)
    if ids is not None:
        stmt = stmt.where(Project.id.in_(ids))
    return list(session.scalars(stmt))
