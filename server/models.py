"""Every model, imported in one place so the metadata is complete (for Alembic and tests)."""

from server.accounts.models import (
    ApiToken,
    AppUser,
    AppUserForm,
    DigestNonce,
    LoginAttempts,
    ProjectRole,
    User,
)
from server.audit.models import AuditEntry
from server.blobs.models import Blob
from server.db import Base
from server.entities.models import (
    Entity,
    EntityConflict,
    EntityInbox,
    EntityList,
    EntityVersion,
)
from server.feed.models import SyncChange
from server.forms.models import Form, FormAttachment, FormVersion
from server.gazetteer.models import GazetteerArea
from server.personal.models import ConsentWithdrawal
from server.projects.models import Project
from server.submissions.models import Submission, SubmissionAttachment, SubmissionVersion
from server.sync.models import BlobUpload, IdempotencyKey

__all__ = [
    "ApiToken",
    "AppUser",
    "AppUserForm",
    "AuditEntry",
    "Base",
    "Blob",
    "BlobUpload",
    "ConsentWithdrawal",
    "DigestNonce",
    "Entity",
    "EntityConflict",
    "EntityInbox",
    "EntityList",
    "EntityVersion",
    "Form",
    "FormAttachment",
    "FormVersion",
    "GazetteerArea",
    "IdempotencyKey",
    "LoginAttempts",
    "Project",
    "ProjectRole",
    "Submission",
    "SubmissionAttachment",
    "SubmissionVersion",
    "SyncChange",
    "User",
]
