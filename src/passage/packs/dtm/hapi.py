"""HDX HAPI's IDP table, computed from the current DTM records the way OCHA computes it.

OCHA builds this table from the DTM API (hdx-scraper-iom-dtm); ours must match it row
for row for the same input. Its rules, as we follow them:

- one row per country, provider's admin codes and names, admin level, assessment type,
  operation, reporting date and round: `population` is summed over the rest (displacement
  reasons, origins); rows are ordered by those keys in that order, a missing value first;
- admin 1 and 2 codes normalised to the COD (`PCode length TD07->TCD07`), names from the
  COD, the provider's names in `provider_*`; admin0 rows carry no admin fields and no
  warning;
- warnings per row, admin 2 before admin 1, joined with `|`: a converted code says
  `PCode length <given>-><COD>`; a code given exactly as in the COD whose provider name
  matches another place says `PCode mismatch <code> != <name>` (checked at the row's own level
  only), with the name matching of the hdx-python-country OCHA's pipeline pins (`hapi_name_match`:
  `Nord Ouest` is the COD's North-East there, so HT09 named `Nord Ouest` is a mismatch); an admin 1
  code that is not the admin 2 code's parent says `PCode mismatch <given>-><parent> (parent)`
  (our import rejects such rows, so it does not occur here);
- `has_hrp`, `in_gho` are `Y`/`N`; dates `YYYY-MM-DD`; `error` is empty because the
  import rejects what OCHA would mark there (duplicate rows).
"""

from __future__ import annotations

from functools import cache
from weakref import WeakKeyDictionary

import pyarrow as pa
import pyarrow.compute as pc

from passage.places.pcodes import PCODE_RE, PcodeResolver
from passage.publish.tables import PublishedTable, conform
from passage.store import Store

COLUMNS = ["location_code", "has_hrp", "in_gho", "provider_admin1_name", "provider_admin2_name", "admin1_code",
           "admin1_name", "admin2_code", "admin2_name", "admin_level", "operation", "assessment_type", "population",
           "reporting_round", "reference_period_start", "reference_period_end", "warning", "error"]

# The hashtag row OCHA's HAPI CSV carries (`passage export hapi-idps --format hxl`).
HXL = {"location_code": "#country+code", "has_hrp": "#meta+has_hrp", "in_gho": "#meta+in_gho",
       "provider_admin1_name": "#adm1+name+provider", "provider_admin2_name": "#adm2+name+provider",
       "admin1_code": "#adm1+code", "admin1_name": "#adm1+name", "admin2_code": "#adm2+code",
       "admin2_name": "#adm2+name", "admin_level": "#adm+level", "operation": "#operation+name",
       "assessment_type": "#assessment+type", "population": "#affected+idps", "reporting_round": "#round+code",
       "reference_period_start": "#date+start", "reference_period_end": "#date+end", "warning": "#meta+warning",
       "error": "#meta+error"}

# Counts and levels are whole numbers on every store (a sum is HUGEINT on DuckDB, NUMERIC on PostgreSQL).
TYPES = {"admin_level": pa.int64(), "population": pa.int64(), "reporting_round": pa.int64(),
         "reference_period_start": pa.date32(), "reference_period_end": pa.date32()}

NONE = "***NONE***"  # where OCHA's grouping puts a missing value: before any code or name

# One row per OCHA grouping key. `given*` are the provider's codes as they came (before
# normalisation); names are the COD's for the normalised codes.
SQL = f"""
WITH g AS (
  SELECT r.admin0_pcode AS location_code,
         r.admin0_name,
         r.admin1_name AS provider_admin1_name,
         r.admin2_name AS provider_admin2_name,
         CASE WHEN r.admin_level >= 1 THEN r.admin1_pcode END AS admin1_code,
         CASE WHEN r.admin_level >= 1 THEN coalesce(r.provider_admin1_pcode, r.admin1_pcode) END AS given1,
         CASE WHEN r.admin_level >= 2 THEN r.admin2_pcode END AS admin2_code,
         CASE WHEN r.admin_level >= 2 THEN coalesce(r.provider_admin2_pcode, r.admin2_pcode) END AS given2,
         r.admin_level,
         r.operation,
         r.assessment_type,
         sum(r.num_present_idp_ind) AS population,
         r.round_number,
         r.reporting_date
  FROM {{source}} r
  GROUP BY r.admin0_pcode, r.admin0_name, r.admin1_name, r.admin2_name, r.admin_level,
           CASE WHEN r.admin_level >= 1 THEN r.admin1_pcode END,
           CASE WHEN r.admin_level >= 1 THEN coalesce(r.provider_admin1_pcode, r.admin1_pcode) END,
           CASE WHEN r.admin_level >= 2 THEN r.admin2_pcode END,
           CASE WHEN r.admin_level >= 2 THEN coalesce(r.provider_admin2_pcode, r.admin2_pcode) END,
           r.operation, r.assessment_type, r.round_number, r.reporting_date
)
SELECT g.location_code,
       coalesce(g.provider_admin1_name, '') AS provider_admin1_name,
       coalesce(g.provider_admin2_name, '') AS provider_admin2_name,
       coalesce(g.admin1_code, '') AS admin1_code,
       coalesce(p1.name, '') AS admin1_name,
       coalesce(g.admin2_code, '') AS admin2_code,
       coalesce(p2.name, '') AS admin2_name,
       CAST(g.admin_level AS INTEGER) AS admin_level,
       g.operation,
       g.assessment_type,
       g.population,
       g.round_number AS reporting_round,
       g.reporting_date AS reference_period_start,
       g.reporting_date AS reference_period_end,
       g.given1, g.given2,
       coalesce(g.admin0_name, '{NONE}') AS _k0,
       coalesce(g.provider_admin1_name, '{NONE}') AS _k1,
       coalesce(g.provider_admin2_name, '{NONE}') AS _k2,
       coalesce(g.given1, '{NONE}') AS _g1,
       coalesce(g.given2, '{NONE}') AS _g2
FROM g
LEFT JOIN places p1 ON p1.code = g.admin1_code
LEFT JOIN places p2 ON p2.code = g.admin2_code
"""

# OCHA's groupby order (pandas sorts the keys by code point); Arrow sorts strings the same way on
# every backend, where SQL collations would not.
ORDER = ["location_code", "_g1", "_g2", "_k0", "_k1", "_k2", "admin_level", "assessment_type", "operation",
         "reference_period_start", "reporting_round"]
WARNING_KEY = ["location_code", "admin_level", "_g1", "admin1_code", "_k1", "_g2", "admin2_code", "_k2"]


@cache
def hrp_gho(iso3: str) -> tuple[str, str]:
    """Whether a country has a Humanitarian Response Plan and is in the Global Humanitarian Overview: Y/N."""
    from hdx.location.country import Country

    info = Country.get_country_info_from_iso3(iso3, use_live=False) or {}
    return ("Y" if info.get("Has HRP") == "Y" else "N"), ("Y" if info.get("In GHO") == "Y" else "N")


PHONETIC_THRESHOLD = 2  # the largest RefinedSoundex distance a fuzzy match may have (hdx-python-utilities 3.9)
FUZZY_LENGTH = 4  # names shorter than this, once normalised, are matched exactly or not at all
_CHILDREN: WeakKeyDictionary = WeakKeyDictionary()  # resolver -> {(iso3, level, parent): [(name, code, sounds)]}


def _sound(name: str) -> str | None:
    """pyphonetics' RefinedSoundex code, as hdx-python-utilities 3.9's `Phonetics` computes it; None for a
    name without a letter (the library would raise there)."""
    from pyphonetics import RefinedSoundex
    from pyphonetics.exceptions import EmptyStringError

    try:
        return RefinedSoundex().phonetics(name)
    except (EmptyStringError, IndexError):
        return None


def _variants(name: str) -> list[str]:
    """A COD name as the fuzzy step tries it: itself, then `al `/`ad ` swapped and the article dropped."""
    if name[:3] not in ("al ", "ad "):
        return [name]
    return [n for n in (name, ("ad " if name[:3] == "al " else "al ") + name[3:], name[3:]) if n]


def _children(resolver: PcodeResolver, iso3: str, level: int, parent: str | None) -> list[tuple[str, str, list]]:
    """The places under `parent` at `level`, in code order: (normalised name, code, sounds of its variants)."""
    from hdx.utilities.text import normalise

    index = _CHILDREN.setdefault(resolver, {})
    key = (iso3, level, parent)
    if key not in index:
        found: dict[str, str] = {}
        for code, place in sorted(resolver.places.items()):
            if place.country == iso3 and place.level == level and place.parent == parent and place.name:
                found[normalise(place.name)] = code  # a name given twice is the later code's, as in the library
        index[key] = [(name, code, [_sound(v) for v in _variants(name)]) for name, code in found.items()]
    return index[key]


def hapi_name_match(resolver: PcodeResolver, iso3: str, name: str, level: int, parent: str | None) -> str | None:
    """The P-code OCHA's HAPI pipeline finds for a provider's admin name: `AdminLevel.get_pcode` of
    hdx-python-country 3.9.8, the version hdx-scraper-iom-dtm pins, with no admin name mappings (it gives none).

    Exact after normalisation among the parent's children, then the first COD name (in code order) holding the
    name, then the nearest by RefinedSoundex code: Levenshtein distance at most 2, the first on a tie. Later
    versions match with RapidFuzz and name parts and find `Nord Ouest` to be North-West (HT09); 3.9.8's
    phonetic codes put North-East (HT04) level with it and first, so HAPI warns `PCode mismatch HT09 != Nord
    Ouest` on Haiti's admin 1 rows named so (`resolver.match_name` follows the installed library instead)."""
    from hdx.utilities.text import normalise
    from pyphonetics.distance_metrics import levenshtein_distance

    if not name:
        return None
    if PCODE_RE.match(name):  # a code where a name belongs: the code, converted to the COD's length if need be
        return resolver.resolve(iso3, name, level).code
    children = _children(resolver, iso3, level, parent)
    wanted = normalise(name)
    exact = [code for cod_name, code, _ in children if cod_name == wanted]
    if exact or len(wanted) < FUZZY_LENGTH:
        return exact[0] if exact else None
    held = [code for cod_name, code, _ in children if wanted in cod_name]
    if held:
        return held[0]
    sound = _sound(wanted)
    best, found = None, None
    for _, code, sounds in children if sound else ():
        for other in sounds:
            distance = None if other is None else levenshtein_distance(sound, other)
            if distance is not None and (best is None or distance < best):
                best, found = distance, code
    return found if best is not None and best <= PHONETIC_THRESHOLD else None


def admin_warnings(resolver: PcodeResolver, iso3: str, given: list[str | None], codes: list[str | None],
                   names: list[str | None]) -> list[str]:
    """OCHA's warnings for one row's admin codes, deepest level first.

    `given[i]`, `codes[i]`, `names[i]`: the provider's code, the COD code it resolved to and the
    provider's name at admin level i + 1, for each level the row has."""
    out: list[str] = []
    child = None
    for i in reversed(range(len(codes))):
        g, c = given[i], codes[i]
        if not c:
            continue
        if g and g != c:
            out.append(f"PCode length {g}->{c}")
        elif child is not None:
            parent = resolver.parent_of(child)
            if parent and parent != c:
                out.append(f"PCode mismatch {c}->{parent} (parent)")
        elif names[i]:
            match = hapi_name_match(resolver, iso3, names[i], i + 1, resolver.parent_of(c))
            if match and match != c:
                out.append(f"PCode mismatch {c} != {names[i]}")
        child = c
    return out


def _warnings(store: Store, data: pa.Table) -> pa.Array:
    """The warning of every row, worked out once per distinct set of codes and names."""
    if data.num_rows == 0:
        return pa.array([], pa.string())
    parts = [pc.cast(data.column(k), pa.string()) for k in WARNING_KEY]
    key = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace").combine_chunks()
    key = key.dictionary_encode()
    rows = pa.table({"i": key.indices, "row": pa.array(range(data.num_rows), pa.int64())})
    first = rows.group_by("i").aggregate([("row", "min")]).sort_by("i").column("row_min")
    distinct = data.select(WARNING_KEY).take(first).to_pylist()
    countries = sorted({d["location_code"] for d in distinct if d["admin_level"] > 0})
    resolver = PcodeResolver(store, countries) if countries else None
    text = []
    for d in distinct:
        level = d["admin_level"]
        if level <= 0 or resolver is None:
            text.append("")
            continue
        given = [None if v == NONE else v for v in (d["_g1"], d["_g2"])][:level]
        codes = [d["admin1_code"], d["admin2_code"]][:level]
        names = [None if v == NONE else v for v in (d["_k1"], d["_k2"])][:level]
        text.append("|".join(admin_warnings(resolver, d["location_code"], given, codes, names)))
    return pc.take(pa.array(text, pa.string()), key.indices)


def hapi_idps(store: Store, source: str = "dtm_idps") -> PublishedTable:
    """`source`: the relation of current DTM records to start from (the form's view, or what a reader may see)."""
    sql = SQL.replace("{source}", source if source == "dtm_idps" else f"({source})")
    if store.dialect == "duckdb":  # DuckDB compares strings by code point, as Python does
        data = store.arrow(sql + "ORDER BY " + ", ".join(ORDER))
    else:  # a server's collation may not: sort here
        data = store.arrow(sql)
        data = data.take(pc.sort_indices(data, sort_keys=[(k, "ascending") for k in ORDER]))
    country = data.column("location_code").combine_chunks().dictionary_encode()
    flags = [hrp_gho(c) for c in country.dictionary.to_pylist()]
    for i, col in enumerate(("has_hrp", "in_gho")):
        values = pa.array([f[i] for f in flags], pa.string())
        data = data.append_column(col, pc.take(values, country.indices))
    data = data.append_column("warning", _warnings(store, data))
    data = data.append_column("error", pa.array([""] * data.num_rows, pa.string()))
    title = "HDX HAPI: IDPs by admin area, operation and round"
    return PublishedTable("hapi-idps", title, conform(data.select(COLUMNS), TYPES), hxl=HXL)
