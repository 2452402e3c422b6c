"""Blob rows: one per distinct content (SHA-256), whatever its names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class Blob(Base):
    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(200), default="application/octet-stream")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectBlob(Base):
    """A project holds this blob: it was uploaded, attached or published in the project.

    The store keeps one copy of each content; what a project may see, attach or resume is
    decided by these rows, so one project cannot learn of, or use, another's files by their
    hash (docs/security.md).
    """

    __tablename__ = "project_blobs"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BlobContent(Base):
    """One chunk of a blob's content, for the database blob store (``FIELDSYNC_BLOB_STORE=
    database``, docs/adr/0022-blobs-in-the-database.md): chunk 0, 1, ... of at most
    :data:`server.blobs.store.DB_CHUNK` bytes each, so a large photo is never one huge value.
    The chunks are written in the transaction that registers the blob, and go when its row goes.
    """

    __tablename__ = "blob_contents"

    sha256: Mapped[str] = mapped_column(
        ForeignKey("blobs.sha256", ondelete="CASCADE"), primary_key=True
    )
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
