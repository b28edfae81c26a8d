"""P-code normalisation: match a provider's code to the COD table's.

Providers often code a country by its ISO2 prefix where the COD uses ISO3 (DTM's
Chad `TD0704` is the COD's `TCD0704`), or pad admin digits differently. We convert
the prefix, then try adding or removing one leading zero per admin segment, and
accept a candidate only if it exists at the expected level. The provider's code is
always kept beside the normalised one, with a warning saying what changed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from itertools import product

import pycountry

from passage.store import Store

PCODE_RE = re.compile(r"^([A-Za-z]{2,3})(\d+)$")


def normalise_name(name: str) -> str:
    """Compare names without case, accents, punctuation or spacing."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(ch for ch in decomposed.lower() if ch.isalnum())


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


class PcodeResolver:
    """Look codes up in the place table, normalising them where the COD codes differ."""

    def __init__(self, store: Store):
        self.places: dict[str, _Place] = {
            code: _Place(level, name, parent, country)
            for code, level, name, parent, country in store.query(
                "SELECT code, level, name, parent_code, country_code FROM places"
            )
        }
        self.formats: dict[str, list[int | None]] = {}
        for iso3, clen, *levels in store.query(
            "SELECT country_code, country_len, adm1_len, adm2_len, adm3_len FROM pcode_lengths"
        ):
            fmt: list[int | None] = [clen]
            for v in levels:
                fmt.append(int(v) if v and "|" not in v else None)
            self.formats[iso3] = fmt
        self._cache: dict[tuple[str, str, int], Resolved] = {}

    def name_of(self, code: str) -> str | None:
        p = self.places.get(code)
        return p.name if p else None

    def parent_of(self, code: str) -> str | None:
        p = self.places.get(code)
        return p.parent if p else None

    def level_of(self, code: str) -> int | None:
        p = self.places.get(code)
        return p.level if p else None

    def resolve(self, iso3: str, code: str, level: int) -> Resolved:
        key = (iso3, code, level)
        if key not in self._cache:
            self._cache[key] = self._resolve(iso3.upper(), code.strip().upper(), level)
        return self._cache[key]

    def _resolve(self, iso3: str, code: str, level: int) -> Resolved:
        if code in self.places:
            return Resolved(code, self.places[code].level)
        m = PCODE_RE.match(code)
        if not m or level == 0:
            return Resolved(None, None)
        prefix, digits = m.groups()
        fmt = self.formats.get(iso3)
        want = fmt[0] if fmt else len(prefix)
        if len(prefix) != want:
            country = pycountry.countries.get(alpha_3=iso3)
            if country is None:
                return Resolved(None, None)
            prefix = country.alpha_2 if want == 2 else country.alpha_3
        for candidate in self._digit_variants(digits, fmt, level):
            new = prefix + candidate
            place = self.places.get(new)
            if place is not None and place.level == level:
                return Resolved(new, level, f"PCode length {code}->{new}")
        return Resolved(None, None)

    @staticmethod
    def _digit_variants(digits: str, fmt: list[int | None] | None, level: int) -> list[str]:
        """The digits as given first, then with one leading zero added or removed per admin segment."""
        out = [digits]
        if not fmt or any(fmt[i] is None for i in range(1, min(level, len(fmt) - 1) + 1)):
            return out
        lengths = [fmt[i] for i in range(1, level + 1)]
        # Split greedily assuming each segment is off by at most one digit.
        def splits(rest: str, segs: list[int]) -> list[list[str]]:
            if not segs:
                return [[]] if not rest else []
            res = []
            for n in (segs[0], segs[0] - 1, segs[0] + 1):
                if 0 < n <= len(rest):
                    res += [[rest[:n]] + tail for tail in splits(rest[n:], segs[1:])]
            return res
        for parts in splits(digits, lengths):
            options = []
            for part, n in zip(parts, lengths):
                if len(part) == n:
                    options.append([part])
                elif len(part) == n - 1:
                    options.append(["0" + part])
                elif part.startswith("0"):
                    options.append([part[1:]])
                else:
                    options.append([])
            for combo in product(*options):
                v = "".join(combo)
                if v not in out:
                    out.append(v)
        return out
