"""The reporting tables: one row of facts per submission (kept current at intake), the items
its repeats carry, and what a coalition manages for its reports (settings, strategy targets,
taskings).

Facts are a copy of what a submission says that the reports add up (ADR 0017); the submission
stays the record. A fact is replaced when its submission is edited and never outlives it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class ReportFact(Base):
    """What one submission (its current version) contributes to the reports."""

    __tablename__ = "report_facts"
    __table_args__ = (
        Index("ix_report_facts_project_date", "project_id", "fact_date"),
        Index("ix_report_facts_project_area", "project_id", "hazard_area", "fact_date"),
        # Risk education, accidents and assessments are a few percent of a year's reports.
        Index("ix_report_facts_project_kind_date", "project_id", "kind", "fact_date"),
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


class ReportSum(Base):
    """The sums a report adds up, per project, month, approval and the keys reports group by
    (ADR 0017): kept at intake with the facts, so a year's report reads the rows of twelve
    months instead of its facts. ``item_kind`` is empty on the row of the reports themselves
    (``reports``, the m²) and names the items on an item row (``items``, ``quantity``).

    Every key column is NOT NULL ('' for none) so that a key is one row (the upsert's
    conflict target); a row whose ``reports`` and ``items`` are both 0 counts nothing."""

    __tablename__ = "report_sums"
    __table_args__ = (
        Index(
            "uq_report_sums_key",
            "project_id", "month", "approved", "kind", "organisation", "admin1", "admin2",
            "on_area", "eore_method", "item_kind", "category", "model", "sex", "age", "grp",
            "outcome",
            unique=True,
        ),
        # A report reads the rows of one kind of item (or the reports' own) over some months.
        Index("ix_report_sums_project_item_month", "project_id", "item_kind", "month"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)  # its first day
    approved: Mapped[bool] = mapped_column()
    kind: Mapped[str] = mapped_column(String(24))
    organisation: Mapped[str] = mapped_column(String(200))
    admin1: Mapped[str] = mapped_column(String(32))
    admin2: Mapped[str] = mapped_column(String(32))
    on_area: Mapped[bool] = mapped_column()  # the reports name a hazard area
    eore_method: Mapped[str] = mapped_column(String(32))
    item_kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str] = mapped_column(String(16))
    age: Mapped[str] = mapped_column(String(16))
    grp: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[str] = mapped_column(String(16))
    reports: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_m2: Mapped[float] = mapped_column(Float, default=0.0)
    reduced_m2: Mapped[float] = mapped_column(Float, default=0.0)
    cleared_m2: Mapped[float] = mapped_column(Float, default=0.0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    quantity: Mapped[int] = mapped_column(Integer, default=0)


class ReportAreaState(Base):
    """Per hazard area, its latest report with a status (``approved``: among approved ones
    only), as ``key`` (days since 1970 times 2**32 plus the fact's id) and ``fact_id``, and
    the first date a report names cluster munition remnants on it. Kept at intake; a report
    of the state on a date reads it for the areas with no report after that date (ADR 0017)."""

    __tablename__ = "report_area_states"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    hazard_area: Mapped[str] = mapped_column(String(64), primary_key=True)
    approved: Mapped[bool] = mapped_column(primary_key=True)
    # None when no report (approved, for ``approved``) gives the area a status.
    key: Mapped[int | None] = mapped_column(BigInteger, default=None)
    fact_id: Mapped[int | None] = mapped_column(Integer, default=None)
    cmr_since: Mapped[date | None] = mapped_column(Date, default=None)


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
