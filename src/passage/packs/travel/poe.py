"""Points of entry on a day: each PoE of the registry with its latest assessment on or before that day.

A PoE never assessed by then has the status `not_assessed` (it counts in the registry, not in the shares).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from passage.errors import UsageError
from passage.packs.travel.sources import ASSESSMENTS, REGISTRY, Relations, current, parse_day
from passage.store import Store

OPERATIONAL = ("fully_closed", "partially_operational", "fully_operational", "unknown")
NOT_ASSESSED = "not_assessed"
POE_TYPES = ("airport", "land_border", "blue_border", "internal_transit")


def poe_status(store: Store, day: date | str, *, poe_type: str | None = None, iso3: str | None = None,
               status: str | None = None, rel: Relations | None = None) -> list[dict[str, Any]]:
    """Registry rows with `operational_status`, `assessment_date` and the assessment's record id, by code."""
    day = parse_day(day)
    if poe_type and poe_type not in POE_TYPES:
        raise UsageError(f"PoE type must be one of {', '.join(POE_TYPES)}", code="usage.poe_type")
    if status and status not in (*OPERATIONAL, NOT_ASSESSED):
        raise UsageError(f"status must be one of {', '.join((*OPERATIONAL, NOT_ASSESSED))}", code="usage.status")
    rel = rel or current(store)
    where, params = [], [day]
    for col, value in (("p.poe_type", poe_type), ("p.iso3", iso3)):
        if value:
            where.append(f"{col} = ?")
            params.append(value)
    if status:
        where.append(f"coalesce(l.operational_status, '{NOT_ASSESSED}') = ?")
        params.append(status)
    names, rows = store.columns(f"""
        WITH latest AS (
            SELECT _record_id, poe_code, assessment_date, operational_status, entry_restrictions, exit_restrictions,
                   row_number() OVER (PARTITION BY poe_code ORDER BY assessment_date DESC, _record_id DESC) AS rn
            FROM {rel.of(ASSESSMENTS)} AS a WHERE assessment_date <= ?)
        SELECT p.code, p.name, p.poe_type, p.blue_border_kind, p.iata_code, p.iso3, p.admin1_pcode,
               p.neighbour_iso3, p.latitude, p.longitude, p._record_id AS poe_record_id,
               coalesce(l.operational_status, '{NOT_ASSESSED}') AS operational_status, l.assessment_date,
               l.entry_restrictions, l.exit_restrictions, l._record_id AS assessment_record_id
        FROM {rel.of(REGISTRY)} AS p LEFT JOIN latest l ON l.poe_code = p.code AND l.rn = 1
        {"WHERE " + " AND ".join(where) if where else ""}
        ORDER BY p.iso3, p.code""", params)
    return [dict(zip(names, r)) for r in rows]


def poe_shares(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of each operational status among assessed PoEs, overall and by PoE type, with record ids."""
    def block(subset: list[dict[str, Any]]) -> dict[str, Any]:
        assessed = [r for r in subset if r["operational_status"] != NOT_ASSESSED]
        n = len(assessed)
        out = {"registered": len(subset), "assessed": n, "statuses": {}}
        for s in OPERATIONAL:
            ids = sorted(r["assessment_record_id"] for r in assessed if r["operational_status"] == s)
            out["statuses"][s] = {"poes": len(ids), "share": len(ids) / n if n else None, "record_ids": ids}
        return out

    return {"overall": block(rows),
            "by_type": {t: block([r for r in rows if r["poe_type"] == t]) for t in POE_TYPES
                        if any(r["poe_type"] == t for r in rows)}}
