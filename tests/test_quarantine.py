"""Quarantine (DHIS2's import atomicMode OBJECT): rows with errors are set aside, the others load.

The travel pack's COBAP policy list is the real case: 7 rows with `NONE` as START_DATE. Rejected whole by
default; with `on_error="quarantine"` the other rows load and those 7 wait, each with its finding, until an
editor gives a start date (through the same checks as an import) and releases it, or drops it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from passage.auth.users import add_user, get_principal
from passage.errors import EditRejected, NotFound, UsageError
from passage.ingest import import_files
from passage.ingest import quarantine as qn
from passage.plugins import install_pack
from travel_fixtures import cobap_rows, write_cobap

NONE_IDS = ["AR03", "MA10", "AI01", "DZ05", "ES08", "US07", "SE01"]


def _cobap_with_none(tmp_path: Path, none_ids=NONE_IDS, **changes) -> Path:
    rows = cobap_rows("mdy")
    for r in rows:
        if r["ID"] in none_ids:
            r["START_DATE"] = "NONE"
        r.update(changes.get(r["ID"], {}))
    return write_cobap(tmp_path / "policy_list.csv", rows=rows)


def _count(store) -> int:
    return store.scalar("SELECT count(*) FROM rec_travel_measure WHERE _current")


def _held(store) -> int:
    return store.scalar("SELECT count(*) FROM quarantine WHERE status = 'held'")


def test_reject_stays_the_default_and_says_none(store, tmp_path):
    path = _cobap_with_none(tmp_path)
    result = import_files(store, "cobap", [path])
    assert result.status == "rejected"
    errors = result.report.errors
    assert [(f.row, f.code) for f in errors] == [(r, "travel.date-missing") for r in (2, 3, 5, 7, 8, 13, 15)]  # ES08 comment: 2 lines
    assert all("START_DATE is NONE" in f.message and "empty" not in f.message for f in errors)
    assert store.scalar("SELECT count(*) FROM quarantine") == 0


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_cobap_imports_with_its_none_rows_quarantined(request, backend, tmp_path):
    store = request.getfixturevalue("store" if backend == "duckdb" else "pg_store")
    path = _cobap_with_none(tmp_path)
    result = import_files(store, "cobap", [path], on_error="quarantine")
    assert result.status == "committed", result.report.summary()
    assert (result.loaded, result.quarantined) == (7, 7)
    assert result.counts_text() == "7 loaded, 7 quarantined"
    assert _count(store) == 7 and _held(store) == 7
    assert {f.code for f in result.report.errors} == {"travel.date-missing"}  # every finding is still shown
    message = store.scalar("SELECT message FROM imports WHERE import_id = ?", [result.import_id])
    assert message == "committed: 7 loaded, 7 quarantined"
    stored = {r[0] for r in store.query("SELECT source_id FROM rec_travel_measure")}
    assert stored.isdisjoint(NONE_IDS)
    held = qn.list_held(store)
    assert sorted(h.values["source_id"] for h in held) == sorted(NONE_IDS)
    one = next(h for h in held if h.values["source_id"] == "AR03")
    assert (one.file_name, one.source_row, one.import_id) == ("policy_list.csv", 2, result.import_id)
    assert one.values["date_in_force"] is None and one.values["iso3"] == "ARG"
    assert [(f.code, f.value) for f in one.findings] == [("travel.date-missing", "NONE")]
    assert one.country == "ARG"
    assert qn.summary(store) == [{"import_id": result.import_id, "form_id": "travel_measure", "kind": "cobap",
                                  "file": "policy_list.csv", "rows": 7, "codes": "travel.date-missing (7)"}]
    # The same file again: nothing new (its rows are held already).
    assert import_files(store, "cobap", [path], on_error="quarantine").status == "unchanged"
    assert _held(store) == 7

    # fix -> checked again; still wrong -> still an error; then released as a record version.
    fixed, report = qn.fix(store, one.quarantine_id, {"date_in_force": "2020-13-40"})
    assert {f.code for f in report.errors} == {"type-date"}
    with pytest.raises(EditRejected):
        qn.release(store, one.quarantine_id)
    assert _count(store) == 7
    fixed, report = qn.fix(store, one.quarantine_id, {"date_in_force": "2020-03-27"})
    assert report.ok and fixed.findings == [] and fixed.status == "held"
    record_id = qn.release(store, one.quarantine_id)
    assert record_id == "cobap|AR03"
    assert _count(store) == 8
    row = store.query("SELECT date_in_force, _import_id, _source_row FROM rec_travel_measure "
                      "WHERE source_id = 'AR03' AND _current")
    assert [(str(row[0][0]), row[0][1], row[0][2])] == [("2020-03-27", result.import_id, 2)]
    assert qn.get_held(store, one.quarantine_id).status == "released"
    with pytest.raises(UsageError):
        qn.release(store, one.quarantine_id)  # once

    # An unfixed row cannot be released: the form's rule (COBAP measures need their date in force) holds.
    other = next(h for h in held if h.values["source_id"] == "MA10")
    with pytest.raises(EditRejected) as refused:
        qn.release(store, other.quarantine_id)
    assert [f.code for f in refused.value.report.errors] == ["constraint"]
    assert "date in force" in refused.value.report.errors[0].message
    dropped = qn.drop(store, other.quarantine_id, reason="a duplicate of MA11")
    assert dropped.status == "dropped" and _held(store) == 5
    actions = [r[0] for r in store.query("SELECT action FROM audit_log WHERE action LIKE 'quarantine.%' "
                                         "ORDER BY audit_id")]
    assert actions == ["quarantine.fix", "quarantine.release_refused", "quarantine.fix", "quarantine.release",
                       "quarantine.release_refused", "quarantine.drop"]


def test_file_level_problems_still_reject_the_whole_file(store, tmp_path):
    install_pack(store, "travel")
    rows = cobap_rows("mdy")
    rows[0]["START_DATE"] = "NONE"
    rows[1]["START_DATE"] = "13_03_20"  # day first, while the others are month first: the file's order is unknown
    path = write_cobap(tmp_path / "mixed.csv", rows=rows)
    result = import_files(store, "cobap", [path], on_error="quarantine")
    assert result.status == "rejected"
    assert "travel.date-order-mixed" in {f.code for f in result.report.errors}
    assert store.scalar("SELECT count(*) FROM quarantine") == 0 and _count(store) == 0


def test_checks_after_reading_set_rows_aside_too(store, tmp_path):
    """Errors found by the pipeline's checks (required, duplicate key) quarantine their rows; warnings do not."""
    rows = cobap_rows("mdy")
    rows[1]["ISO3"] = ""  # required
    rows[3]["ID"] = rows[2]["ID"]  # duplicate key: the first row loads, the second is held
    path = write_cobap(tmp_path / "policy_list.csv", rows=rows)
    result = import_files(store, "cobap", [path], on_error="quarantine")
    assert result.status == "committed", result.report.summary()
    assert (result.loaded, result.quarantined) == (len(rows) - 2, 2)
    codes = {h.source_row: sorted({f.code for f in h.errors}) for h in qn.list_held(store)}
    assert codes == {3: ["required"], 5: ["duplicate-key"]}
    assert result.report.warnings  # the file's warnings stay with the import (BN01's end before its start, ...)
    assert all(h.findings and all(f.severity == "error" or f.row == h.source_row for f in h.findings)
               for h in qn.list_held(store))


def test_a_crash_mid_import_leaves_neither_records_nor_held_rows(store, tmp_path, monkeypatch):
    from passage import records

    path = _cobap_with_none(tmp_path)

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(qn, "hold_rows", lambda *a, **k: boom())
    with pytest.raises(RuntimeError):
        import_files(store, "cobap", [path], on_error="quarantine")
    assert _count(store) == 0 and store.scalar("SELECT count(*) FROM quarantine") == 0
    monkeypatch.undo()
    monkeypatch.setattr(records, "load", boom)
    with pytest.raises(RuntimeError):
        import_files(store, "cobap", [path], on_error="quarantine")
    assert store.scalar("SELECT count(*) FROM quarantine") == 0
    assert store.scalar("SELECT status FROM imports ORDER BY import_id DESC LIMIT 1") == "failed"


def test_editors_review_the_rows_of_their_places(store, tmp_path):
    path = _cobap_with_none(tmp_path)
    result = import_files(store, "cobap", [path], on_error="quarantine")
    assert result.quarantined == 7
    add_user(store, "amina", "correct horse battery", role="editor", scopes=["ARG"])
    add_user(store, "bo", "correct horse battery", role="editor", scopes=["MAR"])
    add_user(store, "vi", "correct horse battery", role="viewer", scopes=["ARG"])
    amina, bo, vi = (get_principal(store, n) for n in ("amina", "bo", "vi"))
    arg = next(h for h in qn.list_held(store) if h.country == "ARG")
    assert [h.country for h in qn.list_held(store, amina)] == ["ARG"]
    assert [h.country for h in qn.list_held(store, vi)] == []
    with pytest.raises(NotFound):
        qn.fix(store, arg.quarantine_id, {"date_in_force": "2020-03-27"}, principal=bo)
    with pytest.raises(NotFound):
        qn.drop(store, arg.quarantine_id, principal=vi)
    fixed, report = qn.fix(store, arg.quarantine_id, {"date_in_force": "2020-03-27"}, principal=amina)
    assert report.ok and fixed.changed_by == "amina"
    assert qn.release(store, arg.quarantine_id, principal=amina) == "cobap|AR03"
    assert store.scalar("SELECT _user FROM rec_travel_measure WHERE source_id = 'AR03' AND _current") == "amina"
    # An editor cannot move a row out of their places by fixing it.
    mar = next(h for h in qn.list_held(store) if h.country == "MAR")
    kept, report = qn.fix(store, mar.quarantine_id, {"date_in_force": "2020-03-20", "iso3": "ARG"}, principal=bo)
    assert "out-of-scope" in {f.code for f in report.errors}
    assert kept.values["iso3"] == "MAR" and qn.get_held(store, mar.quarantine_id).country == "MAR"
    # An admin may: the place the importer took from the country follows it.
    moved, report = qn.fix(store, mar.quarantine_id, {"date_in_force": "2020-03-20", "iso3": "ARG"})
    assert report.ok and (moved.country, moved.place_code) == ("ARG", "ARG")


def test_on_error_comes_from_the_pack_and_is_checked(store, tmp_path, monkeypatch):
    from passage.ingest.pipeline import get_importer

    with pytest.raises(UsageError):
        import_files(store, "cobap", [_cobap_with_none(tmp_path)], on_error="skip")
    from passage.ingest import pipeline
    from passage.plugins import load_pack

    assert pipeline.default_on_error(get_importer("cobap"), "travel_measure") == "reject"
    assert pipeline.default_on_error(get_importer("xlsform-data"), "anything") == "reject"
    pack = load_pack("travel")
    monkeypatch.setitem(pack.spec, "on_error", "quarantine")
    assert pipeline.default_on_error(get_importer("cobap"), "travel_measure") == "quarantine"
    assert import_files(store, "cobap", [_cobap_with_none(tmp_path)]).quarantined == 7


def test_held_rows_as_json(store, tmp_path):
    import_files(store, "cobap", [_cobap_with_none(tmp_path)], on_error="quarantine")
    one = qn.list_held(store)[0]
    d = json.loads(json.dumps(one.as_dict()))
    assert d["status"] == "held" and d["form_id"] == "travel_measure" and "_row" not in d["values"]


def test_the_command_line(store_path, tmp_path):
    from cli_run import passage_cli

    path = _cobap_with_none(tmp_path)
    db = ["--db", store_path, "-q"]
    rejected = passage_cli(*db, "import", "cobap", path)
    assert rejected.returncode == 1 and "START_DATE is NONE" in rejected.stderr
    done = passage_cli(*db, "import", "cobap", path, "--on-error", "quarantine")
    assert done.returncode == 0, done.stderr
    assert "7 loaded, 7 quarantined" in done.stdout
    assert "Quarantined: 7 row(s) with 7 error(s)" in done.stderr
    listed = passage_cli(*db, "quarantine", "list")
    assert "travel.date-missing (7)" in listed.stdout
    rows = passage_cli(*db, "quarantine", "list", "--rows").stdout.splitlines()[2:]
    first = rows[-1].split()[0]
    shown = passage_cli(*db, "quarantine", "show", first)
    assert "START_DATE is NONE" in shown.stdout and "date_in_force" in shown.stdout
    still = passage_cli(*db, "quarantine", "fix", first, "--set", "date_in_force=soon")
    assert still.returncode == 1 and "type-date" in still.stderr
    assert passage_cli(*db, "quarantine", "release", first).returncode == 1
    fixed = passage_cli(*db, "quarantine", "fix", first, "--set", "date_in_force=2020-03-27")
    assert fixed.returncode == 0 and "no errors left" in fixed.stdout
    released = passage_cli(*db, "quarantine", "release", first)
    assert released.returncode == 0 and "released as record cobap|AR03" in released.stdout
    dropped = passage_cli(*db, "quarantine", "drop", rows[0].split()[0], "--reason", "not a policy")
    assert dropped.returncode == 0
    assert passage_cli(*db, "quarantine", "drop", rows[0].split()[0]).returncode == 2  # once
    assert "travel.date-missing (5)" in passage_cli(*db, "quarantine", "list").stdout
    assert passage_cli(*db, "quarantine", "fix", first, "--set", "nofield=1").returncode == 2


def test_a_user_form_export_with_repeats(store, tmp_path):
    """xlsform-data: a household with a bad answer is held with its member rows, the other households load with
    theirs; an error on a member row alone is not located on a record: the file is rejected."""
    import test_xlsform_data as kobo
    from passage.forms import install_form

    install_form(store, kobo.household_form())
    before = kobo.snapshot(store)
    bad = kobo.run(store, kobo.bad_integer(tmp_path), on_error="quarantine")
    assert bad.status == "committed", bad.report.summary()
    assert bad.quarantined == 1
    held = qn.list_held(store, form_id="household_survey")
    assert len(held) == 1
    h = held[0]
    members = store.scalar("SELECT count(*) FROM rec_household_survey__members")
    total = store.scalar("SELECT count(*) FROM rec_household_survey")
    assert total == bad.loaded == 5 and members > 0
    assert h.repeats["members"] and all(r["_parent_index"] == h.values["_index"] for r in h.repeats["members"])
    assert store.scalar("SELECT count(*) FROM rec_household_survey__members m WHERE m._parent_record NOT IN "
                        "(SELECT _record_id FROM rec_household_survey)") == 0
    with pytest.raises(UsageError):  # with its member rows: not yet
        qn.release(store, h.quarantine_id)
    assert before != kobo.snapshot(store)
    # An error on a member row: on no record's row, so the whole file is rejected.
    rejected = kobo.run(store, kobo.bad_member_constraint(tmp_path), on_error="quarantine")
    assert rejected.status == "rejected" and qn.list_held(store, form_id="household_survey") == held


def test_every_bad_row_is_located_beyond_the_reports_first_200(store, tmp_path):
    """A check reports its first 200 rows; quarantining, each row with an error is located and held."""
    base = cobap_rows("mdy")[0]
    rows = [{**base, "ID": f"B{i:04d}", "ISO3": "" if i % 2 else base["ISO3"]} for i in range(600)]
    result = import_files(store, "cobap", [write_cobap(tmp_path / "many.csv", rows=rows)], on_error="quarantine")
    assert result.status == "committed", result.report.summary()
    assert (result.loaded, result.quarantined) == (300, 300)
    assert result.report.counts["required"] == 300


def test_dtm_rows_left_get_their_places_and_keys(store, tmp_path):
    """A row with a type error set aside: the places and keys, which run_checks leaves out while rows have
    errors, still run over the rows left (they failed on the missing `_place_code` before)."""
    from dtm_rows import NGA, TCD, api_rows, write_csv

    install_pack(store, "dtm")
    rows = api_rows("NGA", NGA) + api_rows("TCD", TCD)
    rows[3]["numPresentIdpInd"] = "many"
    r = import_files(store, "dtm", [write_csv(tmp_path / "a.csv", rows)], on_error="quarantine")
    assert (r.status, r.inserted, r.quarantined) == ("committed", len(rows) - 1, 1), r.report.flat()
    assert [(f.code, f.row) for f in r.report.errors] == [("type-integer", 6)]
    assert [f.column for h in qn.list_held(store, None, import_id=r.import_id) for f in h.findings] == [
        "num_present_idp_ind"]  # by field: the quarantine's fix takes values by field
    loaded = dict(store.query("SELECT admin2_pcode, _place_code FROM rec_dtm_idps WHERE admin_level = 2"))
    assert loaded == {"NG008001": "NG008001", "TCD0704": "TCD0704"}  # TD0704 normalised, places set
    assert "pcode-length" in {f.code for f in r.report.warnings}
    assert store.scalar("SELECT count(DISTINCT _record_id) FROM rec_dtm_idps") == len(rows) - 1


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
@pytest.mark.parametrize("first", ["released", "dropped"])
def test_a_row_closed_by_another_reviewer_meanwhile_is_not_loaded_again(request, backend, first, tmp_path,
                                                                        monkeypatch):
    """Two reviewers act on one held row at once: the second release, checked before the first closed the row,
    must not load it as well (a form without a key would get the record twice) nor reopen a dropped row."""
    store = request.getfixturevalue("store" if backend == "duckdb" else "pg_store")
    result = import_files(store, "cobap", [_cobap_with_none(tmp_path)], on_error="quarantine")
    one = next(h for h in qn.list_held(store) if h.values["source_id"] == "AR03")
    qn.fix(store, one.quarantine_id, {"date_in_force": "2020-03-27"})
    checked = qn._check

    def the_other_reviewer_acts_meanwhile(*args, **kwargs):
        job = checked(*args, **kwargs)
        store.execute("UPDATE quarantine SET status = ? WHERE quarantine_id = ?", [first, one.quarantine_id])
        return job

    monkeypatch.setattr(qn, "_check", the_other_reviewer_acts_meanwhile)
    with pytest.raises(UsageError) as closed:
        qn.release(store, one.quarantine_id)
    assert closed.value.code == "quarantine.closed"
    assert _count(store) == 7  # nothing loaded by this release
    assert qn.get_held(store, one.quarantine_id).status == first
    monkeypatch.setattr(qn, "_check", checked)
    with pytest.raises(UsageError):
        qn.drop(store, one.quarantine_id)
    with pytest.raises(UsageError):
        qn.fix(store, one.quarantine_id, {"date_in_force": "2020-03-28"})
    assert qn.get_held(store, one.quarantine_id).status == first
    assert result.import_id is not None
