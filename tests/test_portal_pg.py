"""The portal on PostgreSQL: seeded like `passage serve` does, served, and read through pages and the API.

The demo data is deterministic, so the figures must be the very ones the DuckDB portal shows.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from urllib.parse import quote

import openpyxl
import pytest

from passage.demo_portal import seed_portal
from passage.settings import Settings
from passage.store import open_store

pytestmark = pytest.mark.postgres
RECORDS = "/api/v1/datasets/dtm_idps/records"


@pytest.fixture(scope="module")
def pg_portal(pg_admin_url, tmp_path_factory):
    """A fresh schema seeded with the portal demo and served; dropped afterwards."""
    import psycopg

    from portal import serve

    work = tmp_path_factory.mktemp("pg-portal")
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in pg_admin_url else "?"
    url = f"{pg_admin_url}{sep}options=-csearch_path%3D{schema}"
    settings = Settings(archive=work / "files")
    try:
        with open_store(url, settings) as store:
            accounts = seed_portal(store, work / "demo")["accounts"]
        running = serve(url, accounts, settings=settings)
        try:
            yield running
        finally:
            running.stop()
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def csrf_of(client) -> str:
    return re.search(r'X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)


def test_headline_page_and_country_map_match_duckdb(pg_portal, portal):
    pg, duck = pg_portal.client(), portal.client()
    home = pg.get("/")
    assert home.status_code == 200 and "Nigeria" in home.text and "Afghanistan" not in home.text
    for path in ("/api/v1/countries", "/api/v1/countries/NGA/map?level=1", "/api/v1/countries/SSD/map?level=2",
                 "/api/v1/countries/TCD/series"):
        a, b = pg.get(path), duck.get(path)
        assert a.status_code == b.status_code == 200, path
        assert a.json() == b.json(), path
    values = pg.get("/api/v1/countries/NGA/map", params={"level": 1}).json()["values"]
    assert values and all(v["code"].startswith("NG") and v["value"] > 0 for v in values)
    page = pg.get("/countries/NGA", params={"level": 1})
    assert page.status_code == 200 and f'data-sort="{values[0]["value"]}"' in page.text
    boundaries = pg.get("/api/v1/boundaries/NGA", params={"level": 1}).json()
    assert {f["properties"]["code"] for f in boundaries["features"]} >= {v["code"] for v in values}


def test_records_pagination_walks_every_record_once(pg_portal):
    c = pg_portal.client()
    expected = next(x["records"] for x in c.get("/api/v1/countries").json()["data"] if x["code"] == "TCD")
    seen, url = [], f"{RECORDS}?country=TCD&limit=40"
    while url:
        body = c.get(url).json()
        seen += [r["_record_id"] for r in body["data"]]
        url = body["links"]["next"]
    assert len(seen) == len(set(seen)) == expected and seen == sorted(seen)
    assert c.get(RECORDS, params={"cursor": "!!!"}).json()["error"]["code"] == "usage.cursor"


def test_sign_in_roles_and_an_unpublished_edit(pg_portal):
    public, admin, editor = pg_portal.client(), pg_portal.client("admin"), pg_portal.client("editor-nga")
    assert editor.get("/api/v1/me").json() == {"user": "editor-nga", "role": "editor", "scopes": ["NGA"]}
    afg = {"country": "AFG", "limit": 1}
    assert admin.get(RECORDS, params=afg).json()["data"] and not editor.get(RECORDS, params=afg).json()["data"]
    assert not public.get(RECORDS, params=afg).json()["data"]

    where = {"place": "NG008001", "level": 2, "limit": 1}
    record = public.get(RECORDS, params=where).json()["data"][0]
    r = editor.post(f"/records/dtm_idps/{quote(record['_record_id'], safe='')}",
                    data={"csrf_token": csrf_of(editor), "f_num_present_idp_ind": str(record["num_present_idp_ind"] + 5)})
    assert r.status_code == 303
    assert editor.get(RECORDS, params=where).json()["data"][0]["num_present_idp_ind"] == \
        record["num_present_idp_ind"] + 5
    assert public.get(RECORDS, params=where).json()["data"][0] == record  # unchanged until the release
    r = editor.post("/api/v1/datasets/dtm_idps/releases", data={"country": "NGA"},
                    headers={"X-CSRF-Token": csrf_of(editor)})
    assert r.status_code == 201
    assert public.get(RECORDS, params=where).json()["data"][0]["num_present_idp_ind"] == \
        record["num_present_idp_ind"] + 5
    audit = admin.get("/admin/audit", params={"action": "auth.sign_in"}).text
    assert "editor-nga" in audit


def test_exports(pg_portal):
    c = pg_portal.client()
    rows = list(csv.DictReader(io.StringIO(c.get("/api/v1/exports/dtm_idps",
                                                 params={"format": "csv", "country": "TCD"}).text)))
    expected = next(x["records"] for x in c.get("/api/v1/countries").json()["data"] if x["code"] == "TCD")
    assert len(rows) == expected and {r["admin0Pcode"] for r in rows} == {"TCD"}
    book = openpyxl.load_workbook(io.BytesIO(c.get("/download/dtm_idps", params={"format": "xlsx",
                                                                                  "country": "TCD"}).content))
    assert book.worksheets[0].max_row == expected + 1
    hxl = list(csv.reader(io.StringIO(c.get("/api/v1/exports/dtm_idps", params={"format": "hxl",
                                                                                  "country": "TCD"}).text)))
    assert hxl[1][hxl[0].index("admin0Pcode")].startswith("#country+code")


def test_a_double_click_on_import_commits_once(pg_portal, tmp_path):
    """Two uploads of one file at once: PostgreSQL serialises the loads per form; one commits (last here:
    it adds Nigerian records)."""
    from test_import_races import double_click

    double_click(pg_portal, tmp_path)
