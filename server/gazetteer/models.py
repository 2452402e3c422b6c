"""The administrative areas of a project's gazetteer, one row per P-code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class GazetteerArea(Base):
    """A province, district or village with its OCHA COD-AB style P-code."""

    __tablename__ = "gazetteer_areas"
    __table_args__ = (UniqueConstraint("project_id", "pcode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[int]
    pcode: Mapped[str] = mapped_column(String(32))
    # Empty for level 1 (the country itself is not a row).
    parent_pcode: Mapped[str] = mapped_column(String(32), default="")
    name_en: Mapped[str] = mapped_column(String(200))
    name_local: Mapped[str] = mapped_column(String(200), default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class GazetteerBoundary(Base):
    """An area's outline for the web UI's maps: a simplified GeoJSON Polygon or MultiPolygon,
    kept by P-code so a new import of the gazetteer's areas keeps it."""

    __tablename__ = "gazetteer_boundaries"
    __table_args__ = (UniqueConstraint("project_id", "pcode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    pcode: Mapped[str] = mapped_column(String(32))
    level: Mapped[int]
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON, longitude/latitude
    source: Mapped[str] = mapped_column(String(200), default="")  # the file it came from
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
