"""Permission checks for views, in one style: ``@requires(Role.X)`` above the view.

The decorator finds who is calling (the bearer token's user on the JSON API, the OpenRosa
caller the OpenRosa blueprint authenticated) and the project the route names (``project_id``
in the URL), and refuses before the view runs. Where the project only appears in the body
(a sync push), the view calls :func:`require` with it, which applies the same rule.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, TypeVar, cast

from flask import g

from server import errors
from server.accounts import service as accounts
from server.accounts.identity import current_user
from server.accounts.models import ROLE_RANK, Role
from server.web import db

F = TypeVar("F", bound=Callable[..., Any])


class Scope(enum.Enum):
    """What a requirement is checked against, besides one project's role."""

    SITE_ADMIN = "site_admin"  # site administrators only (creating users and projects)
    ANY_PROJECT = "any_project"  # the role in at least one project (blobs belong to none)


SITE_ADMIN = Scope.SITE_ADMIN
ANY_PROJECT = Scope.ANY_PROJECT


class OpenRosaCaller(Protocol):
    """What the OpenRosa blueprint's authentication leaves in ``g.caller``."""

    @property
    def app_user(self) -> object | None: ...

    @property
    def role(self) -> Role | None: ...


def allows(role: Role | None, minimum: Role) -> bool:
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def requires(
    minimum: Role | Scope, *, role: Role = Role.DATA_COLLECTOR, detail: str | None = None
) -> Callable[[F], F]:
    """Refuse the request unless the caller holds ``minimum`` in the route's project.

    ``minimum`` is a :class:`Role` (checked in the URL's ``project_id``), :data:`SITE_ADMIN`, or
    :data:`ANY_PROJECT` (``role`` in at least one project). ``detail`` replaces the default
    explanation of a 403. The caller's role in the project is then :func:`current_role`.

    Raises (from the wrapped view):
        Problem: 401 without a valid login; 404 for a project the caller has no role in; 403
            when the role is too weak.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if isinstance(minimum, Scope):
                _check_scope(minimum, role, detail)
            else:
                require(minimum, kwargs.get("project_id"), detail=detail)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def require(minimum: Role, project_id: int | None, *, detail: str | None = None) -> Role | None:
    """The check of :func:`requires` for a project the view has just read (e.g. from the body).

    On OpenRosa routes the caller is the one the blueprint authenticated: an app user (a
    device) may do what a data collector may.

    Raises:
        Problem: as :func:`requires`.
    """
    caller = cast(OpenRosaCaller | None, g.get("caller"))
    if caller is not None:
        allowed = caller.app_user is not None or allows(caller.role, minimum)
        if not allowed:
            raise errors.forbidden(detail or f"this needs the {minimum.value} role")
        g.project_role = caller.role
        return caller.role
    if project_id is None:
        raise RuntimeError("@requires(Role.X) needs a project_id in the route")
    try:
        found = accounts.require_role(db(), current_user(), project_id, minimum)
    except errors.Problem as exc:
        if detail and exc.code == errors.FORBIDDEN:
            raise errors.forbidden(detail) from None
        raise
    g.project_role = found
    return found


def current_role() -> Role | None:
    """The caller's role in the route's project, as the permission check found it."""
    return cast(Role | None, g.get("project_role"))


def _check_scope(scope: Scope, role: Role, detail: str | None) -> None:
    user = current_user()
    if scope is Scope.SITE_ADMIN:
        if not user.is_site_admin:
            raise errors.forbidden(detail or "only site administrators may do this")
        return
    if user.is_site_admin:
        return
    if not any(allows(held, role) for held in accounts.roles_held(db(), user)):
        raise errors.forbidden(detail or f"this needs the {role.value} role in a project")
