"""Headline figures as IOM's reports give them, for one day, each with the record ids it counts.

- travel measures in force and the countries, territories or areas issuing them, per source;
- entry restrictions vs conditions for authorised entry (measures and countries), conditions by group;
- points of entry: the share of each operational status (latest assessment on or before the day), overall
  and by PoE type.

A travel measure is any measure in force except those coded `not_travel` and COBAP's "no policy" rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from passage.packs.travel.poe import poe_shares, poe_status
from passage.packs.travel.sources import MEASURES, Relations, current, parse_day
from passage.store import Store

CATEGORIES = ("entry_restriction", "entry_condition", "exit_restriction")
UNMAPPED = "unmapped"


def measures_in_force(store: Store, day: date, rel: Relations) -> dict[str, Any]:
    """Per source: measures and countries in force, split by category and by condition group."""
    rows = store.query(f"""
        SELECT source, coalesce(category, '{UNMAPPED}') AS category, condition_group, iso3,
               array_agg(_record_id ORDER BY _record_id) AS ids
        FROM {rel.of(MEASURES)} AS t
        WHERE action = 'introduce' AND date_in_force <= ? AND (date_lifted IS NULL OR ? < date_lifted)
          AND coalesce(category, '') <> 'not_travel'
          AND NOT (source = 'cobap' AND upper(trim(coalesce(native_category, ''))) = 'NOPOLICYIMPLEMENTED')
        GROUP BY source, coalesce(category, '{UNMAPPED}'), condition_group, iso3""", [day, day])

    def empty() -> dict[str, Any]:
        return {"measures": 0, "countries": set(), "record_ids": []}

    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"total": empty(), "categories": defaultdict(empty),
                                                          "condition_groups": defaultdict(empty)})
    for source, category, group, iso3, ids in rows:
        ids = list(ids)
        blocks = [per[source]["total"], per[source]["categories"][category]]
        if category == "entry_condition":
            blocks.append(per[source]["condition_groups"][group or "other"])
        for b in blocks:
            b["measures"] += len(ids)
            b["countries"].add(iso3)
            b["record_ids"] += ids

    def done(b: dict[str, Any]) -> dict[str, Any]:
        return {"measures": b["measures"], "countries": len(b["countries"]),
                "country_codes": sorted(c for c in b["countries"] if c), "record_ids": sorted(b["record_ids"])}

    out = {}
    for source in sorted(per):
        p = per[source]
        cats = {c: done(p["categories"].get(c) or empty()) for c in (*CATEGORIES, UNMAPPED)
                if c in p["categories"] or c != UNMAPPED}
        out[source] = {**done(p["total"]), "categories": cats,
                       "condition_groups": {g: done(b) for g, b in sorted(p["condition_groups"].items())}}
    return out


def headline(store: Store, day: date | str, *, rel: Relations | None = None) -> dict[str, Any]:
    """Measures in force, entry restrictions vs conditions, PoE operational status shares on `day`."""
    day = parse_day(day)
    rel = rel or current(store)
    return {"date": day, "measures": measures_in_force(store, day, rel),
            "points_of_entry": poe_shares(poe_status(store, day, rel=rel))}


def without_record_ids(value: Any) -> Any:
    """The same figures without their record ids (for compact answers; ids stay one call away)."""
    if isinstance(value, dict):
        return {k: without_record_ids(v) for k, v in value.items() if k not in ("record_ids", "country_codes")}
    return value
