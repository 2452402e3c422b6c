"""Factories for test data, going through the same services the server uses."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from server.accounts import assignments
from server.accounts import service as accounts
from server.accounts.models import Role, User
from server.db import transaction
from server.forms import service as forms
from server.forms.service import PublishResult
from server.projects import keys
from server.projects import service as projects
from server.projects.models import KeyScope, Project, ProjectKey
from server.settings import BUNDLED_FORMS_DIR

_counter = itertools.count(1)

DEFAULT_PASSWORD = "correct horse battery"
ENCRYPTION_PASSPHRASE = "survivors are kept safe here"


@dataclass
class LoggedIn:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Device:
    app_user_id: int
    token: str
    project_id: int

    @property
    def base_path(self) -> str:
        return f"/v1/key/{self.token}/projects/{self.project_id}"


class Factories:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.runtime = app.extensions["fieldsync"]

    def session(self) -> Session:
        return self.runtime.session_factory()  # type: ignore[no-any-return]

    def project(self, name: str | None = None) -> Project:
        with transaction(self.runtime.session_factory) as session:
            return projects.create_project(session, name or f"Project {next(_counter)}")

    def encrypted_project(
        self,
        passphrase: str = ENCRYPTION_PASSPHRASE,
        scope: KeyScope = KeyScope.ALL_FORMS,
        name: str | None = None,
    ) -> tuple[Project, ProjectKey]:
        """A project with an encryption key (a small, quick one: 2048 bits, low scrypt cost)."""
        with transaction(self.runtime.session_factory) as session:
            project = projects.create_project(session, name or f"Project {next(_counter)}")
            key = keys.create_key(
                session, project, passphrase, scope=scope, bits=2048, scrypt_n=2**12
            )
            return project, key

    def user(
        self,
        project: Project | None = None,
        role: Role | str | None = None,
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        site_admin: bool = False,
        digest: bool = False,
        personal_data: bool = False,
    ) -> User:
        """A user, with ``role`` in ``project`` when both are given (``personal_data``: the
        survivor caseworker flag of that role, server.personal)."""
        with transaction(self.runtime.session_factory) as session:
            user = accounts.create_user(
                session,
                email or f"user{next(_counter)}@example.org",
                password,
                site_admin=site_admin,
                digest=digest,
            )
            if project is not None and role is not None:
                accounts.grant_role(session, user, project, Role(role), personal_data=personal_data)
            return user

    def login(self, user: User, password: str = DEFAULT_PASSWORD) -> LoggedIn:
        with transaction(self.runtime.session_factory) as session:
            fresh = accounts.authenticate_password(session, user.email, password)
            issued = accounts.open_session(session, fresh, 3600)
        return LoggedIn(user=user, token=issued.token)

    def logged_in(self, project: Project, role: Role | str) -> LoggedIn:
        return self.login(self.user(project, role))

    def device(
        self, project: Project, name: str = "tablet", forms_assigned: tuple[str, ...] = ()
    ) -> Device:
        """A device (app user); ``forms_assigned`` are assigned to it (Central's form
        assignments: the survivor forms go only to the devices assigned to them)."""
        with transaction(self.runtime.session_factory) as session:
            issued = accounts.create_app_user(session, project, name)
            for form_id in forms_assigned:
                form = forms.get_form(session, project.id, form_id)
                assignments.assign_form(session, issued.app_user, form.id)
        return Device(app_user_id=issued.app_user.id, token=issued.token, project_id=project.id)

    def publish(self, project: Project, *paths: Path) -> list[PublishResult]:
        with transaction(self.runtime.session_factory) as session:
            return forms.publish_many(
                session,
                self.runtime.blobs,
                project,
                list(paths),
                max_bytes=self.runtime.settings.max_form_bytes,
            )

    def publish_bytes(self, project: Project, filename: str, data: bytes) -> PublishResult:
        with transaction(self.runtime.session_factory) as session:
            return forms.publish(
                session,
                self.runtime.blobs,
                project,
                filename,
                data,
                max_bytes=self.runtime.settings.max_form_bytes,
            )

    def publish_library(self, project: Project) -> list[PublishResult]:
        return self.publish(project, *forms.bundled_form_files(BUNDLED_FORMS_DIR))
