"""What a submission of the form library says that the reports add up, read from its XML.

Pure functions over an lxml tree: no database, no Flask. Fields are found by their name
wherever the form's groups put them (a renamed group does not change a figure); repeat items
are read from their own elements, so a device or a casualty is never taken from another item.
A form the library does not have, or a value that is not a number, contributes nothing rather
than a wrong figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from lxml import etree

from server.xmlsafe import local_name

# The repeats of the library's forms: a root-level field is never looked for inside them.
_REPEATS = frozenset(
    {
        "devices",
        "destroyed_items",
        "evidence_points",
        "casualties",
        "referrals",
        "referral_updates",
        "new_referrals",
    }
)
REPORT_FORMS = frozenset(
    {
        "hazard_report",
        "clearance_report",
        "completion_report",
        "eod_report",
        "eore_session",
        "accident_report",
        "survivor_needs_assessment",
        "survivor_followup",
    }
)
# eore_session's participant fields: (sex, age band).
EORE_CELLS = {
    "girls_0_9": ("female", "0-9"),
    "boys_0_9": ("male", "0-9"),
    "girls_10_17": ("female", "10-17"),
    "boys_10_17": ("male", "10-17"),
    "women_18_45": ("female", "18-45"),
    "men_18_45": ("male", "18-45"),
    "women_46_plus": ("female", "46+"),
    "men_46_plus": ("male", "46+"),
}
# Direct beneficiaries of land release (hazard_report, completion_report).
LAND_CELLS = {
    "direct_women": ("female", "adult"),
    "direct_men": ("male", "adult"),
    "direct_girls": ("female", "child"),
    "direct_boys": ("male", "child"),
}
CLEARANCE_METHODS = frozenset({"nts", "ts", "clearance", "bac"})


@dataclass
class Item:
    kind: str  # destroyed, eore, land_beneficiary, casualty, referral, held
    category: str = ""
    model: str = ""
    sex: str = ""
    age: str = ""
    grp: str = ""
    outcome: str = ""
    need: str = ""
    status: str = ""
    item_key: str = ""
    quantity: int = 0


@dataclass
class Extracted:
    """The columns of a :class:`server.reports.models.ReportFact`, and its items."""

    form: str
    kind: str
    fact_date: date | None
    organisation: str = ""
    task_id: str = ""
    hazard_area: str | None = None
    ha_code: str | None = None
    admin1: str | None = None
    admin2: str | None = None
    admin3: str | None = None
    hazard_type: str | None = None
    status: str | None = None
    contamination: str | None = None
    remaining_m2: float | None = None
    cancelled_m2: float = 0.0
    reduced_m2: float = 0.0
    cleared_m2: float = 0.0
    survivor_code: str | None = None
    eore_method: str | None = None
    items: list[Item] = field(default_factory=list)


def extract(form_id: str, root: etree._Element) -> Extracted | None:
    """The facts of a submission of ``form_id``, or None for a form reports do not read."""
    if form_id not in REPORT_FORMS:
        return None
    reader = _READERS[form_id]
    fact = Extracted(
        form=form_id,
        kind="",
        fact_date=_date(_text(root, "date_of_information")),
        organisation=(_text(root, "organisation") or "")[:200],
        task_id=(_text(root, "task_id") or "")[:200],
    )
    reader(root, fact)
    return fact


# --- the forms -----------------------------------------------------------------------------------


def _hazard_report(root: etree._Element, fact: Extracted) -> None:
    fact.kind = "nts"
    fact.hazard_area = _entity_id(root) or _text(root, "existing_ha")
    fact.ha_code = _text(root, "ha_code")
    fact.admin1 = _text(root, "admin1")
    fact.admin2 = _text(root, "admin2")
    fact.admin3 = _text(root, "admin3")
    _area_state(root, fact)
    fact.cancelled_m2 = _number(root, "area_cancelled_m2")
    fact.items.extend(_cells(root, LAND_CELLS, "land_beneficiary"))


def _clearance_report(root: etree._Element, fact: Extracted) -> None:
    method = _text(root, "method") or ""
    fact.kind = method if method in CLEARANCE_METHODS else "clearance"
    fact.hazard_area = _text(root, "hazard_area") or _entity_id(root)
    fact.ha_code = _text(root, "ha_code")
    _area_state(root, fact)
    _released(root, fact)
    fact.items.extend(_devices_destroyed(root))


def _completion_report(root: etree._Element, fact: Extracted) -> None:
    fact.kind = "completion"
    fact.hazard_area = _text(root, "hazard_area") or _entity_id(root)
    fact.ha_code = _text(root, "ha_code")
    _area_state(root, fact)
    _released(root, fact)
    fact.items.extend(_cells(root, LAND_CELLS, "land_beneficiary"))


def _eod_report(root: etree._Element, fact: Extracted) -> None:
    if _text(root, "report_type") == "later_destruction":
        fact.kind = "eod_destruction"
        fact.fact_date = _date(_text(root, "destruction_date")) or fact.fact_date
        for node in _repeat(root, "destroyed_items"):
            quantity = _quantity(_text(node, "destroyed_quantity"))
            if quantity > 0:
                fact.items.append(
                    Item(
                        "destroyed",
                        category=_text(node, "destroyed_category") or "unknown",
                        model=_text(node, "destroyed_model") or "unknown",
                        item_key=(_text(node, "destroyed_holding_ref") or "")[:64],
                        quantity=quantity,
                    )
                )
        return
    fact.kind = "eod_spot"
    fact.admin1 = _text(root, "admin1")
    fact.admin2 = _text(root, "admin2")
    fact.admin3 = _text(root, "admin3")
    fact.items.extend(_devices_destroyed(root))


def _eore_session(root: etree._Element, fact: Extracted) -> None:
    fact.kind = "eore"
    fact.admin1 = _text(root, "admin1")
    fact.admin2 = _text(root, "admin2")
    fact.admin3 = _text(root, "admin3")
    fact.eore_method = _text(root, "method") or "unknown"
    fact.items.extend(_cells(root, EORE_CELLS, "eore"))


def _accident_report(root: etree._Element, fact: Extracted) -> None:
    fact.kind = "accident"
    fact.fact_date = _date(_text(root, "accident_date")) or fact.fact_date
    fact.admin1 = _text(root, "admin1")
    fact.admin2 = _text(root, "admin2")
    fact.admin3 = _text(root, "admin3")
    for node in _repeat(root, "casualties"):
        fact.items.append(
            Item(
                "casualty",
                category=_text(root, "device_category") or "unknown",
                grp=_GROUPS.get(_text(node, "casualty_group") or "", "unknown"),
                outcome=_one_of(_text(node, "casualty_outcome"), ("killed", "injured")),
                sex=_one_of(_text(node, "sex"), ("female", "male")),
                age=_age_band(node),
                item_key=_text(node, "casualty_id") or "",
                quantity=1,
            )
        )


def _survivor_needs_assessment(root: etree._Element, fact: Extracted) -> None:
    fact.kind = "assessment"
    if _text(root, "consent_given") != "yes":
        return  # nothing was asked beyond consent: no survivor assessed
    fact.survivor_code = _text(root, "survivor_code") or None
    fact.admin1 = _text(root, "admin1")
    fact.admin2 = _text(root, "admin2")
    fact.admin3 = _text(root, "admin3")
    for node in _repeat(root, "referrals"):
        fact.items.append(_referral(node, "referral_id", "referral_need", "referral_item_status"))


def _survivor_followup(root: etree._Element, fact: Extracted) -> None:
    fact.kind = "followup"
    fact.survivor_code = _text(root, "survivor_code") or None
    for node in _repeat(root, "referral_updates"):
        fact.items.append(_referral(node, "referral_id", "referral_need", "referral_item_status"))
    for node in _repeat(root, "new_referrals"):
        fact.items.append(
            _referral(node, "new_referral_id", "new_referral_need", "new_referral_status")
        )


_READERS = {
    "hazard_report": _hazard_report,
    "clearance_report": _clearance_report,
    "completion_report": _completion_report,
    "eod_report": _eod_report,
    "eore_session": _eore_session,
    "accident_report": _accident_report,
    "survivor_needs_assessment": _survivor_needs_assessment,
    "survivor_followup": _survivor_followup,
}
_GROUPS = {"civilian": "civilian", "deminer": "deminer", "military_security": "military"}


# --- pieces --------------------------------------------------------------------------------------


def _area_state(root: etree._Element, fact: Extracted) -> None:
    fact.hazard_type = _text(root, "hazard_type")
    fact.status = _text(root, "status")
    fact.contamination = _text(root, "contamination_types")
    remaining = _text(root, "remaining_area_m2")
    fact.remaining_m2 = _float(remaining) if remaining else None


def _released(root: etree._Element, fact: Extracted) -> None:
    fact.cancelled_m2 = _number(root, "area_cancelled_m2")
    if _text(root, "area_reduced_m2"):
        fact.reduced_m2 = _number(root, "area_reduced_m2")
    else:
        fact.reduced_m2 = _number(root, "area_reduced_asset_m2") + _number(
            root, "area_reduced_no_asset_m2"
        )
    fact.cleared_m2 = _number(root, "area_cleared_m2")


def _devices_destroyed(root: etree._Element) -> list[Item]:
    """Devices destroyed in situ; one removed for later destruction counts when the
    ``eod_report`` that destroys it arrives, never while it is in a store. A removed device
    with a tag reference is kept as a ``held`` item (not a figure): the destruction is placed
    where it was found (:func:`server.reports.facts.place_destructions`)."""
    items = []
    for node in _repeat(root, "devices"):
        quantity = _quantity(_text(node, "quantity"))
        disposal = _text(node, "disposal")
        category = _text(node, "device_category") or "unknown"
        model = _text(node, "device_model") or "unknown"
        if disposal == "destroyed_in_situ" and quantity > 0:
            items.append(
                Item(
                    "destroyed",
                    category=category,
                    model=model,
                    item_key=_text(node, "device_id") or "",
                    quantity=quantity,
                )
            )
        elif disposal == "removed_for_destruction" and _text(node, "holding_ref"):
            ref = (_text(node, "holding_ref") or "")[:64]
            items.append(Item("held", category=category, model=model, item_key=ref))
    return items


def _cells(root: etree._Element, cells: dict[str, tuple[str, str]], kind: str) -> list[Item]:
    items = []
    for name, (sex, age) in cells.items():
        quantity = _int(_text(root, name))
        if quantity > 0:
            items.append(Item(kind, sex=sex, age=age, quantity=quantity))
    return items


def _referral(node: etree._Element, key: str, need: str, status: str) -> Item:
    return Item(
        "referral",
        item_key=(_text(node, key) or "")[:64],
        need=_text(node, need) or "other",
        status=_text(node, status) or "open",
        quantity=1,
    )


def _age_band(node: etree._Element) -> str:
    band = _text(node, "age_band")
    if band in ("child", "adult", "unknown"):
        return band
    if _text(node, "age_known") == "yes" and _text(node, "age"):
        return "child" if _int(_text(node, "age")) < 18 else "adult"
    return _one_of(_text(node, "age_group"), ("child", "adult"))


def _one_of(value: str | None, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else "unknown"


def _entity_id(root: etree._Element) -> str | None:
    for node in root.iter():
        if isinstance(node.tag, str) and local_name(node) == "entity":
            return (node.get("id") or "").strip() or None
    return None


def _repeat(root: etree._Element, name: str) -> list[etree._Element]:
    return [n for n in root.iter() if isinstance(n.tag, str) and local_name(n) == name]


def _text(node: etree._Element, name: str) -> str | None:
    """The text of the first element called ``name`` below ``node``, outside repeats (unless
    ``node`` is a repeat item); None when absent or empty."""
    stack = list(node)
    while stack:
        child = stack.pop(0)
        if not isinstance(child.tag, str):
            continue
        tag = local_name(child)
        if tag == name:
            text = (child.text or "").strip()
            return text or None
        if tag not in _REPEATS and tag != "meta":
            stack.extend(child)
    return None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _float(text: str | None) -> float:
    try:
        value = float(text or "")
    except ValueError:
        return 0.0
    return value if value == value and abs(value) != float("inf") else 0.0


def _number(root: etree._Element, name: str) -> float:
    return max(_float(_text(root, name)), 0.0)


def _quantity(text: str | None) -> int:
    """A device row's quantity: the form asks for at least 1, so a row left blank (or not a
    number) is one device; a number given counts as given."""
    if text is None or not text.strip():
        return 1
    try:
        return max(int(float(text)), 0)
    except (ValueError, OverflowError):
        return 1


def _int(text: str | None) -> int:
    try:
        return max(int(float(text or "")), 0)
    except (ValueError, OverflowError):
        return 0
