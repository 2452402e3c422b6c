"""Reading a report's query: its period (year, quarter, month or a date range), its filters,
and the output format. Pure functions over a mapping of strings, so the API and the command
line refuse the same things with the same words.

Periods: ``year=2026``; ``quarter=2026-Q2``; ``month=2026-03``; ``from=2026-01-01&to=2026-06-30``
(both inclusive; one of them alone means from the start of records, or up to today).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from server import errors

FORMATS = ("json", "csv", "xlsx", "html")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "xlsx": XLSX_TYPE,
    "html": "text/html",
}
# Taken by every report.
COMMON = frozenset({"format", "approved_only", "explain"})
_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label: str


def parse_period(args: Mapping[str, str], *, allowed: frozenset[str], today: date) -> Period:
    """The one period the query names, among the kinds ``allowed`` (year, quarter, month,
    range).

    Raises:
        Problem: 400 ``report.bad_period`` for a malformed or missing period, two at once, or
            a range that ends before it starts; ``report.bad_filter`` for a kind of period the
            report does not take.
    """
    given = [k for k in ("year", "quarter", "month") if k in args]
    if "from" in args or "to" in args:
        given.append("range")
    for kind in given:
        if kind not in allowed:
            name = "from/to" if kind == "range" else kind
            raise errors.report_bad_filter(
                name, f"this report takes a period as {_kinds(allowed)}, not {name}"
            )
    if len(given) > 1:
        raise errors.report_bad_period(f"send one period, not {' and '.join(given)}")
    if not given:
        raise errors.report_bad_period(f"this report needs a period: {_kinds(allowed)}")
    kind = given[0]
    if kind == "year":
        year = _year(args["year"], "year")
        return Period(date(year, 1, 1), date(year, 12, 31), str(year))
    if kind == "quarter":
        match = re.fullmatch(r"(\d{4})-Q([1-4])", args["quarter"].strip())
        if match is None:
            raise errors.report_bad_period(
                f"quarter must be written like 2026-Q1, not {args['quarter']!r}"
            )
        year, quarter = _year(match[1], "quarter"), int(match[2])
        end_month = quarter * 3
        last = calendar.monthrange(year, end_month)[1]
        return Period(
            date(year, end_month - 2, 1), date(year, end_month, last), f"{year}-Q{quarter}"
        )
    if kind == "month":
        match = re.fullmatch(r"(\d{4})-(\d{2})", args["month"].strip())
        if match is None or not 1 <= int(match[2]) <= 12:
            raise errors.report_bad_period(
                f"month must be written like 2026-03, not {args['month']!r}"
            )
        year, month = _year(match[1], "month"), int(match[2])
        last = calendar.monthrange(year, month)[1]
        return Period(date(year, month, 1), date(year, month, last), f"{year}-{month:02d}")
    start = _date(args["from"], "from") if args.get("from") else date(1900, 1, 1)
    end = _date(args["to"], "to") if args.get("to") else today
    if end < start:
        raise errors.report_bad_period(f"the range ends ({end}) before it starts ({start})")
    return Period(start, end, f"{start.isoformat()} to {end.isoformat()}")


def check_parameters(args: Mapping[str, str], accepted: frozenset[str]) -> None:
    """Raises: Problem 400 ``report.bad_filter`` naming a parameter the report does not take."""
    for name in sorted(args):
        if name not in accepted | COMMON:
            takes = ", ".join(sorted(accepted | COMMON))
            raise errors.report_bad_filter(
                name, f"this report does not take {name!r}; it takes {takes}"
            )


def flag(args: Mapping[str, str], name: str, default: bool) -> bool:
    """Raises: Problem 400 ``report.bad_filter`` for anything but true/false (1/0, yes/no)."""
    raw = args.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = _BOOL.get(raw.strip().lower())
    if value is None:
        raise errors.report_bad_filter(name, f"{name} must be true or false, not {raw!r}")
    return value


def output_format(args: Mapping[str, str], accept: str | None) -> str:
    """``?format=`` when given, else the best match of the Accept header, else JSON.

    Raises:
        Problem: 400 ``report.bad_filter`` for an unknown ``format``; 406 when Accept allows
            none of the formats.
    """
    chosen = args.get("format")
    if chosen is not None:
        if chosen not in FORMATS:
            raise errors.report_bad_filter(
                "format", f"format must be one of {', '.join(FORMATS)}, not {chosen!r}"
            )
        return chosen
    if not accept or accept.strip() in ("", "*/*"):
        return "json"
    ranked = []
    for part in accept.split(","):
        media, _, rest = part.strip().partition(";")
        quality = 1.0
        for p in rest.split(";"):
            key, _, value = p.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((quality, media.strip().lower()))
    for quality, media in sorted(ranked, key=lambda r: -r[0]):
        if quality <= 0:
            continue
        if media in ("*/*", "application/*", "application/problem+json"):
            return "json"
        for name, media_type in MEDIA_TYPES.items():
            if media == media_type or (media == "text/*" and media_type.startswith("text/")):
                return name
    raise errors.report_not_acceptable(accept)


def _kinds(allowed: frozenset[str]) -> str:
    words = {
        "year": "year=YYYY",
        "quarter": "quarter=YYYY-Qn",
        "month": "month=YYYY-MM",
        "range": "from=YYYY-MM-DD&to=YYYY-MM-DD",
    }
    return " or ".join(words[k] for k in ("year", "quarter", "month", "range") if k in allowed)


def _year(text: str, name: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"\d{4}", text) or not 1900 <= int(text) <= 2100:
        raise errors.report_bad_period(f"{name}: {text!r} is not a year from 1900 to 2100")
    return int(text)


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise errors.report_bad_period(
            f"{name} must be a date written YYYY-MM-DD, not {text!r}"
        ) from None
