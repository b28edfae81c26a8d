"""Travel measures and points of entry in the portal: pages under /travel and the API under /api/v1/travel.

Thin over `passage.packs.travel`: every read goes through the reader's relations (`travel.for_reader`, built on
`passage.access.readable`), so the public sees released data only, and answers are cached per reader class.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator

from passage.errors import NotFound
from passage.packs import travel
from passage.packs.travel.headline import without_record_ids
from passage.packs.travel.poe import NOT_ASSESSED, OPERATIONAL, POE_TYPES
from passage.packs.travel.sources import ASSESSMENTS, list_sources
from passage.web import i18n
from passage.web.api import ERRORS, JSON_OR_CSV, _iso_day, respond
from passage.web.context import Ctx, resolve
from passage.web.pages import render

router = APIRouter()
API = "/api/v1/travel"
Context = Annotated[Ctx, Depends(resolve)]
Fmt = Annotated[Literal["json", "csv"], Query(description="Response format")]
Day = Annotated[date, BeforeValidator(_iso_day), Query(description="The day, YYYY-MM-DD")]
OptDay = Annotated[date | None, BeforeValidator(_iso_day), Query(description="YYYY-MM-DD")]
SourceName = Annotated[str | None, Query(pattern="^[a-z0-9_-]{1,40}$", description="A source, e.g. oxcgrt")]
ISO3 = Annotated[str, PathParam(pattern="^[A-Z]{3}$", description="ISO 3166 alpha-3 (or the source's own code)")]
Country = Annotated[str | None, Query(pattern="^[A-Z]{3}$", description="ISO 3166 alpha-3")]


def _noop(message: str) -> str:
    return message


# Words shown as data: translated in templates with `_()`, marked here for the catalogue.
STATUS_LABELS = {"complete_closure": _noop("Complete closure"), "partial_restriction": _noop("Partial restriction"),
                 "conditions_only": _noop("Conditions only"), "no_restriction": _noop("No restriction"),
                 "no_data": _noop("No data")}
POE_LABELS = {"fully_closed": _noop("Fully closed"), "partially_operational": _noop("Partially operational"),
              "fully_operational": _noop("Fully operational"), "unknown": _noop("Unknown"),
              NOT_ASSESSED: _noop("Not assessed")}
TYPE_LABELS = {"airport": _noop("Airport"), "land_border": _noop("Land border crossing point"),
               "blue_border": _noop("Blue border crossing point"), "internal_transit": _noop("Internal transit point")}
CATEGORY_LABELS = {"entry_restriction": _noop("Entry restrictions"),
                   "entry_condition": _noop("Conditions for authorised entry"),
                   "exit_restriction": _noop("Exit restrictions"), "unmapped": _noop("Not mapped")}
# Colour-blind-safe, from most to least restrictive (ColorBrewer RdYlBu), grey for no data.
STATUS_COLOURS = {"complete_closure": "#a50026", "partial_restriction": "#f46d43", "conditions_only": "#fee090",
                  "no_restriction": "#4575b4", "no_data": "#d4d4d4"}
POE_COLOURS = {"fully_closed": "#a50026", "partially_operational": "#fdae61", "fully_operational": "#4575b4",
               "unknown": "#878787", NOT_ASSESSED: "#ffffff"}


# ---- what pages and API share --------------------------------------------------------------------------------

def relations(ctx: Ctx) -> travel.Relations:
    return ctx.cached(("travel-relations",), lambda: travel.for_reader(ctx.store, ctx.principal))


def overview(ctx: Ctx) -> dict[str, Any]:
    """Sources and the days they cover, for the date slider and the source selector."""
    def compute() -> dict[str, Any]:
        from passage.packs.travel.sources import date_range, source_ranges

        rel = relations(ctx)
        first, last = date_range(ctx.store, rel)
        ranges = source_ranges(ctx.store, rel)
        return {"sources": [{"source": s, "kind": k, "from": ranges.get(s, (None, None))[0],
                             "to": ranges.get(s, (None, None))[1]} for s, k in list_sources(ctx.store, rel).items()],
                "from": first, "to": last, "statuses": list(travel.STATUSES),
                # the latest day every source speaks of: where the map starts
                "common_to": min((b for _, b in ranges.values() if b), default=last),
                "poe_to": ctx.store.scalar(f"SELECT max(assessment_date) FROM {rel.of(ASSESSMENTS)} AS a")}
    return ctx.cached(("travel-overview",), compute)


def status_rows(ctx: Ctx, day: date, source: str | None) -> list[dict[str, Any]]:
    return ctx.cached(("travel-status", day, source), lambda: [
        r.as_dict() for r in travel.daily_status(ctx.store, day, source=source, rel=relations(ctx))])


def summary_rows(ctx: Ctx, day: date) -> list[dict[str, Any]]:
    return ctx.cached(("travel-summary", day), lambda: travel.summary(ctx.store, day, rel=relations(ctx)))


def compare_result(ctx: Ctx, day: date, sources: list[str]) -> dict[str, Any]:
    return ctx.cached(("travel-compare", day, tuple(sources)),
                      lambda: travel.compare(ctx.store, day, sources, rel=relations(ctx)))


def headline_result(ctx: Ctx, day: date, records: bool = True) -> dict[str, Any]:
    """The day's headline; `records=False` leaves out the record ids behind each figure (not computed at all)."""
    return ctx.cached(("travel-headline", day, records),
                      lambda: travel.headline(ctx.store, day, rel=relations(ctx), record_ids=records))


def timeline_result(ctx: Ctx, iso3: str, date_from: date | None, date_to: date | None) -> dict[str, Any]:
    return ctx.cached(("travel-timeline", iso3, date_from, date_to),
                      lambda: travel.timeline(ctx.store, iso3, date_from, date_to, rel=relations(ctx)))


def poe_rows(ctx: Ctx, day: date, poe_type: str | None, country: str | None, status: str | None) -> list[dict]:
    return ctx.cached(("travel-poe", day, poe_type, country, status), lambda: travel.poe_status(
        ctx.store, day, poe_type=poe_type, iso3=country, status=status, rel=relations(ctx)))


def default_day(ctx: Ctx, asked: date | None) -> date | None:
    return asked or overview(ctx)["common_to"]


def country_names(ctx: Ctx) -> dict[str, str]:
    """Country names in the interface language (CLDR's), else as the place table gives them."""
    from passage.web.i18n import country_label, current

    return ctx.cached(("country-names", current.get()), lambda: {
        code: country_label(code, name) for code, name in ctx.store.query("SELECT code, name FROM places WHERE level = 0")})


def readable_countries(ctx: Ctx) -> set[str]:
    from passage.packs.travel.sources import countries

    return ctx.cached(("travel-countries",), lambda: countries(ctx.store, relations(ctx)))


def _only(by_code: dict[str, str], codes: set[str]) -> dict[str, str]:
    return {c: v for c, v in by_code.items() if c in codes}


def map_universe(ctx: Ctx) -> list[str]:
    """Every country the world map or the table can show: the outline's countries (ISO3, or the outline's
    name for the few without an ISO code, such as Kosovo) and every country with travel data. A source's
    "No data" count is this list less the countries it gives a status for, so its column adds up to it."""
    from passage.places.topojson import world_outline_keys

    return sorted(set(world_outline_keys()) | readable_countries(ctx))


def status_counts(summary: list[dict[str, Any]], sources: list[str], universe: int) -> dict[tuple[str, str], int]:
    """{(source, status): countries}, "no_data" counting every country of the map without a status."""
    counts = {(r["source"], r["status"]): r["countries"] for r in summary if r["status"] != "no_data"}
    for s in sources:
        counts[(s, "no_data")] = universe - sum(n for (src, _), n in counts.items() if src == s)
    return counts


def numeric_codes() -> dict[str, str]:
    """ISO3 -> ISO numeric, the ids of the world-atlas TopoJSON."""
    import pycountry

    return {c.alpha_3: c.numeric for c in pycountry.countries}


# ---- API ---------------------------------------------------------------------------------------------------------

@router.get(f"{API}/sources", tags=["travel"], responses=ERRORS)
def api_sources(ctx: Context, request: Request):
    """Travel sources the caller may read (`level` trackers, `measure` sources) and the days they cover."""
    return respond(request, overview(ctx))


@router.get(f"{API}/status", tags=["travel"], responses=JSON_OR_CSV)
def api_status(ctx: Context, request: Request, date: Day, source: SourceName = None, format: Fmt = "json"):
    """One row per country and source on a day: iso3, date, source, native_value, status (and, in JSON, the
    record ids behind each status)."""
    rows = status_rows(ctx, date, source)
    flat = [{c: r[c] for c in travel.CSV_COLUMNS} for r in rows]
    return respond(request, {"date": date, "data": rows}, rows=flat, fmt=format, filename=f"travel_status_{date}")


@router.get(f"{API}/summary", tags=["travel"], responses=JSON_OR_CSV)
def api_summary(ctx: Context, request: Request, date: Day, format: Fmt = "json"):
    """Countries per status and source on a day."""
    rows = summary_rows(ctx, date)
    return respond(request, {"date": date, "data": rows}, rows=rows, fmt=format, filename=f"travel_summary_{date}")


@router.get(f"{API}/compare", tags=["travel"], responses=JSON_OR_CSV)
def api_compare(ctx: Context, request: Request, date: Day,
                sources: Annotated[str, Query(pattern="^[a-z0-9_-]{1,40},[a-z0-9_-]{1,40}$",
                                              description="Two sources, e.g. oxcgrt,acaps")],
                format: Fmt = "json"):
    """Agreement matrix, agreement rate and Cohen's kappa of two sources over the countries both cover, and
    the countries where they disagree (CSV: one row per country)."""
    res = compare_result(ctx, date, sources.split(","))
    flat = [{k: v for k, v in p.items() if not k.startswith("record_ids")} for p in res["pairs"]]
    return respond(request, res, rows=flat, fmt=format, filename=f"travel_compare_{date}")


@router.get(f"{API}/headline", tags=["travel"], responses=ERRORS)
def api_headline(ctx: Context, request: Request, date: Day,
                 records: Annotated[bool, Query(description="Include the record ids behind every figure")] = False):
    """Measures in force and countries issuing them, entry restrictions vs conditions for authorised entry,
    and the share of each PoE operational status (overall and by PoE type) on a day."""
    res = headline_result(ctx, date, records)
    return respond(request, res if records else without_record_ids(res))


@router.get(f"{API}/timeline/{{iso3}}", tags=["travel"], responses=JSON_OR_CSV)
def api_timeline(ctx: Context, request: Request, iso3: ISO3, date_from: OptDay = None, date_to: OptDay = None,
                 format: Fmt = "json"):
    """A country's status per source over time as runs of days, and its measures (CSV: the runs)."""
    res = timeline_result(ctx, iso3, date_from, date_to)
    flat = [{k: v for k, v in r.items() if k != "record_ids"} for r in res["runs"]]
    return respond(request, res, rows=flat, fmt=format, filename=f"travel_timeline_{iso3}")


@router.get(f"{API}/poe", tags=["travel"], responses=JSON_OR_CSV)
def api_poe(ctx: Context, request: Request, date: Day,
            type: Annotated[Literal["airport", "land_border", "blue_border", "internal_transit"] | None,
                            Query(description="PoE type")] = None,
            country: Country = None,
            status: Annotated[Literal["fully_closed", "partially_operational", "fully_operational", "unknown",
                                      "not_assessed"] | None, Query(description="Operational status")] = None,
            format: Fmt = "json"):
    """Points of entry with their latest assessment on or before a day, and the share of each status."""
    rows = poe_rows(ctx, date, type, country, status)
    shares = without_record_ids(travel.poe_shares(rows))
    return respond(request, {"date": date, "data": rows, "shares": shares}, rows=rows, fmt=format,
                   filename=f"points_of_entry_{date}")


# ---- pages -------------------------------------------------------------------------------------------------------

def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "poe_labels": POE_LABELS, "type_labels": TYPE_LABELS,
            "category_labels": CATEGORY_LABELS, "status_colours": STATUS_COLOURS, "poe_colours": POE_COLOURS}


@router.get("/travel", response_class=HTMLResponse, include_in_schema=False)
def travel_map(ctx: Context, date: OptDay = None, source: SourceName = None):
    info = overview(ctx)
    day = default_day(ctx, date)
    names = [s["source"] for s in info["sources"]]
    levels = [s["source"] for s in info["sources"] if s["kind"] == "level"]  # daily trackers cover most countries
    chosen = source or (levels or names or [None])[0]
    rows = status_rows(ctx, day, chosen) if day and chosen else []
    summary = summary_rows(ctx, day) if day else []
    universe = map_universe(ctx)
    counts = status_counts(summary, names, len(universe))
    headline = without_record_ids(headline_result(ctx, day, records=False)) if day else None
    span = (info["to"] - info["from"]).days if day else 0
    pos = min(max((day - info["from"]).days, 0), span) if day else 0
    js_labels = {"statuses": {s: i18n.gettext(label) for s, label in STATUS_LABELS.items()},
                 "order": list(STATUS_LABELS), "records": i18n.gettext("Records"),
                 "empty": i18n.gettext("No data for this day."), "all": i18n.gettext("All travel measures"),
                 "nomeasures": i18n.gettext("No measures in force."),
                 "categories": {c: i18n.gettext(label) for c, label in CATEGORY_LABELS.items()}}
    mine = readable_countries(ctx)  # the map names and colours these; other outlines stay blank
    return render(ctx, "travel.html", info=info, day=day, source=chosen, sources=names, rows=rows, counts=counts,
                  headline=headline, names=_only(country_names(ctx), mine), numeric=_only(numeric_codes(), mine),
                  span=span, pos=pos, universe=universe,
                  js_labels=js_labels, **_labels())


@router.get("/travel/countries/{iso3}", response_class=HTMLResponse, include_in_schema=False)
def travel_country(ctx: Context, iso3: str, date_from: OptDay = None, date_to: OptDay = None):
    iso3 = iso3.upper()
    res = timeline_result(ctx, iso3, date_from, date_to)
    if not res["runs"] and not res["measures"]:
        raise NotFound(f"no travel data for {iso3!r}")
    js_labels = {"statuses": {s: i18n.gettext(label) for s, label in STATUS_LABELS.items()},
                 "order": list(STATUS_LABELS), "source": i18n.gettext("Source"), "from": i18n.gettext("From"), "to": i18n.gettext("To"),
                 "status": i18n.gettext("Status"), "native": i18n.gettext("Native value"),
                 "empty": i18n.gettext("No data for this period.")}
    return render(ctx, "travel_country.html", t=res, iso3=iso3, country_name=country_names(ctx).get(iso3, iso3),
                  js_labels=js_labels, **_labels())


POE_PAGE_SIZE = 50  # rows of the points-of-entry table per page; the map and the shares cover them all


def page_links(path: str, query: dict[str, Any], page: int, pages: int) -> list[dict[str, Any]]:
    """The links of a table's page navigation: previous, the first, the last and the pages around this one,
    next (`href` None where there is nowhere to go, `gap` between non-adjacent numbers)."""
    def href(n: int) -> str:
        return f"{path}?" + urlencode({**{k: v for k, v in query.items() if v}, "page": n})

    numbers = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    links: list[dict[str, Any]] = [{"kind": "previous", "page": page - 1,
                                    "href": href(page - 1) if page > 1 else None}]
    for before, n in zip([None, *numbers], numbers):
        if before is not None and n - before > 1:
            links.append({"kind": "gap"})
        links.append({"kind": "number", "page": n, "href": href(n), "current": n == page})
    links.append({"kind": "next", "page": page + 1, "href": href(page + 1) if page < pages else None})
    return links


@router.get("/travel/poe", response_class=HTMLResponse, include_in_schema=False)
def travel_poe(ctx: Context, date: OptDay = None, type: str = "", country: str = "", status: str = "",
               page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    day = date or overview(ctx)["poe_to"]
    rows = poe_rows(ctx, day, type or None, country.upper() or None, status or None) if day else []
    pages = max(1, -(-len(rows) // POE_PAGE_SIZE))
    page = min(page, pages)
    first = (page - 1) * POE_PAGE_SIZE
    countries = sorted({r["iso3"] for r in poe_rows(ctx, day, None, None, None)}) if day else []
    shares = travel.poe_shares(rows)
    f = {"type": type, "country": country.upper(), "status": status}
    api_url = f"{API}/poe?" + urlencode({"date": day, **{k: v for k, v in f.items() if v}})
    js_labels = {"statuses": {s: i18n.gettext(label) for s, label in POE_LABELS.items()}, "order": list(POE_LABELS),
                 "types": {t: i18n.gettext(label) for t, label in TYPE_LABELS.items()},
                 "assessed": i18n.gettext("Assessed")}
    shown = rows[first:first + POE_PAGE_SIZE]
    paging = {"page": page, "pages": pages, "first": first + 1 if shown else 0, "last": first + len(shown),
              "total": len(rows), "links": page_links("/travel/poe", {"date": day, **f}, page, pages)}
    return render(ctx, "travel_poe.html", day=day, rows=shown, paging=paging, shares=shares, countries=countries,
                  f=f,
                  share_rows=[("all", shares["overall"]), *shares["by_type"].items()], types=POE_TYPES,
                  statuses=(*OPERATIONAL, NOT_ASSESSED), names=country_names(ctx), api_url=api_url,
                  js_labels=js_labels, **_labels())
