"""Where the travel figures read from, and which sources exist there.

Every figure starts from four relations: measures (`travel_measure`), daily levels (`travel_level`), the
PoE registry (`poe`) and PoE assessments (`poe_assessment`). From the command line they are the forms'
current-records views; in the portal they are what `passage.access.readable` lets the reader see, so
roles and releases apply to the travel pages exactly as to every other dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from passage.errors import UsageError
from passage.store import Store

PACK = "travel"
MEASURES, LEVELS, REGISTRY, ASSESSMENTS = "travel_measure", "travel_level", "poe", "poe_assessment"
# Portal dataset of each form (pack.yaml `datasets:`); the registry is read beside its assessments.
DATASETS = {MEASURES: "travel_measures", LEVELS: "travel_levels", ASSESSMENTS: "points_of_entry"}
# Sources Passage has importers or a form for; a store may hold others (a tracker loaded as measures).
KNOWN_SOURCES = ("acaps", "cobap", "iom", "oxcgrt")
LEVEL_SOURCES = ("oxcgrt",)
MAX_DAYS = 3700  # a timeline covers ten years at most


@dataclass(frozen=True)
class Relations:
    """SQL relations (a view name or a SELECT) for each travel form."""

    measures: str = MEASURES
    levels: str = LEVELS
    registry: str = REGISTRY
    assessments: str = ASSESSMENTS

    def of(self, form: str) -> str:
        sql = {MEASURES: self.measures, LEVELS: self.levels, REGISTRY: self.registry,
               ASSESSMENTS: self.assessments}[form]
        return f"({sql})" if " " in sql.strip() else sql


def ensure_forms(store: Store) -> None:
    """Install the travel pack when its views are missing (idempotent; reads need the views to exist)."""
    if not all(store.table_exists(f) for f in (MEASURES, LEVELS, REGISTRY, ASSESSMENTS)):
        from passage.plugins import install_pack

        install_pack(store, PACK)


def current(store: Store) -> Relations:
    """Every current record: what officers and the command line work on."""
    ensure_forms(store)
    return Relations()


def for_reader(store: Store, principal: Any) -> Relations:
    """What `principal` may read: released data for the public, more for editors and admins.

    The PoE registry is no dataset of its own: a reader sees the PoEs of the countries whose
    assessments they may read (admins: the whole registry).
    """
    from passage.access import allowed, readable_sql
    from passage.releases import get_dataset

    ensure_forms(store)
    if principal.is_admin:
        return Relations()
    sql = {}
    for form, name in DATASETS.items():
        ds = get_dataset(store, name)
        sql[form] = readable_sql(store, principal, ds) if allowed(principal, "read-dataset", ds) \
            else f"SELECT * FROM {form} WHERE 1 = 0"
    registry = f"SELECT * FROM {REGISTRY} WHERE iso3 IN (SELECT iso3 FROM ({sql[ASSESSMENTS]}) AS seen)"
    return Relations(measures=sql[MEASURES], levels=sql[LEVELS], registry=registry, assessments=sql[ASSESSMENTS])


def countries(store: Store, rel: Relations) -> set[str]:
    """The countries with travel data in these relations (for the map: a reader's names and ids, no others)."""
    found: set[str] = set()
    for form in (MEASURES, LEVELS, ASSESSMENTS):
        found |= {c for (c,) in store.query(f"SELECT DISTINCT iso3 FROM {rel.of(form)} AS t WHERE iso3 IS NOT NULL")}
    return found


def list_sources(store: Store, rel: Relations) -> dict[str, str]:
    """Source name -> kind (`level` for daily trackers' levels, `measure` for coded measures), sorted."""
    found = {s: "level" for (s,) in store.query(f"SELECT DISTINCT source FROM {rel.of(LEVELS)} AS t "
                                                "WHERE source IS NOT NULL")}
    for (s,) in store.query(f"SELECT DISTINCT source FROM {rel.of(MEASURES)} AS t WHERE source IS NOT NULL"):
        found.setdefault(s, "measure")
    return dict(sorted(found.items()))


def source_ranges(store: Store, rel: Relations) -> dict[str, tuple[date, date]]:
    """Source -> (first, last) day it speaks of: level days; measures' dates in force, issued and lifted."""
    out = {s: (a, b) for s, a, b in store.query(
        f'SELECT source, min("date"), max("date") FROM {rel.of(LEVELS)} AS t GROUP BY source')}
    for s, a, b in store.query(
            f"SELECT source, min(coalesce(date_in_force, date_issued)), "
            f"max(greatest(coalesce(date_in_force, date_issued), coalesce(date_lifted, date_in_force, date_issued))) "
            f"FROM {rel.of(MEASURES)} AS t GROUP BY source"):
        if a is not None:
            out.setdefault(s, (a, b))
    return dict(sorted(out.items()))


def kind_of(name: str, have: dict[str, str]) -> str:
    return have.get(name) or ("level" if name in LEVEL_SOURCES else "measure")


def check_sources(names: list[str] | None, have: dict[str, str]) -> list[str]:
    """The sources asked for (all present ones when none), refusing names no importer or record knows."""
    if not names:
        return list(have)
    allowed = set(KNOWN_SOURCES) | set(have)
    bad = [n for n in names if n not in allowed]
    if bad:
        raise UsageError(f"unknown source {', '.join(map(repr, bad))} (have: {', '.join(sorted(allowed))})",
                         code="usage.source")
    return list(dict.fromkeys(names))


def parse_day(value: Any, name: str = "date") -> date:
    """A day as YYYY-MM-DD (a `date` passes through); anything else is a usage error."""
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name} must be a day as YYYY-MM-DD, not {text!r}", code="usage.date") from None


def date_range(store: Store, rel: Relations, iso3: str | None = None) -> tuple[date | None, date | None]:
    """First and last day any travel source speaks of (for one country when given)."""
    where = "WHERE iso3 = ?" if iso3 else ""
    params = [iso3] if iso3 else []
    lv = store.query(f'SELECT min("date"), max("date") FROM {rel.of(LEVELS)} AS t {where}', params)[0]
    ms = store.query(
        f"SELECT min(coalesce(date_in_force, date_issued)), "
        f"max(greatest(coalesce(date_in_force, date_issued), coalesce(date_lifted, date_in_force, date_issued))) "
        f"FROM {rel.of(MEASURES)} AS t {where}", params)[0]
    pa = store.query(f"SELECT min(assessment_date), max(assessment_date) FROM {rel.of(ASSESSMENTS)} AS t {where}",
                     params)[0]
    firsts = [d for d in (lv[0], ms[0], pa[0]) if d is not None]
    lasts = [d for d in (lv[1], ms[1], pa[1]) if d is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)
