"""A project's encryption key (ODK managed encryption, ADR 0016): created from a passphrase,
read by the form publisher for its public half, opened with the passphrase to decrypt.

The passphrase and the opened private key live only in the memory of the request or command
that was given the passphrase; neither is stored or logged.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server import odk_encryption as odk
from server.audit import service as audit
from server.projects.models import KeyScope, Project, ProjectKey


def project_key(session: Session, project_id: int) -> ProjectKey | None:
    return session.scalars(select(ProjectKey).where(ProjectKey.project_id == project_id)).first()


def key_id_of(session: Session, project_id: int) -> int | None:
    """Central's ``keyId`` of a project: its managed key, if it has one."""
    return session.scalar(select(ProjectKey.id).where(ProjectKey.project_id == project_id))


def create_key(
    session: Session,
    project: Project,
    passphrase: str,
    *,
    hint: str = "",
    scope: KeyScope = KeyScope.ALL_FORMS,
    actor_user_id: int | None = None,
    bits: int = odk.KEY_BITS,
    scrypt_n: int = odk.SCRYPT_N,
) -> ProjectKey:
    """Give the project its key pair, the private key sealed under ``passphrase``.

    Raises:
        Problem: 400 ``encryption.weak_passphrase``; 409 ``encryption.already_enabled``.
    """
    if len(passphrase) < odk.MIN_PASSPHRASE:
        raise errors.weak_passphrase(odk.MIN_PASSPHRASE)
    existing = project_key(session, project.id)
    if existing is not None:
        raise errors.encryption_already_enabled(project.id, existing.id)
    pair = odk.generate_key_pair(passphrase, bits=bits, scrypt_n=scrypt_n)
    key = ProjectKey(
        project_id=project.id,
        public_key=pair.public_b64,
        private_key_sealed=pair.private_sealed,
        hint=hint.strip()[:500],
        scope=scope.value,
        created_by_user_id=actor_user_id,
    )
    try:
        with session.begin_nested():
            session.add(key)
            session.flush()
    except IntegrityError:
        # Another request gave the project its key at the same moment; theirs stands.
        raced = project_key(session, project.id)
        raise errors.encryption_already_enabled(project.id, raced.id if raced else 0) from None
    audit.record(
        session,
        "project.encrypt",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="project",
        target_id=project.id,
        key_id=key.id,
        scope=key.scope,
    )
    return key


def widen_scope(session: Session, key: ProjectKey, actor_user_id: int | None = None) -> bool:
    """Encrypt every form of the project from now on (a key made for survivor forms only).
    Returns whether anything changed."""
    if key.scope == KeyScope.ALL_FORMS.value:
        return False
    key.scope = KeyScope.ALL_FORMS.value
    audit.record(
        session,
        "project.encrypt",
        project_id=key.project_id,
        user_id=actor_user_id,
        target_type="project",
        target_id=key.project_id,
        key_id=key.id,
        scope=key.scope,
    )
    return True


def unlock_project_key(session: Session, project_id: int, passphrase: str) -> RSAPrivateKey:
    """The project's private key, opened in memory.

    Raises:
        Problem: 409 ``encryption.not_enabled``; 400 ``encryption.wrong_passphrase``.
    """
    key = project_key(session, project_id)
    if key is None:
        raise errors.encryption_not_enabled(project_id)
    try:
        return odk.unlock(key.private_key_sealed, passphrase)
    except odk.WrongPassphrase:
        raise errors.wrong_passphrase() from None


def encrypts_form(key: ProjectKey | None, entity_spec: dict[str, object] | None) -> bool:
    """Whether a form with this entity block is published with the project's key."""
    if key is None:
        return False
    if key.scope == KeyScope.ALL_FORMS.value:
        return True
    return is_survivor_form(entity_spec)


SURVIVOR_LISTS = frozenset({"survivors"})


def is_survivor_form(entity_spec: dict[str, object] | None) -> bool:
    """A survivor form creates or updates the survivors list (forms/README.md)."""
    return str((entity_spec or {}).get("dataset") or "") in SURVIVOR_LISTS
