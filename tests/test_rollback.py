"""Rolling an import back: new versions restore what the records were before it (tombstones for the records
it created), its files may be imported again, and a record changed since is never silently undone."""

from __future__ import annotations

import pytest
from dtm_rows import NGA, api_rows, write_csv

from passage import records
from passage.auth.principal import Principal
from passage.errors import Conflict, Forbidden, NotFound
from passage.ingest import import_files
from passage.ingest.rollback import rollback_import
from passage.plugins import install_pack


def current(store) -> dict[str, tuple]:
    """Current records: id -> (IDPs, version)."""
    return {r[0]: (r[1], r[2]) for r in store.query(
        "SELECT _record_id, num_present_idp_ind, _version FROM rec_dtm_idps WHERE _current AND NOT _deleted")}


def two_imports(store, tmp_path):
    """Import A: the NGA rows. Import B (--update): two records changed, one new."""
    install_pack(store, "dtm")
    rows = api_rows("NGA", NGA)
    a = import_files(store, "dtm", [write_csv(tmp_path / "a.csv", rows)], user="amina")
    assert a.status == "committed"
    before = current(store)
    rows[2]["numPresentIdpInd"] = 1600
    rows[6]["numPresentIdpInd"] = 410
    rows.append({**rows[6], "admin2Pcode": "NG008002", "admin2Name": "Askira/Uba", "numPresentIdpInd": 55})
    b = import_files(store, "dtm", [write_csv(tmp_path / "b.csv", rows)], user="amina", update=True)
    assert (b.status, b.inserted, b.updated) == ("committed", 1, 2), b.report.flat()
    return a, b, before


def test_rollback_restores_what_was_there_before(store, tmp_path):
    a, b, before = two_imports(store, tmp_path)
    with_b = {k: v[0] for k, v in current(store).items()}
    done = rollback_import(store, b.import_id)
    assert done["status"] == "rolled-back" and done["tables"]["rec_dtm_idps"] == {"tombstones": 1, "restored": 2}
    after = current(store)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}  # the values before B
    assert sorted(v for _, v in after.values()) == [1] * 6 + [3] * 2  # the two restored are version 3
    assert store.scalar("SELECT count(*) FROM rec_dtm_idps") == 8 + 3 + 3  # nothing deleted: versions added
    assert store.scalar("SELECT status FROM imports WHERE import_id = ?", [b.import_id]) == "rolled-back"
    entry = store.query("SELECT user_name, import_id FROM audit_log WHERE action = 'import.rollback'")
    assert entry == [("operator", b.import_id)]
    # B's file may be imported again, and gives what B gave (the deleted record comes back as its next version)
    again = import_files(store, "dtm", [tmp_path / "b.csv"], user="amina", update=True)
    assert (again.status, again.inserted, again.updated) == ("committed", 0, 3), again.report.flat()
    assert {k: v[0] for k, v in current(store).items()} == with_b


def test_history_shows_the_rollback_as_a_version(store, tmp_path):
    a, b, _ = two_imports(store, tmp_path)
    changed = store.scalar("SELECT _record_id FROM rec_dtm_idps WHERE _import_id = ? AND _version = 2", [b.import_id])
    rollback_import(store, b.import_id, principal=Principal("root", "admin", set()))
    names, rows = records.history(store, "dtm_idps", changed)
    versions = [dict(zip(names, r)) for r in rows]
    assert [(v["_version"], v["_import_id"], v["_user"]) for v in versions] == [
        (1, a.import_id, "amina"), (2, b.import_id, "amina"), (3, None, "root")]
    assert versions[2]["_source_row"] == versions[0]["_source_row"]  # the values, and where they came from


def test_rollback_of_a_first_import_leaves_tombstones(store, tmp_path):
    install_pack(store, "dtm")
    a = import_files(store, "dtm", [write_csv(tmp_path / "a.csv", api_rows("NGA", NGA))], user="amina")
    rollback_import(store, a.import_id)
    assert current(store) == {}
    assert store.scalar("SELECT count(*) FROM rec_dtm_idps WHERE _deleted AND _current") == len(NGA)
    assert import_files(store, "dtm", [tmp_path / "a.csv"]).status == "committed"  # no "imported before"


def test_a_record_changed_since_refuses_the_rollback(store, tmp_path):
    a, b, _ = two_imports(store, tmp_path)
    untouched = store.scalar("SELECT count(*) FROM rec_dtm_idps")
    with pytest.raises(Conflict) as exc:  # two of A's records have a later version (B's)
        rollback_import(store, a.import_id)
    assert exc.value.code == "import.changed_since" and "changed after it" in str(exc.value)
    new = store.scalar("SELECT _record_id FROM rec_dtm_idps WHERE _import_id = ? AND _version = 1", [b.import_id])
    records.delete_record(store, "dtm_idps", new)
    with pytest.raises(Conflict):
        rollback_import(store, b.import_id)
    assert store.scalar("SELECT count(*) FROM rec_dtm_idps") == untouched + 1  # only the tombstone
    assert store.scalar("SELECT status FROM imports WHERE import_id = ?", [b.import_id]) == "committed"


def test_only_committed_imports_and_only_admins(store, tmp_path):
    a, b, _ = two_imports(store, tmp_path)
    with pytest.raises(NotFound):
        rollback_import(store, 999)
    with pytest.raises(Forbidden):
        rollback_import(store, b.import_id, principal=Principal("ed-nga", "editor", {"NGA"}))
    rollback_import(store, b.import_id)
    with pytest.raises(Conflict) as exc:
        rollback_import(store, b.import_id)
    assert exc.value.code == "import.not_committed" and "rolled-back" in str(exc.value)


def test_held_rows_are_reviewed_first(store, tmp_path):
    from passage.ingest.quarantine import drop, list_held

    install_pack(store, "dtm")
    rows = api_rows("NGA", NGA)
    rows[3]["numPresentIdpInd"] = "many"
    r = import_files(store, "dtm", [write_csv(tmp_path / "a.csv", rows)], on_error="quarantine")
    assert (r.status, r.quarantined) == ("committed", 1)
    with pytest.raises(Conflict) as exc:
        rollback_import(store, r.import_id)
    assert exc.value.code == "import.rows_held" and f"--import {r.import_id}" in str(exc.value)
    for held in list_held(store, None, import_id=r.import_id):
        drop(store, held.quarantine_id)
    rollback_import(store, r.import_id)
    assert current(store) == {}


def test_rollback_on_postgresql(pg_store, tmp_path):
    a, b, before = two_imports(pg_store, tmp_path)
    rollback_import(pg_store, b.import_id)
    assert {k: v[0] for k, v in current(pg_store).items()} == {k: v[0] for k, v in before.items()}
    assert import_files(pg_store, "dtm", [tmp_path / "b.csv"], update=True).status == "committed"


def test_passage_rollback(store_path, tmp_path):
    from cli_run import passage_cli

    from passage.store import open_store

    with open_store(str(store_path)) as store:
        a, b, before = two_imports(store, tmp_path)
    r = passage_cli("--db", str(store_path), "rollback", str(b.import_id))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (f"import {b.import_id} (dtm_idps) rolled back: 1 record(s) it created deleted, "
                                "2 record(s) it changed restored, as new versions")
    with open_store(str(store_path)) as store:  # an edit of one of A's records after the import
        record_id = store.scalar("SELECT min(_record_id) FROM rec_dtm_idps WHERE _import_id = ? AND _current",
                                 [a.import_id])
        records.delete_record(store, "dtm_idps", record_id)
    r = passage_cli("--db", str(store_path), "rollback", str(a.import_id))
    assert r.returncode != 0 and "changed after it" in r.stderr and record_id in r.stderr


def test_newest_first_then_the_one_before(store, tmp_path):
    """Rolling back B, then A: B's rollback gave A's records A's values again, so A is not "changed since"."""
    a, b, _ = two_imports(store, tmp_path)
    rollback_import(store, b.import_id)
    done = rollback_import(store, a.import_id)
    assert done["tables"]["rec_dtm_idps"] == {"tombstones": len(NGA), "restored": 0}
    assert current(store) == {}


def test_repeat_rows_go_with_their_records(any_store):
    """A Kobo export with a repeat group: its member rows are versioned beside the records, and rolled back
    with them, on DuckDB and PostgreSQL."""
    from pathlib import Path

    from passage.forms import compile_xlsform, install_form

    fixtures = Path(__file__).parent / "fixtures" / "xlsform"
    install_form(any_store, compile_xlsform(fixtures / "household_survey.xlsx"))
    r = import_files(any_store, "xlsform-data", [fixtures / "export.xlsx"], form_id="household_survey")
    assert (r.status, r.inserted) == ("committed", 6), r.report.flat()
    done = rollback_import(any_store, r.import_id)
    assert done["tables"] == {"rec_household_survey": {"tombstones": 6, "restored": 0},
                              "rec_household_survey__members": {"tombstones": 21, "restored": 0}}
    for view in ("household_survey", "household_survey__members"):
        assert any_store.scalar(f"SELECT count(*) FROM {view}") == 0
    again = import_files(any_store, "xlsform-data", [fixtures / "export.xlsx"], form_id="household_survey")
    assert again.status == "committed"
    assert any_store.scalar("SELECT count(*) FROM household_survey__members") == 21
