"""P-code normalisation: match a provider's code to the COD table's, as OCHA does.

Providers often code a country by its ISO2 prefix where the COD uses ISO3 (a provider's
Chad `TD0704` is the COD's `TCD0704`), or pad admin digits differently. OCHA's HAPI
pipeline converts such codes with hdx-python-country's `AdminLevel`, driven by the
P-code length table; we use the same library over our own place table, so a code
converts here exactly when it converts in OCHA's HAPI output. A candidate is accepted
only if it exists at the expected level. The provider's code is always kept beside
the normalised one, with a warning saying what changed (`PCode length TD07->TCD07`).

Names are matched to codes the same way (`match_name`): exact after normalisation
within the parent, then the library's substring, name-part and fuzzy matching. HAPI
calls a name a mismatch when it matches another place than the code says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pycountry

from passage.store import Store

PCODE_RE = re.compile(r"^([A-Za-z]{2,3})(\d+)$")


@dataclass(frozen=True)
class Resolved:
    code: str | None  # the COD code, None when unknown
    level: int | None  # level of the COD code
    warning: str | None = None  # "PCode length TD07->TCD07"


@dataclass
class _Place:
    level: int
    name: str
    parent: str | None
    country: str


def _offline_countries() -> None:
    """hdx-python-country reads its country table from the web unless told otherwise: never at run time."""
    from hdx.location.country import Country

    Country.countriesdata(use_live=False)


class PcodeResolver:
    """Look codes up in the place table, normalising them where the COD codes differ."""

    def __init__(self, store: Store, countries: list[str] | None = None):
        """countries: load only these countries' places (all when None)."""
        from passage.places.bundled import ensure_places

        ensure_places(store)  # a store's first import: the places it checks against
        where, params = "", []
        if countries is not None:
            marks = ", ".join("?" * len(countries))
            where = f" WHERE country_code IN ({marks})" if countries else " WHERE false"
            params = list(countries)
        self.places: dict[str, _Place] = {
            code: _Place(level, name, parent, country)
            for code, level, name, parent, country in store.query(
                f"SELECT code, level, name, parent_code, country_code FROM places{where} ORDER BY code",
                params,
            )
        }
        self.lengths: dict[str, dict[str, str]] = {}
        for iso3, clen, *levels in store.query(
            f"SELECT country_code, country_len, adm1_len, adm2_len, adm3_len FROM pcode_lengths{where}",
            params,
        ):
            row = {"Location": iso3, "Country Length": str(clen or 0)}
            row.update({f"Admin {i} Length": v or "" for i, v in enumerate(levels, start=1)})
            self.lengths[iso3] = row
        self._cache: dict[tuple[str, str, int], Resolved] = {}
        self._admins: dict[int, object] = {}  # level -> hdx AdminLevel, filled country by country
        self._loaded: dict[int, set[str]] = {}
        self._by_country: dict[str, list[tuple[str, _Place]]] | None = None

    def parent_of(self, code: str) -> str | None:
        p = self.places.get(code)
        return p.parent if p else None

    def level_of(self, code: str) -> int | None:
        p = self.places.get(code)
        return p.level if p else None

    def resolve(self, iso3: str, code: str, level: int) -> Resolved:
        key = (iso3, code, level)
        if key not in self._cache:
            self._cache[key] = self._resolve(iso3.strip().upper(), code.strip().upper(), level)
        return self._cache[key]

    def _resolve(self, iso3: str, code: str, level: int) -> Resolved:
        if code in self.places:
            return Resolved(code, self.places[code].level)
        m = PCODE_RE.match(code)
        if level == 0 or not m:
            return Resolved(None, None)
        # The library's first step, done here so the common case needs no import of it: the country
        # prefix swapped for the length the COD uses (ISO2 <-> ISO3), digits unchanged.
        fmt = self.lengths.get(iso3)
        if fmt:
            prefix, digits = m.groups()
            want = int(fmt["Country Length"])
            if len(prefix) != want:
                country = pycountry.countries.get(alpha_3=iso3)
                prefix = (country.alpha_2 if want < len(prefix) else iso3) if country else ""
            place = self.places.get(prefix + digits) if prefix else None
            if place is not None and place.level == level:
                return Resolved(prefix + digits, level, f"PCode length {code}->{prefix + digits}")
        try:
            new = self._admin(level, iso3).convert_admin_pcode_length(iso3, code)
        except (IndexError, KeyError):  # a country without P-codes or formats at this level
            new = None
        place = self.places.get(new) if new else None
        if place is None or place.level != level:
            return Resolved(None, None)
        return Resolved(new, level, f"PCode length {code}->{new}")

    def match_name(self, iso3: str, name: str, level: int, parent: str | None) -> str | None:
        """The P-code a provider's name stands for at this level, under this parent (the COD's parent code;
        the country code at admin 1), or None. Exact match after normalisation first, then fuzzy."""
        if not name or level < 1:
            return None
        iso3 = iso3.strip().upper()
        code, _exact = self._admin(level, iso3).get_pcode(iso3, name, parent=parent)
        return code

    def _admin(self, level: int, iso3: str):
        """hdx-python-country's AdminLevel for one level, loaded with our places for this country."""
        from hdx.location.adminlevel import AdminLevel

        admin = self._admins.get(level)
        if admin is None:
            _offline_countries()
            admin = self._admins[level] = AdminLevel(admin_level=level)
            self._loaded[level] = set()
        if iso3 not in self._loaded[level]:
            self._loaded[level].add(iso3)
            if self._by_country is None:
                self._by_country = {}
                for code, p in self.places.items():
                    if p.level > 0:
                        self._by_country.setdefault(p.country, []).append((code, p))
            rows = [{"Location": p.country, "Admin Level": str(p.level), "P-Code": code, "Name": p.name,
                     "Parent P-Code": p.parent or ""}
                    for code, p in self._by_country.get(iso3, []) if p.level in (level - 1, level)]
            if rows:
                admin.setup_from_iterable(rows)
            if iso3 in self.lengths:
                admin.load_pcode_formats_from_iterable([self.lengths[iso3]])
        return admin
