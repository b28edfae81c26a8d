"""`--update` keeps what the file does not carry: a column missing from the file keeps its stored value, and a
row whose values are unchanged is not a new version. An empty cell in a column the file has is a real change.
On DuckDB and PostgreSQL."""

from __future__ import annotations

from dtm_rows import NGA, api_rows, write_csv, write_json
from passage.ingest import import_files
from passage.records import history

TABLE = "rec_dtm_idps"


def _rows(status: str | None = "Active") -> list[dict]:
    rows = api_rows("NGA", NGA)
    for r in rows:
        r["operationStatus"] = status
    return rows


def _status(store) -> list:
    return [r[0] for r in store.query(f"SELECT DISTINCT operation_status FROM {TABLE} WHERE _current")]


def _borno_r41(store) -> str:
    return store.scalar(f"SELECT _record_id FROM {TABLE} WHERE _current AND admin_level = '1' AND round_number = 41 "
                        "AND displacement_reason = 'conflict'")


def test_api_json_without_a_column_keeps_it_and_makes_no_versions(any_store, tmp_path):
    store = any_store
    first = import_files(store, "dtm", [write_csv(tmp_path / "nga.csv", _rows())], user="amina")
    assert first.status == "committed", first.report.findings
    n = first.inserted
    assert n == len(NGA) and _status(store) == ["Active"]
    # The API response has no operationStatus at all: the same values are no change, the status stays.
    api = [{k: v for k, v in r.items() if k != "operationStatus"} for r in _rows()]
    again = import_files(store, "dtm", [write_json(tmp_path / "nga.json", api)], user="amina", update=True)
    assert again.status == "committed", again.report.findings
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, n)
    assert _status(store) == ["Active"]
    assert store.scalar(f"SELECT max(_version) FROM {TABLE}") == 1
    # One value changes: one new version, which keeps the stored status; history has both versions.
    api[4]["numPresentIdpInd"] = 1900
    changed = import_files(store, "dtm", [write_json(tmp_path / "nga2.json", api)], user="amina", update=True)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, n - 1)
    rid = _borno_r41(store)
    names, versions = history(store, "dtm_idps", rid)
    assert [v[names.index("_version")] for v in versions] == [1, 2]
    assert store.query(f"SELECT _version, num_present_idp_ind, operation_status, _current FROM {TABLE} WHERE _record_id = ? "
                       "ORDER BY _version", [rid]) == [(1, 1800, "Active", False), (2, 1900, "Active", True)]
    assert store.scalar(f"SELECT count(*) FROM {TABLE} WHERE _current") == n
    assert _status(store) == ["Active"]


def test_an_empty_cell_in_a_present_column_is_a_change(any_store, tmp_path):
    store = any_store
    assert import_files(store, "dtm", [write_csv(tmp_path / "a.csv", _rows())]).status == "committed"
    blank = _rows()
    blank[4]["operationStatus"] = None  # the column is there, this cell is empty
    result = import_files(store, "dtm", [write_csv(tmp_path / "b.csv", blank)], update=True)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, len(NGA) - 1)
    rid = _borno_r41(store)
    assert store.query(f"SELECT _version, operation_status FROM {TABLE} WHERE _record_id = ? ORDER BY _version",
                       [rid]) == [(1, "Active"), (2, None)]


def test_a_new_record_from_a_file_without_the_column_has_it_empty(any_store, tmp_path):
    store = any_store
    assert import_files(store, "dtm", [write_csv(tmp_path / "a.csv", _rows()[:4])]).status == "committed"
    api = [{k: v for k, v in r.items() if k != "operationStatus"} for r in _rows()]
    result = import_files(store, "dtm", [write_json(tmp_path / "all.json", api)], update=True)
    assert (result.inserted, result.updated, result.unchanged) == (len(NGA) - 4, 0, 4)
    assert sorted(store.query(f"SELECT operation_status, count(*) FROM {TABLE} WHERE _current "
                              "GROUP BY operation_status"), key=str) == sorted([("Active", 4), (None, len(NGA) - 4)],
                                                                               key=str)


def test_a_repeat_field_the_file_lacks_keeps_its_values(any_store, tmp_path, monkeypatch):
    """load_repeat as load: a repeat column the export lacks (here member_school, named by the importer's
    absent_fields) keeps each child's stored value, and unchanged children are no new versions."""
    import importlib.util
    from pathlib import Path

    from passage.forms import compile_xlsform, install_form
    from passage.ingest.xlsform_data import XlsformDataImporter

    fixtures = Path(__file__).parent / "fixtures" / "xlsform"
    spec = importlib.util.spec_from_file_location("xlsform_fixtures", fixtures / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    store = any_store
    install_form(store, compile_xlsform(fixtures / "household_survey.xlsx"))

    def run(path, **kw):
        return import_files(store, "xlsform-data", [path], form_id="household_survey", **kw)

    assert run(build.write_xlsx(tmp_path / "w1.xlsx")).status == "committed"
    members = "rec_household_survey__members"
    before = store.query(f"SELECT _record_id, member_school FROM {members} WHERE _current ORDER BY 1")
    assert sum(1 for _, school in before if school) == 10
    monkeypatch.setattr(XlsformDataImporter, "absent_fields",
                        lambda self, repeat=None: {"member_school"} if repeat == "members" else set())
    rows = [{k: v for k, v in m.items() if k != "household/members/member_school"} for m in build.member_rows()]
    rows[0]["household/members/member_age"] += 1  # one child changes
    result = run(build.write_xlsx(tmp_path / "w2.xlsx", build.main_rows(), rows), update=True)
    assert result.status == "committed", result.report.findings
    assert store.query(f"SELECT _record_id, member_school FROM {members} WHERE _current ORDER BY 1") == before
    assert store.query(f"SELECT _version, count(*) FROM {members} GROUP BY 1 ORDER BY 1") == [(1, 21), (2, 1)]
