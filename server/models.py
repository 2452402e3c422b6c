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
from server.bundles.models import BundleResolution, ImportedBundle, LaptopKey, ProjectKey
from server.config_cache import CacheGeneration
from server.db import Base
from server.donors.models import (
    Donor,
    DonorUser,
    FundingAgreement,
    FundingTransaction,
    ParticipatingOrg,
)
from server.entities.models import (
    Entity,
    EntityConflict,
    EntityInbox,
    EntityList,
    EntityVersion,
)
from server.feed.models import SyncChange
from server.forms.models import Form, FormAttachment, FormVersion
from server.gazetteer.models import GazetteerArea, GazetteerBoundary
from server.personal.models import ConsentWithdrawal
from server.projects.models import Project
from server.reports.models import ReportFact, ReportItem, ReportSettings, StrategyTarget, Tasking
from server.submissions.models import (
    Submission,
    SubmissionAttachment,
    SubmissionComment,
    SubmissionVersion,
)
from server.sync.models import BlobUpload, IdempotencyKey

__all__ = [
    "ApiToken",
    "AppUser",
    "AppUserForm",
    "AuditEntry",
    "Base",
    "Blob",
    "BlobUpload",
    "BundleResolution",
    "CacheGeneration",
    "ConsentWithdrawal",
    "DigestNonce",
    "Donor",
    "DonorUser",
    "Entity",
    "EntityConflict",
    "EntityInbox",
    "EntityList",
    "EntityVersion",
    "Form",
    "FormAttachment",
    "FormVersion",
    "FundingAgreement",
    "FundingTransaction",
    "GazetteerArea",
    "GazetteerBoundary",
    "IdempotencyKey",
    "ImportedBundle",
    "LaptopKey",
    "LoginAttempts",
    "ParticipatingOrg",
    "Project",
    "ProjectKey",
    "ProjectRole",
    "ReportFact",
    "ReportItem",
    "ReportSettings",
    "StrategyTarget",
    "Submission",
    "SubmissionAttachment",
    "SubmissionComment",
    "SubmissionVersion",
    "SyncChange",
    "Tasking",
    "User",
]
