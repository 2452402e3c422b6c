"""Form I's funding rows and the donors of hazard areas, from the donor package when the
server has it (``server.donors.report``), otherwise none.

The donor package sits beside this one; it is loaded lazily so the reports work (with an
empty Form I) on a server without it, and neither package imports the other at load time.
"""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy.orm import Session

FUNDING_KEYS = ("donor", "iati_org_ref", "currency", "committed", "disbursed")


def _donor_report() -> Any | None:
    try:
        return importlib.import_module("server.donors.report")
    except ImportError:
        return None


def form_i_funding(session: Session, project_id: int, year: int) -> list[dict[str, Any]]:
    """Funds by donor for the year: ``{"donor", "iati_org_ref", "currency", "committed",
    "disbursed"}`` rows, or ``[]`` without the donor package."""
    module = _donor_report()
    if module is None or not hasattr(module, "form_i_funding"):
        return []
    rows = module.form_i_funding(session, project_id=project_id, year=year)
    return [{key: row.get(key) for key in FUNDING_KEYS} | dict(row) for row in rows]


def donors_by_hazard_area(session: Session, project_id: int) -> dict[str, list[str]]:
    """The donors funding each hazard area (by entity id), for the 3W matrix's donor column;
    empty without the donor package or when it offers no such function."""
    module = _donor_report()
    if module is None or not hasattr(module, "donors_by_hazard_area"):
        return {}
    return dict(module.donors_by_hazard_area(session, project_id))
