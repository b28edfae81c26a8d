"""A country's travel status on a day, per source: one comparable scale over trackers that code differently.

Statuses, from most to least restrictive: `complete_closure`, `partial_restriction`, `conditions_only`,
`no_restriction`, and `no_data`. How each source maps onto them (docs/travel.md prints this table):

- daily levels (OxCGRT C8, `travel_level`): 4 complete closure, 3 partial restriction, 1-2 conditions only,
  0 no restriction, no row that day no data. The level is read from indicator C8, else C8EV, else C8NV.
- COBAP policies (`travel_measure`, source `cobap`): a COMPLETE policy in force, else a PARTIAL one; else
  (a NOPOLICYIMPLEMENTED policy or nothing in force) no restriction.
- IOM-model measures (ACAPS, IOM): a complete closure in force; else any other entry restriction; else an
  entry condition only; else no restriction once the source has a dated record for the country, no data before.

A measure is in force on day D when it introduces something, D >= date_in_force and D < date_lifted (or
never lifted). Every row carries the record ids that decided it, so each status traces back to records.
The same SQL serves one day for all countries and a range of days for one country (`timeline`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from passage.packs.travel.sources import (
    LEVELS,
    MEASURES,
    Relations,
    check_sources,
    current,
    kind_of,
    list_sources,
    parse_day,
)
from passage.store import Store

STATUSES = ("complete_closure", "partial_restriction", "conditions_only", "no_restriction", "no_data")
LEVEL_INDICATORS = ("C8", "C8EV", "C8NV")  # in order of preference
CSV_COLUMNS = ("iso3", "date", "source", "native_value", "status")


@dataclass
class StatusRow:
    iso3: str
    date: date
    source: str
    native_value: str | None
    status: str
    record_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _in(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


def _level_sql(rel: Relations, days: str, names: list[str], iso3: str | None) -> tuple[str, list]:
    only = " AND iso3 = ?" if iso3 else ""
    sql = f"""
    WITH days AS ({days}),
    lv AS (SELECT _record_id, source, iso3, "date" AS day, indicator, "value" FROM {rel.of(LEVELS)} AS t
           WHERE source IN ({_in(names)}) AND indicator IN ({_in(list(LEVEL_INDICATORS))}){only}),
    cov AS (SELECT DISTINCT source, iso3 FROM {rel.of(LEVELS)} AS t WHERE source IN ({_in(names)}){only}),
    pick AS (SELECT lv._record_id, lv.source, lv.iso3, lv.day, lv."value",
                    row_number() OVER (PARTITION BY lv.source, lv.iso3, lv.day ORDER BY
                      CASE lv.indicator WHEN 'C8' THEN 0 WHEN 'C8EV' THEN 1 ELSE 2 END) AS rn
             FROM lv JOIN days d ON lv.day = d.day)
    SELECT d.day, c.iso3, c.source, CAST(p."value" AS VARCHAR) AS native_value,
           CASE WHEN p."value" IS NULL THEN 'no_data' WHEN p."value" >= 4 THEN 'complete_closure'
                WHEN p."value" = 3 THEN 'partial_restriction' WHEN p."value" >= 1 THEN 'conditions_only'
                ELSE 'no_restriction' END AS status,
           p._record_id
    FROM cov c CROSS JOIN days d
    LEFT JOIN pick p ON p.rn = 1 AND p.source = c.source AND p.iso3 = c.iso3 AND p.day = d.day
    ORDER BY c.iso3, c.source, d.day"""
    params = [*names, *LEVEL_INDICATORS] + ([iso3] if iso3 else []) + names + ([iso3] if iso3 else [])
    return sql, params


def _measure_sql(rel: Relations, days: str, names: list[str], iso3: str | None) -> tuple[str, list]:
    only = " AND iso3 = ?" if iso3 else ""
    sql = f"""
    WITH days AS ({days}),
    m AS (SELECT _record_id, source, iso3, category, subcategory, upper(trim(native_category)) AS ncat,
                 trim(native_measure) AS nmeasure, action, date_issued, date_in_force, date_lifted
          FROM {rel.of(MEASURES)} AS t WHERE source IN ({_in(names)}){only}),
    cov AS (SELECT source, iso3, min(coalesce(date_in_force, date_issued)) AS first_day FROM m GROUP BY source, iso3),
    live AS (SELECT d.day, m.* FROM m JOIN days d
               ON m.action = 'introduce' AND m.date_in_force <= d.day AND (m.date_lifted IS NULL OR d.day < m.date_lifted)
             WHERE m.source = 'cobap' OR m.category IN ('entry_restriction', 'entry_condition')),
    agg AS (SELECT day, source, iso3,
                   bool_or(CASE WHEN source = 'cobap' THEN ncat = 'COMPLETE' ELSE subcategory = 'complete_closure' END)
                     AS closure,
                   bool_or(CASE WHEN source = 'cobap' THEN ncat = 'PARTIAL' ELSE category = 'entry_restriction' END)
                     AS restriction,
                   bool_or(source <> 'cobap' AND category = 'entry_condition') AS conditions,
                   string_agg(DISTINCT CASE WHEN source = 'cobap' THEN ncat ELSE coalesce(nullif(nmeasure, ''), subcategory)
                              END, ';' ORDER BY CASE WHEN source = 'cobap' THEN ncat
                              ELSE coalesce(nullif(nmeasure, ''), subcategory) END) AS native_value,
                   array_agg(_record_id ORDER BY _record_id) AS record_ids
            FROM live GROUP BY day, source, iso3)
    SELECT d.day, c.iso3, c.source, a.native_value,
           CASE WHEN a.closure THEN 'complete_closure' WHEN a.restriction THEN 'partial_restriction'
                WHEN a.conditions THEN 'conditions_only'
                WHEN c.source = 'cobap' OR d.day >= c.first_day THEN 'no_restriction' ELSE 'no_data' END AS status,
           a.record_ids
    FROM cov c CROSS JOIN days d
    LEFT JOIN agg a ON a.day = d.day AND a.source = c.source AND a.iso3 = c.iso3
    ORDER BY c.iso3, c.source, d.day"""
    return sql, [*names] + ([iso3] if iso3 else [])


ONE_DAY = "SELECT CAST(? AS DATE) AS day"
DAY_RANGE = ("SELECT CAST(g.d AS DATE) AS day FROM generate_series(CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), "
             "INTERVAL '1 day') AS g(d)")


def status_rows(store: Store, rel: Relations, days: tuple[date, ...], names: list[str],
                iso3: str | None = None, have: dict[str, str] | None = None) -> list[StatusRow]:
    """Status rows for one day (`days` = (d,)) or every day of a range (`days` = (first, last))."""
    have = list_sources(store, rel) if have is None else have
    days_sql = ONE_DAY if len(days) == 1 else DAY_RANGE
    day_params = [d.isoformat() for d in days]
    out: list[StatusRow] = []
    by_kind = {"level": [n for n in names if kind_of(n, have) == "level"],
               "measure": [n for n in names if kind_of(n, have) == "measure"]}
    for kind, chosen in by_kind.items():
        if not chosen:
            continue
        build = _level_sql if kind == "level" else _measure_sql
        sql, params = build(rel, days_sql, chosen, iso3)
        for day, code, src, native, status, ids in store.query(sql, [*day_params, *params]):
            ids = [ids] if isinstance(ids, str) else list(ids or [])
            out.append(StatusRow(code, day, src, native, status, ids))
    out.sort(key=lambda r: (r.iso3, r.source, r.date))
    return out


def daily_status(store: Store, day: date | str, sources: list[str] | None = None, source: str | None = None,
                 *, iso3: str | None = None, rel: Relations | None = None) -> list[StatusRow]:
    """One row per country and source on `day`, for every country each source covers, sorted by iso3, source.

    With `iso3`, one row per source for that country, `no_data` where a source does not cover it.
    `rel` chooses what is read (default: every current record; the portal passes a reader's relations).
    """
    day = parse_day(day)
    rel = rel or current(store)
    have = list_sources(store, rel)
    names = check_sources(([source] if source else []) + list(sources or []), have)
    rows = status_rows(store, rel, (day,), names, iso3, have)
    if iso3:
        seen = {r.source for r in rows}
        rows += [StatusRow(iso3, day, s, None, "no_data") for s in names if s not in seen]
        rows.sort(key=lambda r: (r.iso3, r.source))
    return rows


def summary(store: Store, day: date | str, sources: list[str] | None = None, *,
            rel: Relations | None = None) -> list[dict[str, Any]]:
    """Countries per status and source on `day` (every status listed, zeros included)."""
    rows = daily_status(store, day, sources, rel=rel)
    counts = Counter((r.source, r.status) for r in rows)
    day = parse_day(day)
    return [{"date": day, "source": s, "status": st, "countries": counts[(s, st)]}
            for s in sorted({r.source for r in rows}) for st in STATUSES]
