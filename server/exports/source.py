"""What an export reads, whatever it is read from: the server's database
(:mod:`server.exports.service`) or the laptop's local store (:mod:`sync_client.export`).

The writers (CSV, XLSX, GeoJSON) take these plain records and never touch a database, so the
same code writes the same files on the server and offline in the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

# Our review states, and the names Central's exports and $filter use for them (a received
# submission has none).
CENTRAL_REVIEW_STATE = {
    "received": None,
    "has_issues": "hasIssues",
    "edited": "edited",
    "approved": "approved",
    "rejected": "rejected",
}


@dataclass(frozen=True)
class ExportAttachment:
    name: str
    size: int
    open: Callable[[], AbstractContextManager[BinaryIO]]


@dataclass(frozen=True)
class ExportSubmission:
    """One submission as the export writes it: its current version and Central's metadata."""

    instance_id: str  # the first version's instanceID: KEY, stable across edits
    xml: str | bytes  # the current version
    submission_date: datetime  # when the first version arrived
    submitter_id: int | None = None
    submitter_name: str | None = None
    attachments_present: int = 0
    attachments_expected: int = 0
    review_state: str | None = None  # Central's name (see CENTRAL_REVIEW_STATE)
    device_id: str | None = None
    edits: int = 0
    form_version: str = ""
    attachments: tuple[ExportAttachment, ...] = ()
    # Central's Status column: why an encrypted submission's fields are empty, else None.
    status: str | None = None


@dataclass
class ExportSource:
    """A form's export: the XForm fields laid out, the submissions (a one-pass iterator, read
    as it is written), and how many there are (for a progress bar)."""

    form_id: str
    submissions: Callable[[], Iterator[ExportSubmission]]
    count: int


def iso_millis(moment: datetime) -> str:
    """``2026-03-01T08:15:00.123Z``, as JavaScript's ``toISOString`` (and so Central) writes."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
