"""Interface languages: English, French and Spanish (the organisation's official languages).

Strings are marked with gettext in templates and code; catalogues are `locales/<lang>/LC_MESSAGES/messages.po`,
read with Babel at start-up (no compile step). Numbers and dates are formatted per locale by Babel too.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

LANGUAGES = {"en": "English", "fr": "Français", "es": "Español"}
DEFAULT = "en"
LOCALES_DIR = Path(__file__).parent / "locales"

current: ContextVar[str] = ContextVar("passage_language", default=DEFAULT)


@cache
def translations(lang: str) -> NullTranslations:
    po = LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT or not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def gettext(message: str, **kw: Any) -> str:
    text = translations(current.get()).ugettext(message)
    return text % kw if kw else text


def ngettext(singular: str, plural: str, n: int, **kw: Any) -> str:
    text = translations(current.get()).ungettext(singular, plural, n)
    kw.setdefault("num", n)
    return text % kw


_ = gettext


def pick_language(cookie: str | None, accept: str | None) -> str:
    """The language cookie wins, then the browser's Accept-Language, then English."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


def number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=fmt, locale=current.get())


def percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return format_percent(value / 100.0, format="#,##0." + "0" * digits + " %", locale=current.get())


def day(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return format_datetime(value, "medium", locale=current.get())
    return format_date(value, "medium", locale=current.get())


def language_name(code: str) -> str:
    try:
        return Locale.parse(code).get_display_name(current.get()) or code
    except Exception:  # noqa: BLE001 - an unknown code is shown as given
        return code
