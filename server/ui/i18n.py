"""The UI's languages: English (complete), Lao, Khmer and Vietnamese (catalogues started in
``server/ui/translations``). The language is the one the user chose (a cookie), else the best
match of the browser's ``Accept-Language``; dates and numbers are formatted for it by Babel."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from flask import Flask, request
from flask_babel import Babel, format_date, format_datetime, format_decimal

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"en": "English", "lo": "ພາສາລາວ", "km": "ភាសាខ្មែរ", "vi": "Tiếng Việt"}
LANGUAGE_COOKIE = "fieldsync_lang"


def select_locale() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def init_babel(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(TRANSLATIONS),
        default_timezone="UTC",
    )
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["number"] = number


def when(moment: datetime | str | None) -> str:
    """A date and time in the page's language ("" for none); ISO strings are accepted."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        if len(moment) == 10:  # a date of information: a day, not a moment
            try:
                return str(format_date(date.fromisoformat(moment), "medium"))
            except ValueError:
                return moment
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return str(moment)
    return str(format_datetime(moment, "medium"))


def day(moment: datetime | None) -> str:
    return str(format_date(moment, "medium")) if moment is not None else ""


def number(value: float | int | None) -> str:
    return str(format_decimal(value)) if value is not None else ""
