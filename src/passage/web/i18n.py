"""Interface languages: English, French and Spanish (the organisation's official languages).

Strings are marked with gettext in templates and code; catalogues are `locales/<lang>/LC_MESSAGES/messages.po`,
read with Babel at start-up (no compile step). Numbers and dates are formatted per locale by Babel too.
"""

from __future__ import annotations

import io
import re
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

from passage.web.i18n_names import english

LANGUAGES = {"en": "English", "fr": "Français", "es": "Español"}
# CLDR's minimumGroupingDigits, which Babel does not apply: Spanish writes 1234 but 12.345 (as browsers do).
MIN_GROUPING_DIGITS = {"es": 2}
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


def lookup(message: str) -> str:
    """The message in the current language, unformatted (templates format it themselves)."""
    text = translations(current.get()).gettext(message)
    return english().get(message, text) if text == message else text


def nlookup(singular: str, plural: str, n: int) -> str:
    """The plural form for `n` in the current language, unformatted."""
    return translations(current.get()).ngettext(singular, plural, n)


def gettext(message: str, **kw: Any) -> str:
    text = lookup(message)
    return text % kw if kw else text


def ngettext(singular: str, plural: str, n: int, **kw: Any) -> str:
    kw.setdefault("num", n)
    return nlookup(singular, plural, n) % kw


_ = gettext


def install(env: Any) -> None:
    """Give a Jinja environment new-style gettext: templates call `_("… %(x)s", x=v)` and Jinja formats
    (escaping the values); the callables here must therefore return the catalogue text untouched."""
    env.install_gettext_callables(lookup, nlookup, newstyle=True)
    env.filters["country"] = country_label


def pick_language(cookie: str | None, accept: str | None) -> str:
    """The language cookie wins, then the browser's Accept-Language (by its q-values), then English."""
    if cookie in LANGUAGES:
        return cookie
    wanted = []
    for i, part in enumerate((accept or "").split(",")):
        code, _, params = part.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        wanted.append((-q, i, code.strip().lower()[:2]))
    for minus_q, _, code in sorted(wanted):
        if code in LANGUAGES and minus_q < 0:
            return code
    return DEFAULT


def number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    lang = current.get()
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    if abs(round(float(value), digits)) < 10 ** (2 + MIN_GROUPING_DIGITS.get(lang, 1)):
        fmt = fmt.replace("#,##", "")
    return format_decimal(value, format=fmt, locale=lang)


def percent(value: Any, digits: int = 1) -> str:
    """A value already in percent (12.5 → "12.5%", "12,5 %" with the locale's own spacing)."""
    if value is None:
        return "–"
    pattern = Locale.parse(current.get()).percent_formats[None].pattern
    if digits:
        pattern = re.sub(r"0(?=[^0]*$)", "0." + "0" * digits, pattern, count=1)
    return format_percent(value / 100.0, format=pattern, locale=current.get())


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


def country_name(code: str, lang: str | None = None) -> str:
    """A country's name in `lang` (default: the interface language), CLDR's through Babel, by ISO 3166 alpha-2
    or alpha-3 code: `country_name("TCD", "fr")` is "Tchad". The code itself when CLDR names no such country."""
    import pycountry

    code = (code or "").strip().upper()
    if len(code) == 3:
        found = pycountry.countries.get(alpha_3=code)
        if found is None:
            return code
        code = found.alpha_2
    return Locale.parse(lang or current.get()).territories.get(code, code)


def country_label(code: str, given: str | None = None) -> str:
    """A template's country name: CLDR's in the interface language, else the name the data gives, else the code
    (`{{ c.code|country(c.name) }}`)."""
    name = country_name(code)
    return given or name if name == (code or "").strip().upper() else name
