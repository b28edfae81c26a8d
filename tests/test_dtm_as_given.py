"""The `dtm_idps` export writes DTM's values as IOM wrote them (issue 12, item 8): the displacement reason's
case and order, `Not available`, ISO timestamps. The records keep the normalised values beside them for keys,
checks and indicators, and HAPI's table is computed from those (tests/test_hapi_conformance.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from passage.edits import edit_record
from passage.ingest import import_files
from passage.publish import get_table, write
from passage.publish.hxl import validate
from test_smoke_dtm import CSV


def _export(store) -> list[dict]:
    buf = io.StringIO()
    write(get_table(store, "dtm_idps"), "csv", None, buf)
    return list(csv.DictReader(io.StringIO(buf.getvalue())))


def _load(store, tmp_path: Path) -> None:
    f = tmp_path / "dtm.csv"
    f.write_text(CSV, encoding="utf-8")
    assert import_files(store, "dtm", [f], user="test").status == "committed"


def test_export_writes_the_values_as_given(any_store, tmp_path):
    _load(any_store, tmp_path)
    rows = _export(any_store)
    assert [r["displacementReason"] for r in rows] == ["Conflict", "Conflict; Natural disaster", "conflict"]
    assert {r["reportingDate"] for r in rows} == {"2023-05-31T00:00:00"}
    assert {(r["idpOriginAdmin1Name"], r["idpOriginAdmin1Pcode"]) for r in rows} == {("Not available",) * 2}
    assert [r["admin1Pcode"] for r in rows] == ["", "TCD07", "TCD07"]  # P-codes: the COD's
    # the records hold the normalised values: keys, checks and indicators use them
    stored = any_store.query("SELECT displacement_reason, CAST(reporting_date AS VARCHAR), idp_origin_admin1_name, "
                             "idp_origin_admin1_pcode FROM dtm_idps ORDER BY admin_level")
    assert stored == [("conflict", "2023-05-31", None, None), ("conflict; natural disaster", "2023-05-31", None, None),
                      ("conflict", "2023-05-31", None, None)]
    assert validate(get_table(any_store, "dtm_idps")) == []  # the timestamps pass the export's HXL schema


def test_json_values_as_given(store, tmp_path):
    from dtm_rows import NGA, api_rows, write_json

    path = write_json(tmp_path / "nga.json", api_rows("NGA", NGA))
    assert import_files(store, "dtm", [path], user="test").status == "committed"
    reasons = sorted(r["displacementReason"] for r in _export(store))
    assert reasons == sorted(r[7] for r in NGA)  # `conflict`, `Conflict; Natural disaster` as written
    assert {r["reportingDate"][10:] for r in _export(store)} == {"T00:00:00"}


def test_an_edit_keeps_the_text_as_given_of_fields_it_leaves(store, tmp_path):
    _load(store, tmp_path)
    [(rid,)] = store.query("SELECT _record_id FROM dtm_idps WHERE admin_level = 1")
    edit_record(store, "dtm_idps", rid, {"num_present_idp_ind": "850"}, user="editor")
    [row] = [r for r in _export(store) if r["adminLevel"] == "1"]
    assert (row["numPresentIdpInd"], row["displacementReason"], row["reportingDate"], row["idpOriginAdmin1Name"]) \
        == ("850", "Conflict; Natural disaster", "2023-05-31T00:00:00", "Not available")
    # an edit of the field itself: the edited text is the value given now
    edit_record(store, "dtm_idps", rid, {"displacement_reason": "Insecurity; Conflict"}, user="editor")
    [row] = [r for r in _export(store) if r["adminLevel"] == "1"]
    assert row["displacementReason"] == "Insecurity; Conflict"
    assert store.query("SELECT displacement_reason FROM dtm_idps WHERE _record_id = ?", [rid]) == \
        [("conflict; insecurity",)]


def test_reimporting_the_same_file_changes_nothing(store, tmp_path):
    _load(store, tmp_path)
    f = tmp_path / "dtm.csv"
    assert import_files(store, "dtm", [f], user="test", update=True).status == "unchanged"


def test_a_bad_date_is_one_finding(store, tmp_path):
    """The timestamp kept as given is kept only when it is one: a bad date is the date check's finding alone."""
    f = tmp_path / "bad.csv"
    f.write_text(CSV.replace("2,300,2023-05-31T00:00:00", "2,300,31/05/2023"), encoding="utf-8")
    result = import_files(store, "dtm", [f], user="test")
    assert result.status == "rejected"
    assert [(x.row, x.column) for x in result.report.errors] == [(5, "reportingDate")]


def test_the_migration_fills_records_imported_before(store, tmp_path):
    """Records imported before the fields existed get the values the store knows (dtm 0001)."""
    import importlib

    _load(store, tmp_path)
    fields = ("reporting_date_as_given", "displacement_reason_as_given", "idp_origin_admin1_name_as_given",
              "idp_origin_admin1_pcode_as_given")
    store.execute("UPDATE rec_dtm_idps SET " + ", ".join(f"{f} = NULL" for f in fields))
    migration = importlib.import_module("passage.packs.dtm.migrations.0001_values_as_given")
    assert migration.apply(store, None) == {"form": "dtm_idps", "versions": 3}
    rows = _export(store)
    assert [r["displacementReason"] for r in rows] == ["conflict", "conflict; natural disaster", "conflict"]
    assert {r["reportingDate"] for r in rows} == {"2023-05-31T00:00:00"}
    assert {r["idpOriginAdmin1Name"] for r in rows} == {""}  # "Not available" was not kept: unknown now


def test_the_hxl_export_imports_back(store, tmp_path):
    """What the export writes as given the importer reads again: the same normalised records, the same text."""
    from passage.store import open_store

    _load(store, tmp_path)
    out = tmp_path / "export.csv"
    write(get_table(store, "dtm_idps"), "hxl", out)
    fields = ("admin_level, _place_code, displacement_reason, displacement_reason_as_given, reporting_date, "
              "reporting_date_as_given, idp_origin_admin1_name_as_given, num_present_idp_ind")
    with open_store(str(tmp_path / "again.duckdb")) as again:
        assert import_files(again, "dtm", [out], user="test").status == "committed"
        sql = f"SELECT {fields} FROM dtm_idps ORDER BY admin_level"
        assert again.query(sql) == store.query(sql)
