"""Record edits pass the checks an import of the row passes, whatever the channel, and what released readers
see changes only at the next release. The library function on DuckDB and PostgreSQL, and `passage records edit`.

The store holds the Nigerian and Chadian rows of `dtm_rows`: Borno (NG008) at admin 1 and Abadam (NG008001) at
admin 2, rounds 40 and 41.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dtm_rows import NGA, TCD, api_rows, write_csv
from passage import releases
from passage.access import readable
from passage.auth import PUBLIC, Principal, add_user, audit_entries
from passage.cli import main
from passage.edits import edit_record
from passage.errors import Conflict, EditRejected, Forbidden, NotFound
from passage.ingest import import_files
from passage.records import delete_record, history, write_version
from passage.store import open_store

FORM = "dtm_idps"
TABLE = "rec_dtm_idps"
ADMIN = Principal("admin", "admin")
EDITOR_NGA = Principal("editor-nga", "editor", {"NGA"})
EDITOR_TCD = Principal("editor-tcd", "editor", {"TCD"})
EDITOR_BORNO = Principal("editor-borno", "editor", {"NG008"})
VIEWER = Principal("viewer-nga", "viewer", {"NGA"})
PASSWORD = "edits-are-checked-2024"

# Records by (admin level, round, displacement reason as stored).
ABADAM_41 = (2, 41, "conflict")  # 300 IDPs, 100 males, 150 females
ABADAM_40 = (2, 40, "conflict")
BORNO_40 = (1, 40, "conflict")
BORNO_40_DISASTER = (1, 40, "natural disaster")
BORNO_41 = (1, 41, "conflict")
NIGERIA_40 = (0, 40, "conflict")


def _load(store, tmp_path) -> None:
    for iso3, rows in (("NGA", NGA), ("TCD", TCD)):
        result = import_files(store, "dtm", [write_csv(tmp_path / f"{iso3}.csv", api_rows(iso3, rows))], user="demo")
        assert result.status == "committed", result.report.findings


@pytest.fixture
def loaded(any_store, tmp_path):
    _load(any_store, tmp_path)
    return any_store


def rid(store, which: tuple[int, int, str], country: str = "NGA") -> str:
    level, rnd, reason = which
    found = store.query(f"SELECT _record_id FROM {FORM} WHERE admin0_pcode = ? AND admin_level = ? "
                        "AND round_number = ? AND displacement_reason = ?", [country, level, rnd, reason])
    assert len(found) == 1, found
    return found[0][0]


def table_state(store) -> list[tuple]:
    """Every version of every record: what a refused edit must leave exactly as it was."""
    return sorted(store.query(f"SELECT * FROM {TABLE}"), key=repr)


# ---- refusals: one per check, each located by column, and nothing changes ---------------------------------------

REFUSED = [
    # id, who, record, changes, (column, finding code)
    ("wrong-type", EDITOR_NGA, ABADAM_41, {"num_present_idp_ind": "3OO"}, ("num_present_idp_ind", "type-integer")),
    ("not-a-date", EDITOR_NGA, ABADAM_41, {"reporting_date": "31/06/2022"}, ("reporting_date", "type-date")),
    ("constraint", EDITOR_NGA, ABADAM_41, {"month_reporting_date": "13"}, ("month_reporting_date", "constraint")),
    ("required", EDITOR_NGA, ABADAM_41, {"operation": ""}, ("operation", "required")),
    ("choice", EDITOR_NGA, ABADAM_41, {"assessment_type": "XYZ"}, ("assessment_type", "choice-unknown")),
    ("relevance", EDITOR_NGA, BORNO_41, {"admin2_pcode": "NG008001"}, ("admin2_pcode", "not-relevant")),
    ("negative", EDITOR_NGA, ABADAM_41, {"number_males": "-1"}, ("number_males", "negative-count")),
    ("parts-over-total", EDITOR_NGA, ABADAM_41, {"number_males": "200"}, ("number_females", "sex-exceeds-total")),
    ("future-date", EDITOR_NGA, ABADAM_41, {"reporting_date": "2999-01-31"}, ("reporting_date", "future-date")),
    ("unknown-pcode", EDITOR_NGA, ABADAM_41, {"admin2_pcode": "NG999999"}, ("admin2_pcode", "pcode-unknown")),
    ("wrong-level", EDITOR_NGA, ABADAM_41, {"admin2_pcode": "NG002"}, ("admin2_pcode", "pcode-wrong-level")),
    ("wrong-parent", EDITOR_NGA, ABADAM_41, {"admin1_pcode": "NG002", "admin1_name": "Adamawa"},
     ("admin2_pcode", "pcode-parent-mismatch")),
    ("wrong-country", ADMIN, BORNO_41, {"admin0_pcode": "TCD"}, ("admin1_pcode", "pcode-parent-mismatch")),
    ("unknown-country", ADMIN, NIGERIA_40, {"admin0_pcode": "XYZ"}, ("admin0_pcode", "pcode-unknown")),
    ("duplicate-key", EDITOR_NGA, BORNO_40_DISASTER, {"displacement_reason": "Conflict"}, (None, "duplicate-key-store")),
    ("other-country", EDITOR_NGA, BORNO_41, {"admin0_pcode": "TCD", "admin1_pcode": "TD07", "admin1_name": "Lac"},
     ("admin0_pcode", "out-of-scope")),
    ("other-province", EDITOR_BORNO, ABADAM_41,
     {"admin1_pcode": "NG002", "admin1_name": "Adamawa", "admin2_pcode": "NG002001", "admin2_name": "Demsa"},
     ("admin0_pcode", "out-of-scope")),
]


@pytest.mark.parametrize(("who", "record", "changes", "finding"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_an_edit_failing_a_check_is_refused_located_and_changes_nothing(loaded, who, record, changes, finding):
    store = loaded
    record_id = rid(store, record)
    before = table_state(store)
    with pytest.raises(EditRejected) as exc:
        edit_record(store, FORM, record_id, changes, principal=who)
    assert exc.value.code == "edit.rejected" and exc.value.http_status == 422
    assert finding in {(f.column, f.code) for f in exc.value.report.errors}
    assert all(f.file == f"{FORM}/{record_id}" for f in exc.value.report.errors)
    assert table_state(store) == before
    logged = audit_entries(store, action="record.edit_rejected")
    assert logged and logged[0]["target"] == f"{FORM}/{record_id}" and logged[0]["user_name"] == who.user_name


def test_the_issue_edit_moving_a_nigerian_area_to_afghanistan_is_out_of_scope(loaded):
    """editor-nga posted admin0_pcode=AFG with 999,999 IDPs: it was saved and showed on the admin's AFG map."""
    store = loaded
    record_id = rid(store, ABADAM_41)
    before = table_state(store)
    with pytest.raises(EditRejected) as exc:
        edit_record(store, FORM, record_id, {"admin0_pcode": "AFG", "num_present_idp_ind": "999999"},
                    principal=EDITOR_NGA)
    codes = {(f.column, f.code) for f in exc.value.report.errors}
    assert ("admin0_pcode", "out-of-scope") in codes
    assert table_state(store) == before
    assert store.scalar(f"SELECT count(*) FROM {FORM} WHERE admin0_pcode = 'AFG' OR num_present_idp_ind = 999999") == 0


def test_who_may_not_edit_the_record_as_it_is_is_forbidden(loaded):
    store = loaded
    record_id = rid(store, ABADAM_41)
    before = table_state(store)
    for who in (EDITOR_TCD, VIEWER, PUBLIC, Principal("editor-nowhere", "editor")):
        with pytest.raises(Forbidden):
            edit_record(store, FORM, record_id, {"num_present_idp_ind": "301"}, principal=who)
    assert table_state(store) == before


def test_unknown_fields_and_records_are_not_found(loaded):
    with pytest.raises(NotFound):
        edit_record(loaded, FORM, rid(loaded, ABADAM_41), {"no_such_field": "1"}, principal=ADMIN)
    with pytest.raises(NotFound):
        edit_record(loaded, FORM, "no-such-record", {"num_present_idp_ind": "1"}, principal=ADMIN)


# ---- valid edits --------------------------------------------------------------------------------------------------

def test_a_valid_edit_is_a_new_version_normalised_as_an_import_with_its_audit_entry(loaded):
    store = loaded
    record_id = rid(store, ABADAM_41)
    # " Conflict " is what the file said before the importer normalised it: the same value, not a change
    version = edit_record(store, FORM, record_id, {"num_present_idp_ind": "320", "displacement_reason": " Conflict "},
                          principal=EDITOR_NGA)
    assert version == 2
    names, rows = history(store, FORM, record_id)
    v1, v2 = (dict(zip(names, r)) for r in rows)
    assert (v1["_current"], v2["_current"], v2["_user"], v2["_import_id"]) == (False, True, "editor-nga", None)
    assert v2["_place_code"] == "NG008001"
    now = store.query(f"SELECT num_present_idp_ind, displacement_reason, number_males FROM {FORM} "
                      "WHERE _record_id = ?", [record_id])
    assert now == [(320, "conflict", 100)]
    entry = audit_entries(store, action="record.edit")[0]
    assert (entry["user_name"], entry["target"]) == ("editor-nga", f"{FORM}/{record_id}")
    assert entry["detail"] == {"fields": ["num_present_idp_ind"], "version": 2}


def test_an_edit_that_changes_nothing_makes_no_version(loaded):
    store = loaded
    record_id = rid(store, ABADAM_41)
    before = table_state(store)
    assert edit_record(store, FORM, record_id, {"num_present_idp_ind": "0300"}, principal=EDITOR_NGA) == 1
    assert edit_record(store, FORM, record_id, {"num_present_idp_ind": 300}) == 1
    assert table_state(store) == before


def test_a_key_taken_by_an_earlier_edit_is_a_duplicate_too(loaded):
    """Record ids are the keys records were imported with; a record whose key fields were edited keeps its id."""
    store = loaded
    moved = rid(store, BORNO_40)
    assert edit_record(store, FORM, moved, {"round_number": "39"}, principal=EDITOR_NGA) == 2
    other = rid(store, BORNO_40_DISASTER)
    with pytest.raises(EditRejected) as exc:
        edit_record(store, FORM, other, {"displacement_reason": "conflict", "round_number": "39"},
                    principal=EDITOR_NGA)
    assert [(f.code, f.value) for f in exc.value.report.errors] == [("duplicate-key-store", moved.replace("|40|", "|39|"))]
    # and the record id it keeps stays taken: an import of that key would make a new version of it
    with pytest.raises(EditRejected) as exc:
        edit_record(store, FORM, other, {"displacement_reason": "conflict"}, principal=EDITOR_NGA)
    assert [(f.code, f.value) for f in exc.value.report.errors] == [("duplicate-key-store", moved)]


def test_an_admin_may_move_a_record_to_another_country_with_its_codes(loaded):
    store = loaded
    record_id = rid(store, BORNO_41)
    assert edit_record(store, FORM, record_id, {"admin0_pcode": "AFG", "admin0_name": "Afghanistan",
                                                "admin1_pcode": "AF01", "admin1_name": "Kabul"}, principal=ADMIN) == 2
    assert store.query(f"SELECT admin0_pcode, admin1_pcode, _place_code FROM {FORM} WHERE _record_id = ?",
                       [record_id]) == [("AFG", "AF01", "AF01")]


def test_a_key_taken_by_a_load_while_the_edit_was_checked_is_refused(store, tmp_path):
    """The key is checked again under the import's load lock: a load committing that key meanwhile wins."""
    _load(store, tmp_path)
    record_id = rid(store, BORNO_40_DISASTER)
    new_key = record_id.replace("natural disaster", "flood")

    def a_load_commits_the_key() -> None:  # a record with the key the edit is about to take
        store.execute(f"INSERT INTO {TABLE} SELECT * REPLACE (? AS _record_id) FROM {TABLE} WHERE _record_id = ?",
                      [new_key, rid(store, BORNO_41)])

    outcome = _edit_while_locked(store, FORM, record_id, {"displacement_reason": "Flood"}, a_load_commits_the_key,
                                 principal=EDITOR_NGA)
    assert outcome == {"findings": [("duplicate-key-store", new_key)]}
    assert len(history(store, FORM, record_id)[1]) == 1  # no new version


def _edit_while_locked(store, form: str, record_id: str, changes: dict, meanwhile, principal=None) -> dict:
    """Edit a record on another handle while the form's load lock is held (a load or a workflow transition under
    way): once the edit is checked and waits to write, `meanwhile()` commits; returns how the edit ended."""
    import sys
    import threading
    import time

    outcome = {}

    def edit() -> None:
        with store.sibling() as handle:
            try:
                outcome["version"] = edit_record(handle, form, record_id, changes, principal=principal)
            except EditRejected as exc:
                outcome["findings"] = [(f.code, f.value) for f in exc.report.errors]

    with store.load_lock(form):
        worker = threading.Thread(target=edit)
        worker.start()
        deadline = time.monotonic() + 60
        while not any(f.f_code.co_name == "load_lock" for f in _frames(sys._current_frames().get(worker.ident))):
            assert worker.is_alive() and time.monotonic() < deadline, outcome  # checked, now waiting to write
            time.sleep(0.01)
        meanwhile()
    worker.join(60)
    return outcome


def _frames(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


def test_a_record_changed_meanwhile_is_a_conflict(loaded):
    store = loaded
    record_id = rid(store, ABADAM_41)
    edit_record(store, FORM, record_id, {"num_present_idp_ind": "310"}, principal=EDITOR_NGA)
    with pytest.raises(Conflict):
        write_version(store, FORM, record_id, {"num_present_idp_ind": 320}, user="late", system={},
                      expected_version=1)
    assert store.scalar(f"SELECT max(_version) FROM {TABLE} WHERE _record_id = ?", [record_id]) == 2


# ---- what released readers see ------------------------------------------------------------------------------------

def _seen(store, principal) -> set[tuple]:
    rows = readable(store, principal, releases.get_dataset(store, FORM)).to_pyarrow().to_pylist()
    assert all(r["_current"] for r in rows)  # nothing says an unpublished change exists
    assert len({r["_record_id"] for r in rows}) == len(rows)  # each record once, in the latest release showing it
    return {(r["_record_id"], r["_version"], r["admin0_pcode"], r["num_present_idp_ind"]) for r in rows}


def test_released_readers_see_the_release_time_version_until_the_next_release(loaded):
    store = loaded
    releases.publish(store, FORM, "NGA")
    releases.publish(store, FORM, "TCD")
    released = {p.role: _seen(store, p) for p in (PUBLIC, VIEWER)}
    assert len(released["public"]) == len(NGA) + len(TCD) and released["viewer"] == released["public"]

    changed, moved, deleted = rid(store, ABADAM_41), rid(store, BORNO_41), rid(store, NIGERIA_40)
    into_nga = rid(store, (1, 10, "conflict"), "TCD")
    edit_record(store, FORM, changed, {"num_present_idp_ind": "320"}, principal=EDITOR_NGA)
    edit_record(store, FORM, moved, {"admin0_pcode": "AFG", "admin1_pcode": "AF01", "admin1_name": "Kabul"},
                principal=ADMIN)  # into a country never released
    edit_record(store, FORM, into_nga, {"admin0_pcode": "NGA", "admin1_pcode": "NG002", "admin1_name": "Adamawa"},
                principal=ADMIN)  # into a released country, after its release
    delete_record(store, FORM, deleted, user="admin")

    for p in (PUBLIC, VIEWER):
        assert _seen(store, p) == released[p.role], p.role
    editor = {r[0]: r for r in _seen(store, EDITOR_NGA)}  # in its places: what is current
    assert editor[changed][3] == 320 and editor[into_nga][2] == "NGA" and deleted not in editor
    assert moved not in editor  # now Afghan and unreleased
    admin = {r[0]: r for r in _seen(store, ADMIN)}
    assert admin[moved][2] == "AFG" and deleted not in admin

    releases.publish(store, FORM, "NGA")
    public = {r[0]: r for r in _seen(store, PUBLIC)}
    assert public[changed][3] == 320 and public[into_nga][2] == "NGA"
    assert moved not in public and deleted not in public
    assert _seen(store, VIEWER) == set(public.values())


def test_a_restricted_dataset_keeps_its_release_inside_the_viewers_places(loaded):
    store = loaded
    releases.publish(store, FORM, "NGA")
    releases.set_visibility(store, FORM, "restricted")
    before = _seen(store, VIEWER)
    assert {r[2] for r in before} == {"NGA"} and not _seen(store, Principal("viewer-tcd", "viewer", {"AFG"}))
    edit_record(store, FORM, rid(store, BORNO_41), {"admin0_pcode": "AFG", "admin1_pcode": "AF01",
                                                    "admin1_name": "Kabul"}, principal=ADMIN)
    assert _seen(store, VIEWER) == before
    assert not _seen(store, Principal("viewer-afg", "viewer", {"AFG"}))  # AFG was never released


# ---- the importer's own row checks --------------------------------------------------------------------------------

def test_a_staff_record_meets_the_register_checks_of_its_importer(store, tmp_path):
    import csv

    path = tmp_path / "staff_2020.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["staff_id", "category", "grade", "nationality", "nationality_group", "sex", "appointment_type"])
        w.writerow(["T0001", "General Service", "G-4", "Kenya", "member", "F", "national"])
    assert import_files(store, "staff-register", [path]).status == "committed"
    record_id = store.scalar("SELECT _record_id FROM staff_member")
    with pytest.raises(EditRejected) as exc:  # G-4 is no grade of the Professional category
        edit_record(store, "staff_member", record_id, {"category": "Professional and higher"})
    assert [(f.column, f.code) for f in exc.value.report.errors] == [("grade", "staff.grade_category")]
    assert edit_record(store, "staff_member", record_id, {"category": "Professional and higher",
                                                          "grade": "P-3"}) == 2


# ---- questionnaires change only while they are drafts -----------------------------------------------------------

def test_a_questionnaire_record_changes_only_while_it_is_a_draft(store):
    from passage.packs.institutional import save_answers
    from passage.packs.institutional import workflow as wf
    from passage.packs.institutional.offices import default_offices_csv, import_offices

    assert import_offices(store, default_offices_csv()).ok
    assert save_answers(store, "CO-VUT", 2020, {"psea_staff_trained": "3"}, ADMIN).ok
    record_id = wf.record_id("CO-VUT", 2020)
    form = "institutional_questionnaire"
    assert edit_record(store, form, record_id, {"psea_staff_trained": "4"}, principal=Principal(
        "ed-vut", "editor", {"CO-VUT"})) == 2
    with pytest.raises(Forbidden):
        edit_record(store, form, record_id, {"psea_staff_trained": "5"}, principal=Principal("ed", "editor", {"CO-NGA"}))
    wf.record_states(store, 2020, {"CO-VUT": "submitted"}, user="hq", reason="carried over")
    with pytest.raises(EditRejected) as exc:
        edit_record(store, form, record_id, {"psea_staff_trained": "5"})
    assert [(f.column, f.code, f.value) for f in exc.value.report.errors] == [
        ("office", "institutional.questionnaire-workflow", "CO-VUT 2020 is submitted")]
    assert wf.current_answers(store, "CO-VUT", 2020)["_version"] == 2
    with pytest.raises(EditRejected) as exc:  # nor deleted: the submitted questionnaire keeps its answers
        delete_record(store, form, record_id, principal=Principal("ed-vut", "editor", {"CO-VUT"}))
    assert [f.code for f in exc.value.report.errors] == ["institutional.questionnaire-workflow"]
    assert wf.current_answers(store, "CO-VUT", 2020)["_version"] == 2


# ---- the CLI ------------------------------------------------------------------------------------------------------

def _cli(store_path, *args: str, user: str | None = None):
    acting = ["--user", user] if user else []  # without --user: the store's operator
    return CliRunner().invoke(main, ["--db", str(store_path), *acting, "records", "edit", *args])


def test_cli_edits_run_the_checks_and_the_users_places(store_path, tmp_path):
    with open_store(str(store_path)) as store:
        _load(store, tmp_path)
        add_user(store, "ed-tcd", PASSWORD, "editor", ["TCD"])
        add_user(store, "ed-nga", PASSWORD, "editor", ["NGA"])
        record_id, other = rid(store, ABADAM_41), rid(store, BORNO_40_DISASTER)

    bad = _cli(store_path, FORM, record_id, "num_present_idp_ind=many", "month_reporting_date=13")
    assert bad.exit_code == 1 and bad.stdout == ""
    assert "nothing was changed" in bad.stderr
    assert "type-integer" in bad.stderr and "num_present_idp_ind" in bad.stderr and "constraint" in bad.stderr
    dup = _cli(store_path, FORM, other, "displacement_reason=Conflict")
    assert dup.exit_code == 1 and "duplicate-key-store" in dup.stderr
    pcode = _cli(store_path, FORM, record_id, "admin2_pcode=NG999999")
    assert pcode.exit_code == 1 and "pcode-unknown" in pcode.stderr
    outside = _cli(store_path, FORM, record_id, "admin0_pcode=AFG", user="ed-nga")
    assert outside.exit_code == 1 and "out-of-scope" in outside.stderr
    forbidden = _cli(store_path, FORM, record_id, "num_present_idp_ind=301", user="ed-tcd")
    assert forbidden.exit_code == 1 and "not allowed" in forbidden.stderr
    with open_store(str(store_path)) as store:
        assert store.scalar(f"SELECT count(*) FROM {TABLE}") == len(NGA) + len(TCD)

    ok = _cli(store_path, FORM, record_id, "num_present_idp_ind=301", user="ed-nga")
    assert ok.exit_code == 0 and ok.stdout.strip() == "version 2"
    with open_store(str(store_path)) as store:
        assert store.query(f"SELECT num_present_idp_ind, _user FROM {FORM} WHERE _record_id = ?",
                           [record_id]) == [(301, "ed-nga")]


def test_cli_refuses_a_questionnaire_that_is_no_longer_a_draft(store_path):
    from passage.packs.institutional import save_answers
    from passage.packs.institutional import workflow as wf
    from passage.packs.institutional.offices import default_offices_csv, import_offices

    with open_store(str(store_path)) as store:
        assert import_offices(store, default_offices_csv()).ok
        assert save_answers(store, "CO-VUT", 2020, {"psea_staff_trained": "3"}, ADMIN).ok
        wf.record_states(store, 2020, {"CO-VUT": "locked"}, user="hq", reason="carried over")
    refused = _cli(store_path, "institutional_questionnaire", "CO-VUT|2020", "psea_staff_trained=4")
    assert refused.exit_code == 1 and "institutional.questionnaire-workflow" in refused.stderr and "CO-VUT 2020 is locked" in refused.stderr
    with open_store(str(store_path)) as store:
        assert wf.current_answers(store, "CO-VUT", 2020)["_version"] == 1


def test_a_questionnaire_submitted_while_its_record_was_edited_keeps_its_answers(store):
    """The workflow's state is read again under the load lock, which its transitions take: a questionnaire
    submitted after an edit was checked, before it was written, refuses the edit."""
    from passage.packs.institutional import save_answers
    from passage.packs.institutional import workflow as wf
    from passage.packs.institutional.offices import default_offices_csv, import_offices

    assert import_offices(store, default_offices_csv()).ok
    assert save_answers(store, "CO-VUT", 2020, {"psea_staff_trained": "3"}, ADMIN).ok
    record_id, form = wf.record_id("CO-VUT", 2020), "institutional_questionnaire"

    def submitted() -> None:  # what the transition writes
        with store.transaction():
            store.execute("DELETE FROM questionnaire_states WHERE office_code = 'CO-VUT' AND year = 2020")
            store.execute("INSERT INTO questionnaire_states VALUES ('CO-VUT', 2020, 'submitted', 1, now(), 'ed-vut')")

    outcome = _edit_while_locked(store, form, record_id, {"psea_staff_trained": "4"}, submitted)
    assert outcome == {"findings": [("institutional.questionnaire-workflow", "CO-VUT 2020 is submitted")]}
    assert wf.current_answers(store, "CO-VUT", 2020)["_version"] == 1
