"""Inputs the fuzzers (fuzz/) found crashing a reader, each kept with what the reader must now say.

`tests/fuzz_corpus/expected.json` lists every file: its target and the outcome expected —

* `expr`: an XLSForm expression; `expression-invalid` (the compiler refuses it, as the form's checks then
  report) or `runs` (it compiles and DuckDB evaluates it over awkward text values without an error);
* `dtm`, `xlsform-data`: a file imported into a store; `codes` are finding codes the rejected import's report
  must hold, every error located in the file, and the store left as it was;
* `boundaries`: a GeoJSON boundary file; `codes` as above, no boundary stored.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from passage.findings import all_codes
from passage.forms import compile_xlsform, install_form
from passage.forms.expr import ExpressionError, to_sql_typed
from passage.ingest import import_files
from passage.plugins import install_pack

HERE = Path(__file__).parent
CORPUS = HERE / "fuzz_corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
KOBO = HERE / "fixtures" / "xlsform" / "household_survey.xlsx"
FIELDS = {"a": "integer", "b": "decimal", "s": "text", "d": "date", "ts": "dateTime",
          "needs": "select_multiple needs", "yn": "select_one yn"}
VALUES = [None, "", "0", "-3", "3.5", "1e400", "99999999999999999999", "abc", "(", "\\", "2023-13-45",
          "2024-02-29", "a b c"]


def test_every_file_is_listed():
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file()} - {"expected.json"}
    assert files == set(EXPECTED)
    for entry in EXPECTED.values():
        assert entry["target"] in ("expr", "dtm", "xlsform-data", "boundaries")
        assert all(code in all_codes() for code in entry.get("codes", []))


def _rows_db() -> duckdb.DuckDBPyConnection:
    eng = duckdb.connect(":memory:")
    eng.execute(f"CREATE TABLE t ({', '.join(f'{n} VARCHAR' for n in FIELDS)})")
    rows = [[VALUES[(i + j * 5) % len(VALUES)] for j in range(len(FIELDS))] for i in range(len(VALUES))]
    eng.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in FIELDS)})", rows)
    return eng


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e["target"] == "expr"))
def test_expression(name):
    text = (CORPUS / name).read_text(encoding="utf-8", errors="replace")
    expected = EXPECTED[name]["expect"]
    if expected == "expression-invalid":
        with pytest.raises(ExpressionError):
            to_sql_typed(text, FIELDS, self_field="a")
        return
    assert expected == "runs"
    sql, _ = to_sql_typed(text, FIELDS, self_field="a")
    assert len(_rows_db().execute(f"SELECT ({sql}) FROM t").fetchall()) == len(VALUES)


def _snapshot(store) -> dict:
    tables = [r[0] for r in store.query("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = current_schema() AND table_name LIKE 'rec_%'")]
    return {"records": {t: store.scalar(f"SELECT count(*) FROM {t}") for t in tables},
            "boundaries": store.scalar("SELECT count(*) FROM boundaries"),
            "import_files": store.scalar("SELECT count(*) FROM import_files")}


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e["target"] != "expr"))
def test_file_is_rejected_with_its_code(name, store, tmp_path):
    entry = EXPECTED[name]
    path = tmp_path / Path(name).name
    shutil.copyfile(CORPUS / name, path)
    if entry["target"] == "dtm":
        install_pack(store, "dtm")
    elif entry["target"] == "xlsform-data":
        install_form(store, compile_xlsform(KOBO))
    before = _snapshot(store)
    if entry["target"] == "boundaries":
        from passage.places.boundaries import import_boundaries

        report = import_boundaries(store, path).report
    else:
        result = import_files(store, entry["target"], [path], form_id=entry.get("form"), user="fuzz")
        assert result.status == "rejected", result.report.findings
        report = result.report
    assert not report.ok
    for code in entry["codes"]:
        assert report.counts.get(code, 0) >= 1, f"expected {code}, got {dict(report.counts)}"
    assert all(f.file == path.name for f in report.errors), report.errors
    assert _snapshot(store) == before


def test_hxl_validation_reports_a_date_too_large_to_read():
    """fuzz_hxl: a date whose parts overflow dateutil stopped libhxl's whole validation with OverflowError; now
    that cell is reported as not a date, at its row, and the other rules still run."""
    import pyarrow as pa

    from passage.publish.hxl import validate
    from passage.publish.tables import PublishedTable

    data = pa.table({"when": ["2023-05-31", "2023-05-31T00:00:00" + "9" * 30, "2023-06-30",
                              "1T00:0000444444444444444444944444444444444444444444444444023",  # decimal's DivisionImpossible
                              "99999999999999999"],  # seconds since 1970: OSError (EOVERFLOW) from localtime
                     "n": ["1", "x", "3", "4", "5"]})
    table = PublishedTable("t", "T", data, hxl={"when": "#date+reported", "n": "#affected"},
                           hxl_schema=[{"#valid_tag": "#date", "#valid_datatype": "date"},
                                       {"#valid_tag": "#affected", "#valid_datatype": "number"}])
    problems = validate(table)
    assert {(p["tag"], p["row"], p["value"]) for p in problems} == {("#date", 1, "(not a date)"), ("#affected", 1, "x"),
                                                                     ("#date", 3, "(not a date)"),
                                                                     ("#date", 4, "(not a date)")}
