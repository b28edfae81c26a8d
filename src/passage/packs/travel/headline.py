"""Headline figures as IOM's reports give them, for one day, each with the record ids it counts.

- travel measures in force and the countries, territories or areas issuing them, per source;
- entry restrictions vs conditions for authorised entry (measures and countries), conditions by group;
- points of entry: the share of each operational status (latest assessment on or before the day), overall
  and by PoE type.

The travel figures are the pack's measure `travel_measures_in_force` (pack.yaml): what a travel measure is
(any measure introduced, except those coded `not_travel` and COBAP's "no policy" rows) is declared there;
this module gives it the measures in force on the day and assembles the splits from its rows.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

import ibis

from passage.measures import Measure, compute, parse_measures, provenance
from passage.packs.travel.poe import poe_shares, poe_status
from passage.packs.travel.sources import MEASURES, PACK, Relations, current, parse_day
from passage.store import Store

CATEGORIES = ("entry_restriction", "entry_condition", "exit_restriction")
UNMAPPED = "unmapped"
OTHER_GROUP = "other"
IN_FORCE = "travel_measures_in_force"


@cache
def in_force_measure() -> Measure:
    from passage.plugins import load_pack

    found = {m.name: m for m in parse_measures(load_pack(PACK).spec.get("measures") or [], PACK)}
    return found[IN_FORCE]


def in_force(store: Store, day: date, rel: Relations) -> ibis.Table:
    """The travel measure records of `rel` in force on `day` (introduced by then, not lifted yet)."""
    con = store.ibis()
    sql = rel.measures
    # a reader's relation has the form's columns; given its schema, Ibis need not run it to learn them
    t = con.table(sql) if " " not in sql.strip() else con.sql(
        sql, schema=con.table(MEASURES).schema(), dialect="duckdb" if store.dialect == "duckdb" else "postgres")
    return t.filter(t.date_in_force <= day, t.date_lifted.isnull() | (t.date_lifted > day))


def measures_in_force(store: Store, day: date, rel: Relations, *, record_ids: bool = True) -> dict[str, Any]:
    """Per source: measures and countries in force, split by category and by condition group, each block
    with the record ids it counts (`record_ids=False`: empty lists, for a page that shows none: each block's
    ids are a query of their own)."""
    m = in_force_measure()
    table = in_force(store, day, rel)
    everything = m.model_copy(update={"by": []})

    def block(where: Any = None) -> dict[str, Any]:
        return {"measures": 0, "countries": set(), "where": where}

    def narrowed(column: str, value: Any) -> Any:
        return table[column].isnull() if value is None else table[column] == value

    per: dict[str, dict[str, Any]] = {}
    for r in compute(store, m, table=table).to_pylist():
        source, category, group = r["source"], r["category"], r["condition_group"]
        # each block keeps the filter that narrows the day's table to its records (no category: unmapped)
        p = per.get(source) or per.setdefault(source, {"total": block(narrowed("source", source)), "categories": {},
                                                       "condition_groups": {}})
        cat = p["categories"].get(category or UNMAPPED) or p["categories"].setdefault(
            category or UNMAPPED, block(p["total"]["where"] & narrowed("category", category)))
        blocks = [p["total"], cat]
        if category == "entry_condition":
            blocks.append(p["condition_groups"].get(group or OTHER_GROUP) or p["condition_groups"].setdefault(
                group or OTHER_GROUP, block(cat["where"] & narrowed("condition_group", group))))
        for b in blocks:
            b["measures"] += r["value"]
            b["countries"].add(r["iso3"])

    def done(b: dict[str, Any]) -> dict[str, Any]:
        ids = provenance(store, everything, table=table.filter(b["where"])).record_ids \
            if b["measures"] and record_ids else []
        return {"measures": b["measures"], "countries": len(b["countries"]),
                "country_codes": sorted(c for c in b["countries"] if c), "record_ids": ids}

    out = {}
    for source in sorted(per):
        p = per[source]
        cats = {c: done(p["categories"].get(c) or block()) for c in (*CATEGORIES, UNMAPPED)
                if c in p["categories"] or c != UNMAPPED}
        out[source] = {**done(p["total"]), "categories": cats,
                       "condition_groups": {g: done(b) for g, b in sorted(p["condition_groups"].items())}}
    return out


def headline(store: Store, day: date | str, *, rel: Relations | None = None, record_ids: bool = True) -> dict[str, Any]:
    """Measures in force, entry restrictions vs conditions, PoE operational status shares on `day` (with the record
    ids behind each figure unless `record_ids=False`)."""
    day = parse_day(day)
    rel = rel or current(store)
    return {"date": day, "measures": measures_in_force(store, day, rel, record_ids=record_ids),
            "points_of_entry": poe_shares(poe_status(store, day, rel=rel))}


def without_record_ids(value: Any) -> Any:
    """The same figures without their record ids (for compact answers; ids stay one call away)."""
    if isinstance(value, dict):
        return {k: without_record_ids(v) for k, v in value.items() if k not in ("record_ids", "country_codes")}
    return value
