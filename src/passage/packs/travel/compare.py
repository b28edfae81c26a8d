"""Where two trackers agree on a day: the agreement matrix over the countries both cover, and Cohen's kappa.

Both cover a country when each has data for it on the day: a `no_data` status on either side leaves the
country out of the matrix (and out of `only`, which lists the countries one source alone has data for).

Kappa corrects the raw agreement rate for the agreement two sources would reach by chance given how
often each uses each status: (p_o - p_e) / (1 - p_e). It is undefined (None) when chance agreement is
certain (both sources put every country in the same single status).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from passage.errors import UsageError
from passage.packs.travel.sources import Relations, current, parse_day
from passage.packs.travel.status import STATUSES, daily_status
from passage.store import Store


def kappa(matrix: dict[str, dict[str, int]]) -> float | None:
    """Cohen's kappa of a square matrix {status of a: {status of b: count}}."""
    n = sum(sum(row.values()) for row in matrix.values())
    if not n:
        return None
    observed = sum(matrix[s][s] for s in matrix) / n
    rows = {s: sum(matrix[s].values()) / n for s in matrix}
    cols = {s: sum(matrix[r][s] for r in matrix) / n for s in matrix}
    chance = sum(rows[s] * cols[s] for s in matrix)
    return None if chance >= 1 else (observed - chance) / (1 - chance)


def compare(store: Store, day: date | str, sources: list[str] | tuple[str, ...] | str, *,
            rel: Relations | None = None) -> dict[str, Any]:
    """Statuses of two sources on `day` side by side: matrix, agreement rate, kappa, disagreeing countries.

    `matrix[status of a][status of b]` counts countries; pairs name the sources `a` and `b` in `sources` order.
    """
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    if len(sources) != 2 or sources[0] == sources[1]:
        raise UsageError("compare needs two different sources, e.g. oxcgrt,acaps", code="usage.sources")
    a, b = sources
    day = parse_day(day)
    rel = rel or current(store)
    rows = daily_status(store, day, [a, b], rel=rel)
    by = {(r.source, r.iso3): r for r in rows}
    # a source covers a country on the day when it has data for it then: `no_data` (no level that day, or
    # before a measure source's first record for the country) is not coverage
    covered = {s: {r.iso3 for r in rows if r.source == s and r.status != "no_data"} for s in (a, b)}
    both = sorted(covered[a] & covered[b])
    matrix = {s: {t: 0 for t in STATUSES} for s in STATUSES}
    pairs, disagree = [], []
    for iso3 in both:
        ra, rb = by[(a, iso3)], by[(b, iso3)]
        matrix[ra.status][rb.status] += 1
        pair = {"iso3": iso3, "status_a": ra.status, "status_b": rb.status, "native_value_a": ra.native_value,
                "native_value_b": rb.native_value, "agree": ra.status == rb.status,
                "record_ids_a": ra.record_ids, "record_ids_b": rb.record_ids}
        pairs.append(pair)
        if ra.status != rb.status:
            disagree.append(pair)
    n = len(both)
    agreed = sum(matrix[s][s] for s in STATUSES)
    return {"date": day, "sources": [a, b], "countries": n, "agreed": agreed,
            "agreement_rate": agreed / n if n else None, "kappa": kappa(matrix), "matrix": matrix,
            "only": {s: sorted(covered[s] - set(both)) for s in (a, b)},
            "pairs": pairs, "disagreements": disagree}
