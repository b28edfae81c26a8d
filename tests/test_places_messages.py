"""Places and messages: a new store comes with the bundled P-codes; a store without places says so once;
an unknown P-code gets the nearest known one; warning summaries carry their message."""

from __future__ import annotations

import time

import psycopg
import pytest

from conftest import pg_schema_url
from dtm_rows import NGA, api_rows, write_csv, write_json
from passage.findings import WARNING, Finding, Report
from passage.ingest import import_files
from passage.places import ensure_places, import_pcodes, list_places
from passage.places.bundled import MARKER
from passage.settings import Settings
from passage.store import open_store


@pytest.fixture(params=["duckdb", "postgres"])
def fresh_store(request, tmp_path):
    """A store made from nothing (not the tests' template with the P-codes already in)."""
    if request.param == "duckdb":
        s = open_store(str(tmp_path / "new.duckdb"))
        yield s
        s.close()
        return
    admin = request.getfixturevalue("pg_admin_url")
    schema = f"fresh_{abs(hash(str(tmp_path))) % 10**9}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    s = open_store(pg_schema_url(admin, schema), Settings(archive=tmp_path / "files"))
    try:
        yield s
    finally:
        s.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_new_store_imports_dtm_with_the_bundled_places(fresh_store, tmp_path):
    store = fresh_store
    assert store.scalar("SELECT count(*) FROM places") == 0  # nothing is paid for at creation
    result = import_files(store, "dtm", [write_json(tmp_path / "nga.json", api_rows("NGA", NGA))])
    assert result.status == "committed", result.report.findings
    assert result.inserted == len(NGA)
    assert store.scalar("SELECT count(*) FROM places WHERE level > 0") == 33_363
    assert store.scalar("SELECT count(*) FROM places WHERE level = 0") >= 249
    assert store.scalar("SELECT count(*) FROM pcode_lengths") == 156
    assert store.scalar("SELECT name FROM places WHERE code = 'NG008'") == "Borno"
    assert not ensure_places(store)  # once per store


def test_places_listed_on_a_new_store_and_an_import_extends_them(fresh_store, tmp_path):
    store = fresh_store
    assert [p[2] for p in list_places(store, level=1, country="NGA")][:2] == ["Abia", "Adamawa"]
    own = tmp_path / "own.csv"
    own.write_text("Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n"
                   "#country+code,#geo+admin_level,#adm+code,#adm+name,#adm+code+parent,#date+start\n"
                   "NGA,1,NG008,Borno State,NGA,2024-01-01\nNGA,2,NG008999,New LGA,NG008,2024-01-01\n",
                   encoding="utf-8")
    assert import_pcodes(store, own).value == 2
    assert store.scalar("SELECT name FROM places WHERE code = 'NG008'") == "Borno State"  # replaced
    assert store.scalar("SELECT name FROM places WHERE code = 'NG008999'") == "New LGA"  # extended
    assert store.scalar("SELECT count(*) FROM places WHERE level > 0") == 33_364  # the others kept


def test_store_creation_pays_nothing_for_places(tmp_path):
    """The bundled places load on first need: opening a new store does not load them (measured: 100-250 ms
    on this machine for 33,363 rows, more than the store's own creation would bear in the test suite)."""
    with open_store(str(tmp_path / "a.duckdb")) as s:
        assert s.scalar("SELECT count(*) FROM passage_meta WHERE key = ?", [MARKER]) == 0
        t = time.perf_counter()
        assert ensure_places(s)
        seeded = time.perf_counter() - t
        t = time.perf_counter()
        assert not ensure_places(s)
        assert time.perf_counter() - t < seeded / 10  # afterwards one lookup


def test_a_store_without_places_says_so_once(any_store, tmp_path):
    store = any_store
    store.execute("DELETE FROM places")
    rows = api_rows("NGA", NGA) * 50
    for i, r in enumerate(rows):
        r["roundNumber"] = i  # distinct records
    result = import_files(store, "dtm", [write_json(tmp_path / "nga.json", rows)])
    assert result.status == "rejected"
    found = [f for f in result.report.findings if f.code == "places-missing"]
    assert len(found) == 1 and result.report.counts["places-missing"] == 1
    assert "passage places import" in found[0].message and "no places" in found[0].message
    assert "pcode-unknown" not in result.report.counts


def test_a_country_without_p_codes_is_said_once(any_store, tmp_path):
    store = any_store
    store.execute("DELETE FROM places WHERE country_code = 'NGA' AND level > 0")
    result = import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA))])
    assert result.status == "rejected"
    found = [f for f in result.report.findings if f.code == "places-missing"]
    assert len(found) == 2  # admin1 and admin2, once each
    assert all("NGA" in f.message and "passage places import" in f.message for f in found)
    assert "pcode-unknown" not in result.report.counts


def test_an_unknown_p_code_suggests_the_nearest(any_store, tmp_path):
    store = any_store
    rows = api_rows("NGA", NGA)
    for r in rows:
        if r["admin1Pcode"] == "NG008":
            r["admin1Pcode"] = "NG0O8"  # a letter O for a zero
        if r["admin2Pcode"] == "NG008001":
            r["admin2Pcode"] = "NG008901"
    result = import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", rows)])
    assert result.status == "rejected"
    said = {(f.column, f.value, f.message) for f in result.report.findings if f.code == "pcode-unknown"}
    assert ("admin1Pcode", "NG0O8", "admin1Pcode is not a P-code of this country; did you mean NG008 Borno?") in said
    assert ("admin2Pcode", "NG008901",
            "admin2Pcode is not a P-code of this country; did you mean NG008001 Abadam?") in said
    assert "did you mean NG008 Borno?" in result.report.summary()


def test_a_code_far_from_every_known_one_gets_no_suggestion(store, tmp_path):
    rows = api_rows("NGA", NGA)
    for r in rows:
        if r["admin1Pcode"] == "NG008":
            r["admin1Pcode"] = "XYZ"
    result = import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", rows)])
    said = {f.message for f in result.report.findings if f.code == "pcode-unknown" and f.value == "XYZ"}
    assert said == {"admin1Pcode is not a P-code of this country"}


def test_warning_summaries_carry_their_message():
    report = Report()
    for row in (3, 4):
        report.add(Finding("pcode-length", "admin1_pcode normalised to the COD length", severity=WARNING,
                           row=row, value="TD07 -> TCD07"))
    assert report.ok
    summary = report.summary()
    assert "2 warnings" in summary and "pcode-length" in summary
    assert "admin1_pcode normalised to the COD length" in summary


def test_the_portal_shows_each_code_with_its_message(portal, tmp_path):
    """The import page's findings by code, and the API's import result, say what each code means here."""
    import re

    editor = portal.client("editor-nga")
    csrf = re.search(r'hx-headers=\'\{"X-CSRF-Token": "([^"]+)"\}\'', editor.get("/").text).group(1)
    rows = api_rows("NGA", [(2, "NG008", "Borno", "NG008901", "Abadam", 47, "2024-08-31", "Conflict", 10, None,
                             None)])
    path = write_csv(tmp_path / "abadam-typo.csv", rows)
    with path.open("rb") as fh:
        page = editor.post("/import", data={"kind": "dtm", "csrf_token": csrf},
                           files={"file": (path.name, fh, "text/csv")}, headers={"accept": "text/html"})
    assert page.status_code == 422, page.text[:500]
    counts = page.text.split('id="finding-counts"')[1].split("</table>")[0]
    assert "pcode-unknown" in counts
    assert "admin2Pcode is not a P-code of this country; did you mean NG008001 Abadam?" in counts
