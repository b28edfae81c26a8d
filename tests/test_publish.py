"""Indicators and exports over a small DTM set with known answers, on both backends."""

from __future__ import annotations

import csv
import io
import json
import shutil

import hxl
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from dtm_rows import NGA, TCD, api_rows, write_csv, write_json
from passage.indicators import compute
from passage.ingest import import_files
from passage.packs.dtm.hapi import COLUMNS as HAPI_COLUMNS
from passage.publish import get_table, write
from passage.publish.hxl import validate
from passage.store import open_store


@pytest.fixture
def loaded(any_store, tmp_path):
    files = [write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA)), write_json(tmp_path / "tcd.json", api_rows("TCD", TCD))]
    result = import_files(any_store, "dtm", files, user="test")
    assert result.status == "committed", result.report.findings
    return any_store


def test_idps_sum_over_displacement_reasons(loaded):
    rows = {(r["_place_code"], r["round_number"]): r["value"] for r in compute(loaded, "idps").to_pylist()}
    assert rows[("NG008", 40)] == 1600  # 1500 conflict + 100 natural disaster
    assert rows[("NG008", 41)] == 2000
    assert rows[("TCD0704", 10)] == 300  # TD0704 normalised


def test_latest_and_change(loaded):
    latest = {r["_place_code"]: r["round_number"] for r in compute(loaded, "idps_latest").to_pylist()}
    assert latest == {"NGA": 41, "NG008": 41, "NG008001": 41, "TCD07": 10, "TCD0704": 10}
    change = {(r["_place_code"], r["round_number"]): (r["change"], r["change_pct"])
              for r in compute(loaded, "idps_change").to_pylist()}
    assert change[("NG008", 41)] == (400, 25.0)
    assert change[("NG008001", 41)] == (-100, -25.0)
    assert change[("NG008", 40)] == (None, None)


def test_by_sex_and_by_country(loaded):
    sex = compute(loaded, "idps_by_sex").to_pylist()
    assert [(r["_place_code"], r["number_males"], r["number_females"]) for r in sex] == [
        ("NG008", 800, 900), ("NG008001", 100, 150)]
    country = {r["admin0_pcode"]: r["value"] for r in compute(loaded, "idps_by_country").to_pylist()}
    assert country == {"NGA": 2000, "TCD": 800}


def test_hapi_table(loaded, tmp_path):
    table = get_table(loaded, "hapi-idps")
    assert table.data.column_names == HAPI_COLUMNS
    buf = io.StringIO()
    write(table, "csv", None, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == 8  # (place, round) pairs: NGA 2 + NG008 2 + NG008001 2 + TCD07 + TCD0704
    lac = next(r for r in rows if r["admin2_code"] == "TCD0704")
    assert lac["admin1_code"] == "TCD07" and lac["admin2_name"] == "Fouli"
    assert lac["provider_admin2_name"] == "Mamdi"
    # As OCHA words it: admin 2 first; no name check on a code that had to be converted (test_hapi_conformance).
    assert lac["warning"] == "PCode length TD0704->TCD0704|PCode length TD07->TCD07"
    assert lac["reference_period_start"] == "2023-05-31" == lac["reference_period_end"]
    borno41 = next(r for r in rows if r["admin1_code"] == "NG008" and r["admin_level"] == "1"
                   and r["reporting_round"] == "41")
    assert borno41["population"] == "2000" and borno41["warning"] == ""
    assert all(r["location_code"] in ("NGA", "TCD") and r["has_hrp"] == "Y" for r in rows)


def test_hxl_export_passes_libhxl_and_reimports(loaded, tmp_path, places_template):
    table = get_table(loaded, "dtm_idps")
    assert validate(table) == []
    path = tmp_path / "dtm_hxl.csv"
    write(table, "hxl", path)
    data = hxl.data(str(path), hxl.InputOptions(allow_local=True))
    tags = [c.display_tag for c in data.columns]
    assert tags[:4] == ["", "#operation+name", "#country+name", "#country+code"]
    assert "#affected+idps+m" in tags and "#date+month+reported" in tags and "#operation+status" in tags
    assert sum(int(r.get("#affected+idps-m-f")) for r in data if r.get("#adm+level") == "1") == 4400
    # The export is the HDX layout: it imports back unchanged into a fresh store.
    fresh = tmp_path / "fresh.duckdb"
    shutil.copyfile(places_template, fresh)
    with open_store(str(fresh)) as store:
        again = import_files(store, "dtm", [path], user="roundtrip")
        assert again.status == "committed", again.report.findings
        assert again.inserted == table.data.num_rows
        assert store.scalar("SELECT sum(num_present_idp_ind) FROM dtm_idps") == 9900


def test_hxl_schema_catches_bad_values(loaded):
    table = get_table(loaded, "dtm_idps")
    import pyarrow as pa

    idx = table.data.column_names.index("numPresentIdpInd")
    bad = table.data.set_column(idx, "numPresentIdpInd", pa.array([-5] * table.data.num_rows))
    table.data = bad
    problems = validate(table)
    assert problems and all(p["tag"].startswith("#affected+idps") for p in problems)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "json"])
def test_formats_hold_the_same_rows(loaded, tmp_path, fmt):
    table = get_table(loaded, "idps_latest")
    path = tmp_path / f"out.{fmt}"
    write(table, fmt, path)
    if fmt == "csv":
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        values = [int(r["value"]) for r in rows]
        assert rows[0]["reporting_date"].count("-") == 2
    elif fmt == "xlsx":
        ws = load_workbook(path).active
        values = [r[-1] for r in ws.iter_rows(min_row=2, values_only=True)]
    elif fmt == "parquet":
        values = pq.read_table(path).column("value").to_pylist()
    else:
        values = [r["value"] for r in json.loads(path.read_text(encoding="utf-8"))]
    assert values == table.data.column("value").to_pylist()
