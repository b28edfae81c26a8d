"""One country over time: its status per source, day by day, compressed into runs, and its measures.

A run is a stretch of consecutive days with the same status and native value; it lists the record ids
behind it. The days come from the same SQL as the daily status (status.py), over a range instead of one day.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from passage.errors import UsageError
from passage.packs.travel.sources import (
    MAX_DAYS,
    MEASURES,
    Relations,
    check_sources,
    current,
    date_range,
    list_sources,
    parse_day,
)
from passage.packs.travel.status import StatusRow, status_rows
from passage.store import Store


def runs(rows: list[StatusRow]) -> list[dict[str, Any]]:
    """Consecutive days of one source with the same status and native value, as [from, to] runs."""
    out: list[dict[str, Any]] = []
    for r in rows:
        last = out[-1] if out else None
        if (last and last["source"] == r.source and last["status"] == r.status
                and last["native_value"] == r.native_value and last["to"] + timedelta(days=1) == r.date):
            last["to"] = r.date
            last["days"] += 1
            last["record_ids"].update(r.record_ids)
        else:
            out.append({"source": r.source, "status": r.status, "native_value": r.native_value, "from": r.date,
                        "to": r.date, "days": 1, "record_ids": set(r.record_ids)})
    for run in out:
        run["record_ids"] = sorted(run["record_ids"])
    return out


def measures(store: Store, iso3: str, rel: Relations) -> list[dict[str, Any]]:
    """Every measure the country issued, by source and date in force."""
    names, rows = store.columns(f"""
        SELECT _record_id AS record_id, source, source_id, category, subcategory, condition_group, applies_to,
               exceptions, action, date_issued, date_in_force, date_lifted, native_category, native_measure,
               native_value, source_name, source_url
        FROM {rel.of(MEASURES)} AS t WHERE iso3 = ?
        ORDER BY source, date_in_force NULLS LAST, date_issued NULLS LAST, _record_id""", [iso3])
    return [dict(zip(names, r)) for r in rows]


def timeline(store: Store, iso3: str, date_from: date | str | None = None, date_to: date | str | None = None, *,
             sources: list[str] | None = None, rel: Relations | None = None) -> dict[str, Any]:
    """Status runs per source over [date_from, date_to] (default: the country's whole data range) and measures."""
    rel = rel or current(store)
    iso3 = iso3.strip().upper()
    first, last = date_range(store, rel, iso3)
    start = parse_day(date_from, "from") if date_from else first
    end = parse_day(date_to, "to") if date_to else last
    have = list_sources(store, rel)
    names = check_sources(sources, have)
    out: dict[str, Any] = {"iso3": iso3, "from": start, "to": end, "sources": names, "runs": [],
                           "measures": measures(store, iso3, rel)}
    if start is None or end is None:
        return out
    if start > end:
        raise UsageError(f"from ({start}) is after to ({end})", code="usage.dates")
    if (end - start).days >= MAX_DAYS:
        raise UsageError(f"a timeline covers at most {MAX_DAYS} days", code="usage.dates")
    rows = status_rows(store, rel, (start, end), names, iso3, have)
    out["runs"] = runs(rows)
    covered = {r.source for r in rows}
    out["runs"] += [{"source": s, "status": "no_data", "native_value": None, "from": start, "to": end,
                     "days": (end - start).days + 1, "record_ids": []} for s in names if s not in covered]
    out["runs"].sort(key=lambda r: (r["source"], r["from"]))
    return out
