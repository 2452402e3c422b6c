"""The reporting tables: one row of facts per submission (kept current at intake), the items
its repeats carry, and what a coalition manages for its reports (settings, strategy targets,
taskings).

Facts are a copy of what a submission says that the reports add up (ADR 0017); the submission
stays the record. A fact is replaced when its submission is edited and never outlives it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class ReportFact(Base):
    """What one submission (its current version) contributes to the reports."""

    __tablename__ = "report_facts"
    __table_args__ = (
        Index("ix_report_facts_project_date", "project_id", "fact_date"),
        Index("ix_report_facts_project_area", "project_id", "hazard_area", "fact_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    # Copied from the submission at intake and at each review, so a report reads one table.
    approved: Mapped[bool] = mapped_column(default=False)
    form: Mapped[str] = mapped_column(String(64))
    # nts, ts, clearance, bac, completion, eod_spot, eod_destruction, eore, accident,
    # assessment, followup
    kind: Mapped[str] = mapped_column(String(24))
    fact_date: Mapped[date] = mapped_column(Date)
    organisation: Mapped[str] = mapped_column(String(200), default="")
    task_id: Mapped[str] = mapped_column(String(200), default="")
    hazard_area: Mapped[str | None] = mapped_column(String(64), default=None)
    ha_code: Mapped[str | None] = mapped_column(String(64), default=None)
    admin1: Mapped[str | None] = mapped_column(String(32), default=None)
    admin2: Mapped[str | None] = mapped_column(String(32), default=None)
    # The village (level 3), where the gazetteer has them; placed like admin1 and admin2.
    admin3: Mapped[str | None] = mapped_column(String(32), default=None)
    hazard_type: Mapped[str | None] = mapped_column(String(8), default=None)
    status: Mapped[str | None] = mapped_column(String(24), default=None)
    contamination: Mapped[str | None] = mapped_column(String(200), default=None)
    remaining_m2: Mapped[float | None] = mapped_column(Float, default=None)
    cancelled_m2: Mapped[float] = mapped_column(Float, default=0.0)
    reduced_m2: Mapped[float] = mapped_column(Float, default=0.0)
    cleared_m2: Mapped[float] = mapped_column(Float, default=0.0)
    # Pseudonymous (SV-0001), for counting survivors once; never a name.
    survivor_code: Mapped[str | None] = mapped_column(String(64), default=None)
    eore_method: Mapped[str | None] = mapped_column(String(32), default=None)


class ReportItem(Base):
    """One counted thing inside a report: a device destroyed, a group of participants, a
    casualty, a referral. ``kind`` says which columns mean something."""

    __tablename__ = "report_items"
    __table_args__ = (
        Index("ix_report_items_fact_kind", "fact_id", "kind"),
        # A later destruction finds the report that removed its item by the tag reference.
        Index("ix_report_items_kind_key", "kind", "item_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fact_id: Mapped[int] = mapped_column(ForeignKey("report_facts.id", ondelete="CASCADE"))
    # destroyed, eore, land_beneficiary, casualty, referral, held (a device removed for later
    # destruction, by its tag reference: it places the destruction where it was found)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32), default="")
    model: Mapped[str] = mapped_column(String(64), default="")
    sex: Mapped[str] = mapped_column(String(16), default="")
    age: Mapped[str] = mapped_column(String(16), default="")
    grp: Mapped[str] = mapped_column(String(24), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    need: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(32), default="")
    item_key: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[int] = mapped_column(Integer, default=0)


class ReportSettings(Base):
    """A project's reporting choices (absent row: the defaults)."""

    __tablename__ = "report_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    approved_only: Mapped[bool] = mapped_column(default=True)
    min_cell_size: Mapped[int] = mapped_column(Integer, default=5)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StrategyTarget(Base):
    """A national strategy target: release so many m² (or close so many areas) in an admin
    area, or nationally when ``admin_pcode`` is empty, between two dates."""

    __tablename__ = "report_strategy_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(200))
    admin_pcode: Mapped[str] = mapped_column(String(32), default="")
    metric: Mapped[str] = mapped_column(String(24))  # released_m2, cleared_m2, areas_closed
    target_value: Mapped[float] = mapped_column(Float)
    start_date: Mapped[date] = mapped_column(Date)
    target_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tasking(Base):
    """An operator tasked on a hazard area for a period (the authority's tasking order)."""

    __tablename__ = "report_taskings"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    operator: Mapped[str] = mapped_column(String(200))
    hazard_area: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str] = mapped_column(String(200), default="")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
