"""Records are never overwritten: edits are versions, deletes are tombstones, re-imports are no-ops
or (with update) new versions of the changed rows only. Runs on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dtm_rows import NGA, TCD, api_rows, write_csv, write_json
from passage.edits import edit_record
from passage.errors import NotFound
from passage.ingest import import_files
from passage.records import delete_record, history

FORM = "dtm_idps"
TABLE = "rec_dtm_idps"


def _load_make():
    name = "passage_bad_files"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "bad_files" / "make.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


make = _load_make()
N = len(make.base_rows())
BORNO_LINE = 6  # the Borno admin1 row of the base file: 5000 IDPs, 2400 males, 2500 females


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _write(path: Path, rows) -> Path:
    path.write_text(make.render(rows), encoding="utf-8")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record_id(store, line: int) -> str:
    """The record id of the base file's row on a file line (rows are located by their source row)."""
    rid = store.scalar(f"SELECT _record_id FROM {TABLE} WHERE _source_row = ? AND _version = 1", [line])
    assert rid is not None
    return rid


def _versions(store, record_id: str) -> list[dict]:
    names, rows = history(store, FORM, record_id)
    return [dict(zip(names, r)) for r in rows]


def _field(store, record_id: str, version: int, field: str):
    return store.scalar(f"SELECT {field} FROM {TABLE} WHERE _record_id = ? AND _version = ?", [record_id, version])


@pytest.fixture
def base(any_store, tmp_path):
    """The store with the base file imported once: (store, file, result)."""
    path = _write(tmp_path / "dtm.csv", make.base_rows())
    t0 = _now()
    result = import_files(any_store, "dtm", [path], user="amina")
    assert result.status == "committed", result.report.findings
    assert result.inserted == N
    return any_store, path, result, t0


def test_every_record_knows_where_it_came_from(base):
    store, path, result, t0 = base
    rows = store.query(
        f"SELECT _version, _current, _deleted, _import_id, _source_sha256, _source_row, _user, _created_at "
        f"FROM {TABLE} ORDER BY _source_row")
    assert [r[5] for r in rows] == list(range(make.FIRST_DATA_LINE, make.FIRST_DATA_LINE + N))  # file lines
    for version, current, deleted, import_id, sha, _, user, created in rows:
        assert (version, current, deleted, import_id, sha, user) == (1, True, False, result.import_id, _sha(path), "amina")
        assert t0 - timedelta(seconds=5) <= created <= _now() + timedelta(seconds=5)
    # the source file is archived under its hash, and linked to the import
    archived = store.scalar("SELECT archived_as FROM files WHERE sha256 = ?", [_sha(path)])
    assert archived and Path(archived).read_bytes() == path.read_bytes()
    assert store.query("SELECT import_id, sha256 FROM import_files") == [(result.import_id, _sha(path))]
    status, inserted, user = store.query(
        "SELECT status, rows_inserted, user_name FROM imports WHERE import_id = ?", [result.import_id])[0]
    assert (status, inserted, user) == ("committed", N, "amina")


def test_edit_makes_a_new_version(base):
    store, path, result, _ = base
    rid = _record_id(store, BORNO_LINE)
    before = _now()
    assert edit_record(store, FORM, rid, {"num_present_idp_ind": 5100}, user="editor") == 2

    versions = _versions(store, rid)
    assert [(v["_version"], v["_current"], v["_deleted"]) for v in versions] == [(1, False, False), (2, True, False)]
    v1, v2 = versions
    assert (v1["_import_id"], v1["_user"], v1["_source_sha256"], v1["_source_row"]) == (
        result.import_id, "amina", _sha(path), BORNO_LINE)
    assert v2["_user"] == "editor" and v2["_import_id"] is None
    assert v2["_created_at"] >= before - timedelta(seconds=5)
    # the old value is kept, the view shows the new one
    assert _field(store, rid, 1, "num_present_idp_ind") == 5000
    assert _field(store, rid, 2, "num_present_idp_ind") == 5100
    assert store.scalar(f"SELECT num_present_idp_ind FROM {FORM} WHERE _record_id = ?", [rid]) == 5100
    assert store.scalar(f"SELECT count(*) FROM {TABLE}") == N + 1
    assert store.scalar(f"SELECT count(*) FROM {FORM}") == N
    # a second edit stacks on top
    assert edit_record(store, FORM, rid, {"number_males": 2450}, user="editor") == 3
    assert _field(store, rid, 3, "num_present_idp_ind") == 5100
    assert _field(store, rid, 3, "number_males") == 2450
    assert store.scalar(f"SELECT count(*) FROM {TABLE} WHERE _record_id = ? AND _current", [rid]) == 1


def test_edit_rejects_unknown_fields_and_records(base):
    store, *_ = base
    rid = _record_id(store, BORNO_LINE)
    with pytest.raises(NotFound):
        edit_record(store, FORM, rid, {"no_such_field": 1})
    with pytest.raises(NotFound):
        edit_record(store, FORM, "no-such-record", {"num_present_idp_ind": 1})
    assert [v["_version"] for v in _versions(store, rid)] == [1]


def test_delete_is_a_tombstone(base):
    store, path, result, _ = base
    rid = _record_id(store, BORNO_LINE)
    assert delete_record(store, FORM, rid, user="focal-point") == 2
    versions = _versions(store, rid)
    assert [(v["_version"], v["_current"], v["_deleted"], v["_user"]) for v in versions] == [
        (1, False, False, "amina"), (2, True, True, "focal-point")]
    assert versions[0]["_import_id"] == result.import_id
    assert store.scalar(f"SELECT count(*) FROM {FORM} WHERE _record_id = ?", [rid]) == 0
    assert store.scalar(f"SELECT count(*) FROM {FORM}") == N - 1
    assert _field(store, rid, 1, "num_present_idp_ind") == 5000  # history keeps the data
    with pytest.raises(NotFound):
        delete_record(store, FORM, rid)
    assert len(_versions(store, rid)) == 2


def test_reimporting_the_same_file_is_a_no_op(base, tmp_path):
    store, path, result, _ = base
    table_before = sorted(store.query(f"SELECT * FROM {TABLE}"), key=repr)
    log_before = store.query("SELECT * FROM imports ORDER BY import_id")
    again = import_files(store, "dtm", [path], user="amina")
    assert again.status == "unchanged" and again.ok
    assert again.previous_import == result.import_id
    assert again.inserted == again.updated == 0
    # the same bytes under another name, and with update, are the same file
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(path.read_bytes())
    assert import_files(store, "dtm", [copy], update=True).status == "unchanged"
    assert sorted(store.query(f"SELECT * FROM {TABLE}"), key=repr) == table_before
    assert store.query("SELECT * FROM imports ORDER BY import_id") == log_before


def test_changed_file_without_update_is_rejected(base, tmp_path):
    store, *_ = base
    rows = make.base_rows()
    rows[BORNO_LINE - make.FIRST_DATA_LINE]["numPresentIdpInd"] = "5200"
    changed = _write(tmp_path / "dtm_v2.csv", rows)
    r = import_files(store, "dtm", [changed])
    assert r.status == "rejected"
    assert r.report.counts.get("duplicate-key-store") == N
    assert store.scalar(f"SELECT count(*) FROM {TABLE}") == N


def test_update_versions_only_the_changed_rows(base, tmp_path):
    store, path, first, _ = base
    rows = make.base_rows()
    rows[BORNO_LINE - make.FIRST_DATA_LINE]["numPresentIdpInd"] = "5200"  # changed
    new = dict(rows[BORNO_LINE - make.FIRST_DATA_LINE], id="6", roundNumber="46",
               reportingDate="2023-07-31T00:00:00", monthReportingDate="7")  # a new record
    changed = _write(tmp_path / "dtm_v2.csv", rows + [new])
    r = import_files(store, "dtm", [changed], user="bilal", update=True)
    assert r.status == "committed", r.report.findings
    assert (r.inserted, r.updated, r.unchanged) == (1, 1, N - 1)
    assert store.query("SELECT rows_inserted, rows_updated, rows_unchanged FROM imports WHERE import_id = ?",
                       [r.import_id]) == [(1, 1, N - 1)]
    assert store.scalar(f"SELECT count(*) FROM {TABLE}") == N + 2
    assert store.scalar(f"SELECT count(*) FROM {FORM}") == N + 1

    rid = _record_id(store, BORNO_LINE)
    v1, v2 = _versions(store, rid)
    assert (v1["_version"], v1["_current"], v1["_import_id"]) == (1, False, first.import_id)
    assert (v2["_version"], v2["_current"], v2["_import_id"], v2["_user"]) == (2, True, r.import_id, "bilal")
    assert (v2["_source_sha256"], v2["_source_row"]) == (_sha(changed), BORNO_LINE)
    assert _field(store, rid, 2, "num_present_idp_ind") == 5200
    # unchanged rows keep their first version and its provenance
    assert store.scalar(f"SELECT count(*) FROM {TABLE} WHERE _import_id = ? AND _current", [first.import_id]) == N - 1
    assert store.scalar(f"SELECT max(_version) FROM {TABLE} WHERE _record_id <> ?", [rid]) == 1
    # the new record came from the new file's last line
    assert store.query(f"SELECT _version, _source_row FROM {TABLE} WHERE _import_id = ? AND _record_id <> ?",
                       [r.import_id, rid]) == [(1, make.FIRST_DATA_LINE + N)]
    # and the same updated file again is a no-op
    assert import_files(store, "dtm", [changed], update=True).status == "unchanged"
    assert store.scalar(f"SELECT count(*) FROM {TABLE}") == N + 2


def test_update_brings_back_deleted_and_overrides_edited_records(base, tmp_path):
    store, path, first, _ = base
    edited, deleted = _record_id(store, BORNO_LINE), _record_id(store, BORNO_LINE + 1)
    edit_record(store, FORM, edited, {"num_present_idp_ind": 4950}, user="editor")  # males + females: 4900
    delete_record(store, FORM, deleted, user="editor")
    rows = make.base_rows()
    rows[0]["numPresentIdpInd"] = "1001"  # and one ordinary change, so the file is not the same file
    changed = _write(tmp_path / "dtm_v2.csv", rows)
    r = import_files(store, "dtm", [changed], user="bilal", update=True)
    assert r.status == "committed", r.report.findings
    assert (r.inserted, r.updated, r.unchanged) == (0, 3, N - 3)
    assert [(v["_version"], v["_deleted"], v["_current"]) for v in _versions(store, edited)] == [
        (1, False, False), (2, False, False), (3, False, True)]
    assert _field(store, edited, 3, "num_present_idp_ind") == 5000
    assert [(v["_version"], v["_deleted"], v["_current"]) for v in _versions(store, deleted)] == [
        (1, False, False), (2, True, False), (3, False, True)]
    assert store.scalar(f"SELECT count(*) FROM {FORM}") == N


def test_known_files_are_skipped_beside_new_ones(store, tmp_path):
    """A file imported before is left out when it comes again with new files."""
    nga = write_csv(tmp_path / "nga.csv", api_rows("NGA", NGA))
    tcd = write_json(tmp_path / "tcd.json", api_rows("TCD", TCD))
    first = import_files(store, "dtm", [nga])
    assert first.status == "committed"
    both = import_files(store, "dtm", [nga, tcd])
    assert both.status == "committed" and both.skipped == ["nga.csv"] and both.inserted == len(TCD)
    again = import_files(store, "dtm", [tcd, nga])
    assert again.status == "unchanged" and again.previous_import == both.import_id
