"""Exports are the same whatever the store, and open as they should in a spreadsheet.

- Every export table of every pack (`passage export --list`), over the portal demo's records seeded in DuckDB
  and in PostgreSQL: the same Arrow schema, the same rows in the same order, the same bytes in CSV and JSON,
  the same Parquet schema. Counts are int64, never a decimal of the store's own width.
- CSV for Excel carries a UTF-8 byte order mark (`passage export --bom`, `bom=true` on the API); XLSX dates
  are date cells with a date number format.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from cli_run import passage_cli
from conftest import clone_pg_schema, pg_schema_url
from dtm_rows import NGA, api_rows, write_csv
from passage.demo_portal import seed_portal
from passage.errors import UsageError
from passage.ingest import import_files
from passage.plugins import available_packs, install_pack
from passage.publish import get_table, list_tables, write
from passage.settings import Settings
from passage.store import open_store
from portal import copy_store


@pytest.fixture(scope="module")
def both(seeded_portal_store, pg_admin_url, pg_places_template, tmp_path_factory):
    """The portal demo in DuckDB (the session's seeded store) and seeded again in a PostgreSQL schema, with
    every installed pack's forms (a pack without a demo exports empty tables)."""
    import psycopg

    folder = tmp_path_factory.mktemp("fidelity")
    schema = "fid_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        clone_pg_schema(conn, pg_places_template, schema)
    pg = open_store(pg_schema_url(pg_admin_url, schema), Settings(archive=folder / "files"))
    duck = open_store(str(copy_store(seeded_portal_store[0], folder)))
    try:
        seed_portal(pg, folder / "demo")
        for name in available_packs():
            install_pack(pg, name)
        yield duck, pg
    finally:
        duck.close()
        pg.close()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _install_all(store) -> None:
    for name in available_packs():
        install_pack(store, name)


TABLES = [name for name, _ in list_tables()]


@pytest.mark.postgres
@pytest.mark.parametrize("name", TABLES)
def test_export_is_the_same_on_duckdb_and_postgres(both, name, tmp_path):
    duck, pg = both
    _install_all(duck)
    a, b = get_table(duck, name), get_table(pg, name)
    assert a.data.schema == b.data.schema
    assert a.data.to_pylist() == b.data.to_pylist()  # the same rows in the same order
    for field in a.data.schema:
        assert not pa.types.is_decimal(field.type), f"{name}.{field.name} is {field.type}: counts are int64"
        assert not pa.types.is_null(field.type), f"{name}.{field.name} has no type"
    for fmt in ("csv", "json", "hxl"):
        out = []
        for t in (a, b):
            buf = io.StringIO()
            write(t, fmt, None, buf)
            out.append(buf.getvalue())
        assert out[0] == out[1], fmt
    pq_a, pq_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write(a, "parquet", pq_a)
    write(b, "parquet", pq_b)
    assert pq.read_schema(pq_a) == pq.read_schema(pq_b)
    assert pq.read_table(pq_a).equals(pq.read_table(pq_b))


@pytest.mark.postgres
def test_the_demo_fills_the_tables_compared(both):
    duck, _ = both
    filled = {name for name in TABLES if get_table(duck, name).data.num_rows}
    assert {"dtm_idps", "hapi-idps", "idps", "travel_levels", "travel_measures", "points_of_entry"} <= filled


@pytest.mark.postgres
def test_hapi_population_is_int64(both):
    for store in both:
        schema = get_table(store, "hapi-idps").data.schema
        assert schema.field("population").type == pa.int64()
        assert schema.field("admin_level").type == pa.int64()


# ---- for spreadsheets ---------------------------------------------------------------------------------------

@pytest.fixture
def dtm_store(store, tmp_path):
    rows = api_rows("NGA", NGA)
    rows[0]["admin1Name"] = "Bornó"  # an accent Excel garbles without a byte order mark
    result = import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", rows)], user="test")
    assert result.status == "committed", result.report.findings
    return store


@pytest.mark.parametrize("fmt", ["csv", "hxl"])
def test_bom_on_request(dtm_store, tmp_path, fmt):
    table = get_table(dtm_store, "dtm_idps")
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    write(table, fmt, plain, neutralise_formulas=True)
    write(table, fmt, excel, neutralise_formulas=True, bom=True)
    assert not plain.read_bytes().startswith(b"\xef\xbb\xbf")
    assert excel.read_bytes().startswith(b"\xef\xbb\xbf")
    assert excel.read_bytes()[3:] == plain.read_bytes()  # nothing else changes
    assert "Bornó" in excel.read_text(encoding="utf-8-sig")
    with pytest.raises(UsageError):
        write(table, "json", None, io.StringIO(), bom=True)


def test_cli_export_bom(store_path, tmp_path):
    rows = api_rows("NGA", NGA)
    assert passage_cli("--db", str(store_path), "import", "dtm", str(write_csv(tmp_path / "n.csv", rows))).returncode == 0
    out = tmp_path / "excel.csv"
    done = passage_cli("--db", str(store_path), "export", "dtm_idps", "--format", "csv", "--neutralise-formulas",
                       "--bom", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    wrong = passage_cli("--db", str(store_path), "export", "dtm_idps", "--format", "json", "--bom")
    assert wrong.returncode == 2 and "--bom" in wrong.stderr


def test_xlsx_dates_are_date_cells(dtm_store, tmp_path):
    path = tmp_path / "dtm.xlsx"
    write(get_table(dtm_store, "dtm_idps"), "xlsx", path)
    ws = load_workbook(path).active
    header = [c.value for c in ws[1]]
    col = header.index("reportingDate") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, ws.max_row + 1)]
    assert cells and all(c.is_date for c in cells)
    assert {c.number_format for c in cells} == {"yyyy-mm-dd hh:mm:ss"}  # IOM's timestamps, as it wrote them
    assert {c.value.date() for c in cells} == {date.fromisoformat(r["reportingDate"][:10]) for r in api_rows("NGA", NGA)}
    # numbers stay numbers, text stays text
    assert isinstance(ws.cell(row=2, column=header.index("numPresentIdpInd") + 1).value, int)
    # a date column (HAPI's reference period) is date cells in a date format
    write(get_table(dtm_store, "hapi-idps"), "xlsx", tmp_path / "hapi.xlsx")
    ws = load_workbook(tmp_path / "hapi.xlsx").active
    col = [c.value for c in ws[1]].index("reference_period_start") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, ws.max_row + 1)]
    assert cells and all(c.is_date for c in cells) and {c.number_format for c in cells} == {"yyyy-mm-dd"}


def test_portal_offers_csv_for_excel(portal):
    public = portal.client()
    page = public.get("/datasets/dtm_idps").text
    links = re.findall(r'href="([^"]+)" data-format="csv-excel"', page)
    assert links, "no 'Excel' link beside the CSV download"
    excel = public.get(links[0].replace("&amp;", "&"))
    assert excel.status_code == 200 and excel.content.startswith(b"\xef\xbb\xbf")
    plain = public.get("/download/dtm_idps", params={"format": "csv"})
    assert not plain.content.startswith(b"\xef\xbb\xbf")
    assert excel.content[3:] == plain.content
    api = public.get("/api/v1/exports/dtm_idps", params={"format": "hxl", "bom": "true"})
    assert api.status_code == 200 and api.content.startswith(b"\xef\xbb\xbf")
    assert public.get("/api/v1/exports/dtm_idps", params={"format": "json", "bom": "true"}).status_code == 400
