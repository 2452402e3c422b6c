"""IATI and ISO code lists the donor data is checked against (pure, no database).

- IATI organisation identifiers: ``{registration agency}-{number}``, the agency being a country
  code or ``XM``/``XI`` and an agency code (``GB-GOV-1``, ``XM-DAC-41114``, ``US-EIN-…``).
- IATI activity identifiers: the reporting organisation's identifier, a hyphen and its own
  activity id (``GB-GOV-1-300123``).
- Participating-org roles (IATI OrganisationRole), transaction types (IATI TransactionType,
  the three a funding agreement records), activity statuses and dates, sector 15250.
- Currencies: ISO 4217 alphabetic codes in use.
"""

from __future__ import annotations

import enum
import re

ORG_REF = re.compile(r"^(?:[A-Z]{2})-[A-Z0-9]{2,12}-[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
ACTIVITY_SUFFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
PCODE = re.compile(r"^[A-Z]{2}[A-Z0-9]{0,30}$")

SECTOR_CODE = "15250"
SECTOR_VOCABULARY = "1"  # OECD DAC CRS purpose codes (5 digit)
SECTOR_NAME = "Removal of land mines and explosive remnants of war"


class OrgRole(enum.IntEnum):
    FUNDING = 1
    ACCOUNTABLE = 2
    EXTENDING = 3
    IMPLEMENTING = 4


class TransactionType(enum.IntEnum):
    COMMITMENT = 2  # IATI "Outgoing Commitment"
    DISBURSEMENT = 3
    EXPENDITURE = 4


TRANSACTION_NAMES = {t.name.lower(): t for t in TransactionType}


class ActivityStatus(enum.IntEnum):
    PIPELINE = 1
    IMPLEMENTATION = 2
    FINALISATION = 3
    CLOSED = 4


class ActivityDateType(enum.IntEnum):
    PLANNED_START = 1
    ACTUAL_START = 2
    PLANNED_END = 3
    ACTUAL_END = 4


# ISO 4217 alphabetic codes of currencies in circulation (funds and precious metals left out).
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    """.split()  # noqa: SIM905 (a code table reads best as a block)
)


def org_ref_problem(value: str) -> str | None:
    """Why ``value`` is not an IATI organisation identifier, or None when it is one."""
    if not ORG_REF.match(value):
        return (
            "not an IATI organisation identifier: a registration agency (country code, hyphen, "
            "agency code, e.g. GB-GOV or XM-DAC), a hyphen and the number, e.g. GB-GOV-1"
        )
    return None


def activity_identifier_problem(value: str, org_ref: str) -> str | None:
    """Why ``value`` is not an IATI activity identifier of the organisation ``org_ref``."""
    prefix = f"{org_ref}-"
    if not value.startswith(prefix) or not ACTIVITY_SUFFIX.match(value[len(prefix) :]):
        return (
            f"an IATI activity identifier starts with the donor's organisation identifier and a "
            f"hyphen, then the donor's own id (letters, digits, . _ -): e.g. {prefix}2026-001"
        )
    return None


def currency_problem(value: str) -> str | None:
    if value not in CURRENCIES:
        return "not an ISO 4217 currency code in use (e.g. USD, EUR, GBP, LAK)"
    return None


def transaction_type(value: object) -> TransactionType | None:
    """A transaction type from its name (``commitment``) or IATI code (2, ``"2"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        try:
            return TransactionType(int(value))
        except ValueError:
            return None
    if isinstance(value, str):
        return TRANSACTION_NAMES.get(value.strip().lower())
    return None
