"""Travel measures and points of entry: daily status per country and source, comparison, headline figures.

    from passage.packs.travel import daily_status, summary, compare, headline, timeline
    rows = daily_status(store, "2020-04-15")              # one row per country and source
    compare(store, "2020-04-15", ["oxcgrt", "acaps"])     # agreement matrix, kappa, disagreements

Reads the travel pack's forms (src/passage/packs/travel); docs/travel.md explains the mapping.
"""

from passage.packs.travel.compare import compare, kappa
from passage.packs.travel.headline import headline
from passage.packs.travel.poe import poe_shares, poe_status
from passage.packs.travel.sources import Relations, current, for_reader, list_sources, parse_day
from passage.packs.travel.status import CSV_COLUMNS, STATUSES, StatusRow, daily_status, summary
from passage.packs.travel.timeline import timeline

__all__ = ["CSV_COLUMNS", "STATUSES", "Relations", "StatusRow", "compare", "current", "daily_status", "for_reader",
           "headline", "kappa", "list_sources", "parse_day", "poe_shares", "poe_status", "summary", "timeline"]
