"""The travel pages and `/api/v1/travel` over real HTTP, against the seeded portal demo (OxCGRT subset, generated
IOM-model measures and points of entry; Uganda left unreleased).

Figures are checked against answers computed here from the OxCGRT file (csv) or from the records API."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date

import httpx
import pytest

from conftest import SHARED

OXCGRT = SHARED / "oxcgrt" / "c8_internationaltravel_subset.csv"
DAY = "2020-04-15"
HIDDEN = "UGA"  # the demo does not release Uganda
LEVEL_STATUS = {"4": "complete_closure", "3": "partial_restriction", "2": "conditions_only", "1": "conditions_only",
                "0": "no_restriction"}


@pytest.fixture(scope="module")
def public(portal) -> httpx.Client:
    return portal.client()


@pytest.fixture(scope="module")
def admin(portal) -> httpx.Client:
    return portal.client("admin")


def error_code(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]["code"]


def all_records(client: httpx.Client, dataset: str) -> list[dict]:
    rows, url = [], f"/api/v1/datasets/{dataset}/records?limit=1000"
    while url:
        body = client.get(url).json()
        rows += body["data"]
        url = body["links"]["next"]
    return rows


def file_statuses(day: str) -> dict[str, str]:
    d = date.fromisoformat(day)
    column = f"{d.day:02d}{d.strftime('%b')}{d.year}"
    with OXCGRT.open(encoding="utf-8", newline="") as fh:
        return {r["country_code"]: LEVEL_STATUS.get(r[column].strip(), "no_data") for r in csv.DictReader(fh)}


# ---- status, summary, compare ------------------------------------------------------------------------------------

def test_status_api_matches_the_file_and_hides_unreleased_countries(public, admin):
    expected = file_statuses(DAY)
    rows = public.get("/api/v1/travel/status", params={"date": DAY, "source": "oxcgrt"}).json()["data"]
    assert {r["iso3"]: r["status"] for r in rows} == {k: v for k, v in expected.items() if k != HIDDEN}
    assert all(len(r["record_ids"]) == 1 for r in rows)
    everyone = admin.get("/api/v1/travel/status", params={"date": DAY, "source": "oxcgrt"}).json()["data"]
    assert {r["iso3"]: r["status"] for r in everyone} == expected
    csv_text = public.get("/api/v1/travel/status", params={"date": DAY, "format": "csv"}).text
    lines = csv_text.splitlines()
    assert lines[0] == "iso3,date,source,native_value,status"
    both = public.get("/api/v1/travel/status", params={"date": DAY}).json()["data"]
    assert len(lines) - 1 == len(both) and {r["source"] for r in both} == {"oxcgrt", "iom"}
    assert not any(line.startswith(HIDDEN) for line in lines)


def test_summary_counts_the_status_rows(public):
    rows = public.get("/api/v1/travel/status", params={"date": DAY}).json()["data"]
    summary = public.get("/api/v1/travel/summary", params={"date": DAY}).json()["data"]
    counted = Counter((r["source"], r["status"]) for r in rows)
    assert {(s["source"], s["status"]): s["countries"] for s in summary if s["countries"]} == dict(counted)
    oxcgrt = Counter(v for k, v in file_statuses(DAY).items() if k != HIDDEN)
    assert {s["status"]: s["countries"] for s in summary if s["source"] == "oxcgrt" and s["countries"]} == oxcgrt


@pytest.mark.parametrize("day", ["2020-04-15", "2020-06-15"])
def test_compare_pairs_the_status_rows(public, admin, day):
    for client, n in ((public, 11), (admin, 12)):  # IOM covers 12 countries; the public does not see Uganda
        res = client.get("/api/v1/travel/compare", params={"date": day, "sources": "oxcgrt,iom"}).json()
        rows = client.get("/api/v1/travel/status", params={"date": day}).json()["data"]
        by = {(r["source"], r["iso3"]): r["status"] for r in rows}
        both = sorted({i for (s, i), st in by.items() if s == "iom" and st != "no_data"}
                      & {i for (s, i), st in by.items() if s == "oxcgrt" and st != "no_data"})
        assert res["countries"] == len(both) <= n
        assert sum(sum(v.values()) for v in res["matrix"].values()) == n
        differ = [i for i in both if by[("oxcgrt", i)] != by[("iom", i)]]
        assert [d["iso3"] for d in res["disagreements"]] == differ
        assert res["agreed"] == n - len(differ)
    table = public.get("/api/v1/travel/compare", params={"date": day, "sources": "oxcgrt,iom", "format": "csv"})
    assert table.text.splitlines()[0] == "iso3,status_a,status_b,native_value_a,native_value_b,agree"


# ---- headline figures, timelines ---------------------------------------------------------------------------------

def in_force(r: dict, day: str) -> bool:
    return (r["action"] == "introduce" and r["date_in_force"] is not None and r["date_in_force"] <= day
            and (r["date_lifted"] is None or day < r["date_lifted"]))


@pytest.mark.parametrize("day", ["2020-04-15", "2020-11-30"])
def test_headline_figures_trace_to_released_records(public, admin, day):
    for client in (public, admin):
        records = [r for r in all_records(client, "travel_measures") if in_force(r, day)]
        h = client.get("/api/v1/travel/headline", params={"date": day, "records": "true"}).json()
        iom = h["measures"]["iom"]
        assert iom["record_ids"] == sorted(r["_record_id"] for r in records)
        assert iom["countries"] == len({r["iso3"] for r in records})
        for cat in ("entry_restriction", "entry_condition"):
            assert iom["categories"][cat]["measures"] == sum(r["category"] == cat for r in records)
        hidden = [i for i in iom["record_ids"] if f"-{HIDDEN}-" in i]
        assert (hidden == []) == (client is public)
        compact = client.get("/api/v1/travel/headline", params={"date": day}).json()
        assert "record_ids" not in compact["measures"]["iom"] and compact["measures"]["iom"]["measures"] == len(records)


def test_poe_status_is_the_latest_assessment(public, admin):
    day = "2020-07-01"
    for client in (public, admin):
        latest: dict[str, dict] = {}
        for a in all_records(client, "points_of_entry"):
            if a["assessment_date"] <= day and a["assessment_date"] > latest.get(a["poe_code"], {}).get(
                    "assessment_date", ""):
                latest[a["poe_code"]] = a
        body = client.get("/api/v1/travel/poe", params={"date": day}).json()
        got = {p["code"]: p["operational_status"] for p in body["data"]}
        assert {c: s for c, s in got.items() if s != "not_assessed"} == {c: a["operational_status"]
                                                                       for c, a in latest.items()}
        assert (HIDDEN in {p["iso3"] for p in body["data"]}) == (client is admin)
        overall = body["shares"]["overall"]
        assert overall["assessed"] == len(latest) and sum(s["poes"] for s in overall["statuses"].values()) == len(latest)
        assert sum(s["share"] for s in overall["statuses"].values()) == pytest.approx(1.0)
    airports = public.get("/api/v1/travel/poe", params={"date": day, "type": "airport", "status": "fully_closed"})
    assert {(p["poe_type"], p["operational_status"]) for p in airports.json()["data"]} == {("airport", "fully_closed")}
    assert public.get("/api/v1/travel/poe", params={"date": day, "format": "csv"}).text.startswith("code,name,poe_type")


def test_timeline_api_and_page(public, admin):
    t = public.get("/api/v1/travel/timeline/ITA", params={"date_from": "2020-01-01", "date_to": "2020-12-31"}).json()
    oxcgrt = [r for r in t["runs"] if r["source"] == "oxcgrt"]
    assert sum(r["days"] for r in oxcgrt) == 366 and oxcgrt[0]["from"] == "2020-01-01"
    expected = file_statuses("2020-04-15")["ITA"]
    assert next(r["status"] for r in oxcgrt if r["from"] <= "2020-04-15" <= r["to"]) == expected
    page = public.get("/travel/countries/ITA", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'id="travel-timeline"' in page.text
    link = page.text.split('href="/records/travel_measure/')[1].split('"')[0]
    assert public.get(f"/records/travel_measure/{link}", headers={"accept": "text/html"}).status_code == 200
    assert public.get(f"/travel/countries/{HIDDEN}", headers={"accept": "text/html"}).status_code == 404
    assert admin.get(f"/travel/countries/{HIDDEN}", headers={"accept": "text/html"}).status_code == 200


# ---- pages ----------------------------------------------------------------------------------------------------------

def test_map_page(portal, public, admin):
    page = public.get("/travel", params={"date": DAY, "source": "oxcgrt"}, headers={"accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    assert 'id="travel-map"' in html and 'id="travel-slider"' in html and 'id="travel-summary"' in html
    assert html.count('<tr data-iso3="') == len(file_statuses(DAY)) - 1 and f'data-iso3="{HIDDEN}"' not in html
    assert 'data-source="oxcgrt" data-status="complete_closure">23<' in html  # counted from the file: 23 closures
    assert "/static/packs/travel/travel.js" in html and "countries-110m.json" in html
    assert f'data-iso3="{HIDDEN}"' in admin.get("/travel", params={"date": DAY, "source": "oxcgrt"},
                                                headers={"accept": "text/html"}).text
    french = portal.client()
    french.cookies.set("passage_lang", "fr")
    fr = french.get("/travel", params={"date": DAY}, headers={"accept": "text/html"})
    assert "Fermeture complète" in fr.text and "Complete closure" not in fr.text


def test_poe_page_filters(public):
    page = public.get("/travel/poe", params={"date": "2020-07-01", "type": "airport"}, headers={"accept": "text/html"})
    assert page.status_code == 200 and 'id="poe-map"' in page.text
    assert "type=airport" in page.text.split('id="poe-map"')[1].split(">")[0]  # the map reads the same filters
    body = page.text.split('id="poe-table"')[1]
    assert body.count("<tr data-status=") == len(public.get("/api/v1/travel/poe", params={
        "date": "2020-07-01", "type": "airport"}).json()["data"]) > 0
    bad = public.get("/travel/poe", params={"type": "spaceport"}, headers={"accept": "text/html"})
    assert bad.status_code == 400


def test_datasets_link_to_the_travel_pages(public):
    listed = public.get("/api/v1/datasets").json()["data"]
    assert {"travel_measures", "travel_levels", "points_of_entry"} <= {d["name"] for d in listed}
    page = public.get("/datasets/travel_levels", headers={"accept": "text/html"}).text
    assert 'href="/travel/countries/ITA"' in page and 'href="/countries/ITA"' not in page
    assert "Hale" in page  # the OxCGRT citation the licence asks for
    info = public.get("/api/v1/datasets/travel_levels").json()
    assert HIDDEN not in info["locations"] and "ITA" in info["locations"]


# ---- errors and caching -------------------------------------------------------------------------------------------

def test_errors_follow_the_error_model(public):
    assert error_code(public.get("/api/v1/travel/status", params={"date": "2020-13-01"}), 400) == "usage"
    assert error_code(public.get("/api/v1/travel/status", params={"date": "15/04/2020"}), 400) == "usage"
    assert error_code(public.get("/api/v1/travel/status"), 400) == "usage"  # the date is required
    assert error_code(public.get("/api/v1/travel/status", params={"date": DAY, "source": "nosuch"}),
                      400) == "usage.source"
    assert error_code(public.get("/api/v1/travel/compare", params={"date": DAY, "sources": "oxcgrt"}), 400) == "usage"
    assert error_code(public.get("/api/v1/travel/compare", params={"date": DAY, "sources": "iom,iom"}),
                      400) == "usage.sources"
    assert error_code(public.get("/api/v1/travel/timeline/ita"), 400) == "usage"
    assert error_code(public.get("/api/v1/travel/timeline/ITA", params={"date_from": "2020-05-01",
                                                                       "date_to": "2020-04-01"}), 400) == "usage.dates"
    assert error_code(public.get("/api/v1/travel/poe", params={"date": DAY, "type": "spaceport"}), 400) == "usage"


def test_etag_and_openapi(public):
    first = public.get("/api/v1/travel/summary", params={"date": DAY})
    again = public.get("/api/v1/travel/summary", params={"date": DAY}, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    paths = public.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/travel/status", "/api/v1/travel/summary", "/api/v1/travel/compare", "/api/v1/travel/headline",
            "/api/v1/travel/timeline/{iso3}", "/api/v1/travel/poe", "/api/v1/travel/sources"} <= set(paths)
    assert not any(p.startswith("/travel") for p in paths)  # pages stay out of the API schema
    rows = list(csv.DictReader(io.StringIO(public.get("/api/v1/travel/summary",
                                                      params={"date": DAY, "format": "csv"}).text)))
    assert list(rows[0]) == ["date", "source", "status", "countries"]


# ---- the schema holds for generated input (as tests/test_schemathesis.py does for the core API) ------------------

TRAVEL_PATHS = ["/api/v1/travel/sources", "/api/v1/travel/status", "/api/v1/travel/summary", "/api/v1/travel/compare",
                "/api/v1/travel/headline", "/api/v1/travel/timeline/{iso3}", "/api/v1/travel/poe"]


@pytest.mark.parametrize("path", TRAVEL_PATHS)
def test_travel_api_conforms_to_its_schema(portal, path):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode, checks

    operation = schemathesis.openapi.from_url(f"{portal.url}/api/v1/openapi.json")[path]["GET"]
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        case.call_and_validate(checks=[checks.not_a_server_error, checks.status_code_conformance,
                                       checks.content_type_conformance, checks.response_schema_conformance])

    run()
