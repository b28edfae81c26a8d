"""The questionnaire's API (/api/v1/questionnaire/{year}/status and /figures) over real HTTP against the seeded
demo: bearer tokens and sessions as on every API route, the public refused, JSON and CSV, OpenAPI tags; and the
approvers' bulk approve over HTTP (each office authorised on its own). Counts are checked against plain SQL on
a copy of the same seeded store."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from passage.store import open_store
from portal import copy_store, csrf_of

YEAR = 2020
STATES = ("draft", "submitted", "approved", "locked")


@pytest.fixture(scope="module")
def seeded(seeded_portal_store, tmp_path_factory):
    """A private copy of the store the portal serves (as seeded), for independent SQL."""
    path, _accounts = seeded_portal_store
    with open_store(str(copy_store(path, tmp_path_factory.mktemp("qapi")))) as store:
        yield store



def bearer(portal, user: str) -> httpx.Client:
    """A client sending a fresh API token of `user` (made through POST /api/v1/tokens) and no cookie."""
    c = portal.client(user)
    made = c.post("/api/v1/tokens", data={"name": "questionnaire"}, headers={"X-CSRF-Token": csrf_of(c)})
    assert made.status_code == 201, made.text[:300]
    return httpx.Client(base_url=portal.url, headers={"Authorization": f"Bearer {made.json()['token']}"}, timeout=60)


def sql_states(store, year: int) -> dict[str, str]:
    """Every office but headquarters -> its state, from the tables directly (no state row: a record makes it a
    draft, nothing makes it not_started)."""
    rows = store.query(
        "SELECT p.code, coalesce(s.state, CASE WHEN r.office IS NULL THEN 'not_started' ELSE 'draft' END) "
        "FROM places p LEFT JOIN questionnaire_states s ON s.office_code = p.code AND s.year = ? "
        "LEFT JOIN (SELECT DISTINCT office FROM institutional_questionnaire WHERE year = ?) r ON r.office = p.code "
        "WHERE p.kind = 'office' AND p.level <> 10", [year, year])
    return dict(rows)


def test_status_per_office_json_and_csv_for_tokens_not_the_public(portal, seeded):
    public = httpx.Client(base_url=portal.url, timeout=60)
    r = public.get(f"/api/v1/questionnaire/{YEAR}/status")
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.required"
    api = bearer(portal, "viewer-ssd")  # any signed-in reader, as the questionnaire pages
    r = api.get(f"/api/v1/questionnaire/{YEAR}/status")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    expected = sql_states(seeded, YEAR)
    assert {row["office"]: row["state"] for row in body["data"]} == expected
    counts = {s: list(expected.values()).count(s) for s in set(expected.values())}
    assert body["counts"] == counts and counts["submitted"] >= 1 and counts["not_started"] == 3
    locked = next(row for row in body["data"] if row["state"] == "locked")
    assert locked["record_version"] >= 1 and locked["changed_at"].startswith(str(YEAR + 1)[:2])
    # one region: the regional office and the country offices under it
    r = api.get(f"/api/v1/questionnaire/{YEAR}/status", params={"region": "RO-BKK", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    in_region = {c for (c,) in seeded.query("SELECT code FROM places WHERE kind = 'office' AND "
                                            "(code = 'RO-BKK' OR parent_code = 'RO-BKK')")}
    assert {row["office"] for row in rows} == in_region and {row["region"] for row in rows} == {"RO-BKK"}
    assert all(row["state"] == expected[row["office"]] for row in rows)
    bad = api.get(f"/api/v1/questionnaire/{YEAR}/status", params={"region": "RO BKK; --"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "usage"


def test_figures_with_numerator_and_denominator(portal, seeded):
    assert httpx.get(f"{portal.url}/api/v1/questionnaire/{YEAR}/figures", timeout=60).status_code == 401
    api = bearer(portal, "editor-nga")
    body = api.get(f"/api/v1/questionnaire/{YEAR}/figures").json()
    figures = {f["name"]: f for f in body["data"]}
    collected = figures["migration_data_collected"]
    counted = seeded.scalar(
        "SELECT count(*) FROM institutional_questionnaire r JOIN questionnaire_states s ON s.office_code = r.office "
        "AND s.year = r.year WHERE r.year = ? AND s.state IN ('submitted', 'approved', 'locked')", [YEAR])
    yes = seeded.scalar(
        "SELECT count(*) FROM institutional_questionnaire r JOIN questionnaire_states s ON s.office_code = r.office "
        "AND s.year = r.year WHERE r.year = ? AND s.state IN ('submitted', 'approved', 'locked') "
        "AND r.collected_data = 'yes'", [YEAR])
    assert (collected["numerator"], collected["denominator"], collected["denominator_kind"]) == (yes, counted, "all")
    assert collected["text"] == f"{yes} offices ({round(100 * yes / counted)} %)"
    assert collected["kind"] == "share" and collected["records"] == yes
    assert sum(r["numerator"] for r in collected["by_region"]) == yes
    assert collected["trace"] == f"/questionnaire/{YEAR}/figures/migration_data_collected"
    sums = [f for f in body["data"] if f["kind"] != "share"]
    assert sums and all(f["numerator"] is None and f["value"] is not None for f in sums)
    csv_rows = list(csv.DictReader(io.StringIO(api.get(f"/api/v1/questionnaire/{YEAR}/figures",
                                                       params={"format": "csv"}).text)))
    assert [r["name"] for r in csv_rows] == list(figures) and "by_region" not in csv_rows[0]
    row = next(r for r in csv_rows if r["name"] == "migration_data_collected")
    assert (int(row["numerator"]), int(row["denominator"])) == (yes, counted)


def test_openapi_documents_the_tagged_routes(portal):
    spec = httpx.get(f"{portal.url}/api/v1/openapi.json", timeout=60).json()
    for path in ("/api/v1/questionnaire/{year}/status", "/api/v1/questionnaire/{year}/figures"):
        op = spec["paths"][path]["get"]
        assert op["tags"] == ["questionnaire"] and op["description"], path
        assert {"401", "200"} <= set(op["responses"])
    assert not any(p.startswith("/questionnaire") for p in spec["paths"])  # pages stay out of the API


def test_bulk_approve_authorises_each_office_and_records_it(portal, seeded):
    """An approver ticks a submitted office of their region, one of another region and one not submitted:
    the first is approved (history and state as the single action writes them), the others refused with the
    single action's codes; without a CSRF token nothing happens."""
    ours = seeded.scalar("SELECT s.office_code FROM questionnaire_states s JOIN places p ON p.code = s.office_code "
                         "WHERE s.year = ? AND s.state = 'submitted' AND p.parent_code = 'RO-BKK' ORDER BY 1 LIMIT 1",
                         [YEAR])
    theirs = seeded.scalar("SELECT s.office_code FROM questionnaire_states s JOIN places p ON p.code = s.office_code "
                           "WHERE s.year = ? AND s.state = 'submitted' AND p.parent_code <> 'RO-BKK' ORDER BY 1 "
                           "LIMIT 1", [YEAR])
    locked = seeded.scalar("SELECT s.office_code FROM questionnaire_states s JOIN places p ON p.code = s.office_code "
                           "WHERE s.year = ? AND s.state = 'locked' AND p.parent_code = 'RO-BKK' ORDER BY 1 LIMIT 1",
                           [YEAR])
    assert ours and theirs and locked
    ap = portal.client("approver-bkk")
    page = ap.get("/questionnaire/tasks", params={"year": YEAR}, headers={"accept": "text/html"})
    assert page.status_code == 200
    listed = re.findall(r'<tr data-office="([^"]+)" data-state="submitted"', page.text)
    assert ours in listed and theirs not in listed
    form = {"year": str(YEAR), "action": "approve", "office": [ours, theirs, locked]}
    assert ap.post("/questionnaire/tasks", data=form).status_code == 403  # no CSRF token
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    nothing = ap.post("/questionnaire/tasks", data={"year": str(YEAR), "action": "approve", "csrf_token": csrf},
                      headers={"accept": "text/html"})
    assert nothing.status_code == 400 and 'data-code="usage.no_office"' in nothing.text and 'id="tasks"' in nothing.text
    r = ap.post("/questionnaire/tasks", data=form | {"csrf_token": csrf}, headers={"accept": "text/html"})
    assert r.status_code == 200
    refused = dict(re.findall(r'<li data-office="([^"]+)" data-code="([^"]+)"', r.text))
    assert refused == {theirs: "forbidden", locked: "questionnaire.state"}
    assert f"<code>{ours}</code>" in r.text.split('data-testid="done"')[1].split("</p>")[0]
    status = {row["office"]: row["state"] for row in
              ap.get(f"/api/v1/questionnaire/{YEAR}/status").json()["data"]}
    assert (status[ours], status[theirs], status[locked]) == ("approved", "submitted", "locked")
    history = ap.get(f"/questionnaire/{YEAR}/{ours}", headers={"accept": "text/html"}).text.split('id="history"')[1]
    assert re.search(r"<td>approve</td><td>submitted</td><td>approved</td><td>approver-bkk</td>", history)
    # a country office's editor has no tasks and no menu link; approvers and headquarters have both
    ed = portal.client("editor-co-vut").get("/questionnaire/tasks", headers={"accept": "text/html"}).text
    assert 'href="/questionnaire/tasks"' not in ed.split("</nav>")[0] and 'id="tasks"' not in ed
    hq = portal.client("hq-reporting").get("/questionnaire/tasks", headers={"accept": "text/html"}).text
    assert 'href="/questionnaire/tasks"' in hq.split("</nav>")[0]
    assert f'<tr data-office="{ours}" data-state="approved"' in hq and 'data-testid="bulk-lock"' in hq
    assert f'<tr data-office="{theirs}" data-state="submitted"' in hq  # headquarters sees every region's


@pytest.mark.parametrize("path", ["/api/v1/questionnaire/{year}/status", "/api/v1/questionnaire/{year}/figures"])
def test_routes_hold_against_generated_requests(portal, path):
    """schemathesis, as tests/test_schemathesis.py runs it over the core API: valid and invalid input, with a
    token; no server error, and only declared status codes, media types and error bodies."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode, checks

    api = bearer(portal, "viewer-ssd")
    schema = schemathesis.openapi.from_url(f"{portal.url}/api/v1/openapi.json")
    operation = schema[path]["GET"]
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=15, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        case.call_and_validate(headers={"Authorization": api.headers["Authorization"]},
                               checks=[checks.not_a_server_error, checks.status_code_conformance,
                                       checks.content_type_conformance, checks.response_schema_conformance])

    run()
