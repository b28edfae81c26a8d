"""Imports that race: the same file at once commits once; an editor's import tells nothing of other places.

Concurrency runs for real: threads that each hold their own store handle (`Store.sibling()`, as the portal
gives every request), on DuckDB and on the PostgreSQL server, and two uploads at once against a running
portal. A barrier on the importers' `archiving` step (after their checks, before their loads) holds every
import until all of them have been checked, so the race the load lock closes happens on every run.
"""

from __future__ import annotations

import csv
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from dtm_rows import api_rows, write_csv
from passage.ingest import import_files
from passage.plugins import install_pack
from passage.store import Store, open_store
from test_faults import write_big_csv

ROWS = 2000
RACERS = 4


def doubled(store: Store, table: str = "rec_dtm_idps") -> int:
    """How many record ids have more than one current version."""
    return store.scalar(f"SELECT count(*) FROM (SELECT _record_id FROM {table} WHERE _current "
                        "GROUP BY _record_id HAVING count(*) > 1) AS d")


def race(store: Store, files: list[Path], *, update: bool = False) -> list:
    """Import files[i] in thread i, each on its own handle, all held at `archiving` until every one is there."""
    handles = [store.sibling() for _ in files]
    barrier = threading.Barrier(len(files), timeout=60)

    def run(i: int):
        def step(name: str) -> None:
            if name == "archiving":
                barrier.wait()
        try:
            return import_files(handles[i], "dtm", [files[i]], progress=step, update=update)
        except BaseException:
            barrier.abort()
            raise

    try:
        with ThreadPoolExecutor(len(files)) as pool:
            return list(pool.map(run, range(len(files))))
    finally:
        for h in handles:
            h.close()


def rewrite(src: Path, dst: Path, change) -> None:
    """Copy a DTM CSV (two header lines), passing each data row through `change` (None: left out)."""
    with src.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    with dst.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows[:2] + [c for c in map(change, rows[2:]) if c is not None])


@pytest.fixture
def dtm_store(any_store):
    install_pack(any_store, "dtm")
    return any_store


# ---- the same file, many times at once ----------------------------------------------------------------------

def test_the_same_file_imported_at_once_commits_once(dtm_store, tmp_path):
    path = tmp_path / "big.csv"
    write_big_csv(dtm_store, path, ROWS)
    results = race(dtm_store, [path] * RACERS)

    committed = [r for r in results if r.status == "committed"]
    assert len(committed) == 1, [(r.status, r.report.summary()) for r in results]
    winner = committed[0]
    assert winner.inserted == ROWS
    losers = [r for r in results if r is not winner]
    # The others are told why: the file is in, committed by that import; no error, nothing loaded.
    assert [(r.status, r.previous_import, r.skipped, r.inserted, r.report.ok) for r in losers] == [
        ("unchanged", winner.import_id, [path.name], 0, True)] * (RACERS - 1), [r.report.findings[:3] for r in losers]
    assert dtm_store.scalar("SELECT count(*) FROM rec_dtm_idps") == ROWS
    assert dtm_store.scalar("SELECT count(*) FROM dtm_idps") == ROWS
    assert doubled(dtm_store) == 0
    log = dtm_store.query("SELECT import_id, status, rows_inserted, message FROM imports ORDER BY import_id")
    assert sorted(s for _, s, _, _ in log) == ["committed"] + ["unchanged"] * (RACERS - 1)
    assert [(i, n) for i, s, n, _ in log if s == "committed"] == [(winner.import_id, ROWS)]
    assert all(f"import {winner.import_id}" in m for _, s, _, m in log if s == "unchanged")
    # and the file once more, alone: still a no-op
    again = import_files(dtm_store, "dtm", [path])
    assert (again.status, again.previous_import) == ("unchanged", winner.import_id)


def test_the_same_file_checked_after_another_import_committed_it_is_unchanged(dtm_store, tmp_path):
    """The second import's checks run once the first has committed: its records are in the store then, and
    the answer is still "the same file, imported already", not `duplicate-key-store`."""
    path = tmp_path / "big.csv"
    write_big_csv(dtm_store, path, ROWS)
    first_done, results = threading.Event(), {}
    second = dtm_store.sibling()

    def hold(name: str) -> None:
        if name == "validating":
            assert first_done.wait(60)

    def run_second() -> None:
        results["second"] = import_files(second, "dtm", [path], progress=hold)

    thread = threading.Thread(target=run_second)
    thread.start()  # past the early look-up ("hashing") before the first import even starts
    try:
        while "second" not in results and not dtm_store.scalar("SELECT count(*) FROM imports"):
            threading.Event().wait(0.01)
        results["first"] = import_files(dtm_store, "dtm", [path])
    finally:
        first_done.set()
        thread.join(60)
        second.close()
    first, later = results["first"], results["second"]
    assert first.status == "committed" and first.inserted == ROWS
    assert (later.status, later.previous_import, later.inserted, later.report.findings) == (
        "unchanged", first.import_id, 0, [])
    assert dtm_store.scalar("SELECT count(*) FROM dtm_idps") == ROWS
    assert dtm_store.scalar("SELECT status FROM imports WHERE import_id = ?", [later.import_id]) == "unchanged"


def test_two_files_with_the_same_new_records_at_once_load_them_once(dtm_store, tmp_path):
    """Two different files (other bytes) holding the same records: the second to load is checked again
    against what the first committed and rejected as a duplicate, not loaded beside it."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_big_csv(dtm_store, first, ROWS)
    rewrite(first, second, lambda r: [str(int(r[0]) + ROWS), *r[1:]])  # other provider ids, the same keys
    results = race(dtm_store, [first, second])

    assert sorted(r.status for r in results) == ["committed", "rejected"], [r.report.summary() for r in results]
    loser = next(r for r in results if r.status == "rejected")
    assert loser.report.counts.get("duplicate-key-store") == ROWS
    assert dtm_store.scalar("SELECT count(*) FROM rec_dtm_idps") == ROWS
    assert doubled(dtm_store) == 0


def test_updates_at_once_give_each_record_one_current_version(dtm_store, tmp_path):
    """`--update` of the same records from two files at once: versions follow one another."""
    base = tmp_path / "base.csv"
    write_big_csv(dtm_store, base, ROWS)
    assert import_files(dtm_store, "dtm", [base]).status == "committed"
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    for path, figure in ((one, "7000"), (two, "9000")):  # the same keys, other counts of IDPs
        rewrite(base, path, lambda r, figure=figure: [*r[:9], figure, *r[10:]])
    results = race(dtm_store, [one, two], update=True)

    assert [r.status for r in results] == ["committed", "committed"], [r.report.summary() for r in results]
    assert sorted(r.updated for r in results) == [ROWS, ROWS]
    assert doubled(dtm_store) == 0
    assert dtm_store.scalar("SELECT count(*) FROM dtm_idps") == ROWS
    # One went first (version 2), the other on top of it (version 3), whichever took the lock first.
    figure = {r.import_id: n for r, n in zip(results, (7000, 9000))}
    versions = dtm_store.query("SELECT _version, _current, _import_id, num_present_idp_ind, count(*) FROM rec_dtm_idps "
                               "WHERE _version > 1 GROUP BY 1, 2, 3, 4 ORDER BY 1")
    assert [(v, c, figure.get(i), n, k) for v, c, i, n, k in versions] == [
        (2, False, versions[0][3], versions[0][3], ROWS), (3, True, versions[1][3], versions[1][3], ROWS)]
    assert {versions[0][2], versions[1][2]} == set(figure)


# ---- the store's own guarantee ------------------------------------------------------------------------------

@pytest.mark.postgres
def test_postgres_refuses_a_second_current_version(pg_store, tmp_path):
    install_pack(pg_store, "dtm")
    path = write_csv(tmp_path / "nga.csv", api_rows("NGA", [
        (1, "NG008", "Borno", "", "", 40, "2022-03-31", "Conflict", 1500, None, None)]))
    assert import_files(pg_store, "dtm", [path]).status == "committed"
    import psycopg

    with pytest.raises(psycopg.errors.UniqueViolation):
        pg_store.execute("INSERT INTO rec_dtm_idps SELECT * FROM rec_dtm_idps WHERE _current")
    assert doubled(pg_store) == 0


@pytest.mark.postgres
def test_an_older_postgres_store_gets_the_index_when_opened(pg_store):
    install_pack(pg_store, "dtm")
    for table in ("rec_dtm_idps",):
        pg_store.execute(f"DROP INDEX {table}_current")
    assert not pg_store.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'rec_dtm_idps_current' "
                               "AND schemaname = current_schema()")
    with open_store(pg_store.url, pg_store.settings) as again:
        assert again.scalar("SELECT indexdef FROM pg_indexes WHERE indexname = 'rec_dtm_idps_current' "
                            "AND schemaname = current_schema()").endswith("(_record_id) WHERE _current")


@pytest.mark.postgres
def test_a_postgres_store_already_doubled_still_opens(pg_store, tmp_path, caplog):
    install_pack(pg_store, "dtm")
    path = write_csv(tmp_path / "nga.csv", api_rows("NGA", [
        (1, "NG008", "Borno", "", "", 40, "2022-03-31", "Conflict", 1500, None, None)]))
    assert import_files(pg_store, "dtm", [path]).status == "committed"
    pg_store.execute("DROP INDEX rec_dtm_idps_current")
    pg_store.execute("INSERT INTO rec_dtm_idps SELECT * FROM rec_dtm_idps")  # what the race left behind
    with caplog.at_level("WARNING", logger="passage.store"), open_store(pg_store.url, pg_store.settings) as again:
        assert again.scalar("SELECT count(*) FROM dtm_idps") == 2
    assert "rec_dtm_idps: 1 record(s) have more than one current version" in caplog.text


def test_a_deleted_record_imported_anew_gets_its_next_version(any_store, tmp_path):
    """Deleted, then imported again (another file): one current version, the one after the tombstone."""
    from passage.records import delete_record

    install_pack(any_store, "dtm")
    row = (1, "NG008", "Borno", "", "", 40, "2022-03-31", "Conflict", 1500, None, None)
    first = write_csv(tmp_path / "first.csv", api_rows("NGA", [row]))
    assert import_files(any_store, "dtm", [first]).status == "committed"
    (record_id,) = any_store.query("SELECT _record_id FROM rec_dtm_idps")[0]
    delete_record(any_store, "dtm_idps", record_id)
    again = write_csv(tmp_path / "again.csv", api_rows("NGA", [row[:8] + (1600, None, None)]))
    r = import_files(any_store, "dtm", [again])
    assert (r.status, r.inserted + r.updated) == ("committed", 1), r.report.findings
    assert any_store.query("SELECT _version, _current, _deleted FROM rec_dtm_idps ORDER BY _version") == [
        (1, False, False), (2, False, True), (3, True, False)]
    assert doubled(any_store) == 0


# ---- a double click on the portal ---------------------------------------------------------------------------

def test_a_double_click_on_import_commits_once(portal, tmp_path):
    double_click(portal, tmp_path)


def double_click(portal, tmp_path: Path) -> None:
    """Two uploads of one file at the same moment, by one signed-in editor: one import, one answer of each.
    (tests/test_portal_pg.py runs it against the portal on PostgreSQL.)"""
    from test_api import country_count, csrf_of

    editor = portal.client("editor-nga")
    csrf = csrf_of(editor)
    with open_store(str(tmp_path / "scratch.duckdb")) as scratch:  # the P-codes to write the file from
        from conftest import PCODES
        from passage.places import import_pcodes

        import_pcodes(scratch, PCODES)
        write_big_csv(scratch, tmp_path / "both.csv", 2 * ROWS)
    path = tmp_path / "nga.csv"
    rewrite(tmp_path / "both.csv", path, lambda r: r if r[3] == "NGA" else None)  # the editor's places
    rows = sum(1 for _ in path.open(encoding="utf-8")) - 2
    assert rows > ROWS // 2
    before = country_count(editor, "NGA")
    barrier = threading.Barrier(2, timeout=30)

    def click(_: int) -> httpx.Response:
        with httpx.Client(base_url=portal.url, cookies=editor.cookies, timeout=120) as c, path.open("rb") as fh:
            barrier.wait()
            return c.post("/api/v1/imports", data={"kind": "dtm"}, files={"file": (path.name, fh, "text/csv")},
                          headers={"X-CSRF-Token": csrf})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(click, range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text[:300] for a in answers]
    bodies = sorted((a.json() for a in answers), key=lambda b: b["status"])
    assert [b["status"] for b in bodies] == ["committed", "unchanged"]
    won, lost = bodies
    assert won["inserted"] == rows
    assert (lost["previous_import"], lost["inserted"], lost["skipped"]) == (won["import_id"], 0, [path.name])
    assert country_count(editor, "NGA") == before + rows
    log = editor.get("/api/v1/imports", params={"limit": 2}).json()["data"]
    assert sorted(e["status"] for e in log) == ["committed", "unchanged"]


# ---- an editor's import says nothing about other places ----------------------------------------------------

AFG = {"operation": "Afghanistan", "admin0Name": "Afghanistan", "admin0Pcode": "AFG", "admin1Name": "Kabul",
       "admin1Pcode": "AF01"}


def afg(round_number: int) -> dict:
    row = api_rows("NGA", [(1, "NG008", "Borno", "", "", round_number, "2023-03-31", "Conflict", 900, None, None)])[0]
    return {**row, **AFG}


def nga(round_number: int) -> dict:
    return api_rows("NGA", [(1, "NG008", "Borno", "", "", round_number, "2023-03-31", "Conflict", 500, None, None)])[0]


def seen(result) -> tuple:
    """What an editor is told, but for the file's name, rows and values."""
    return (result.status, result.previous_import, result.inserted,
            [(f.code, f.severity, f.sheet, f.column, f.message) for f in result.report.findings],
            dict(result.report.counts))


def test_an_editor_learns_nothing_of_records_outside_their_places(dtm_store, tmp_path):
    # An admin has imported Afghanistan's round 7 (and its file); the NGA editor has neither.
    admins = write_csv(tmp_path / "afg-r7.csv", [afg(7)])
    assert import_files(dtm_store, "dtm", [admins], user="admin").status == "committed"

    def as_editor(name: str, rows: list[dict]):
        return import_files(dtm_store, "dtm", [write_csv(tmp_path / name, rows)], user="amina", scopes=["NGA"])

    exists = as_editor("exists.csv", [nga(50), afg(7)])  # Afghanistan round 7: in the store
    absent = as_editor("absent.csv", [nga(51), afg(8)])  # round 8: not
    assert seen(exists) == seen(absent) == (
        "rejected", None, 0, [("out-of-scope", "error", None, "admin0Pcode", "AF01 is outside your places (NGA)")],
        {"out-of-scope": 1})
    assert [f.row for f in exists.report.findings] == [f.row for f in absent.report.findings] == [4]
    # The admin's very file: not "imported before" (which would say it is in), but the same refusal.
    same_file = import_files(dtm_store, "dtm", [admins], user="amina", scopes=["NGA"])
    assert seen(same_file) == seen(absent)
    # The store answers for the editor's own rows as before: their keys, their files.
    mine = write_csv(tmp_path / "nga-r52.csv", [nga(52)])
    first = import_files(dtm_store, "dtm", [mine], user="amina", scopes=["NGA"])
    assert (first.status, first.inserted) == ("committed", 1), first.report.findings
    again = import_files(dtm_store, "dtm", [mine], user="amina", scopes=["NGA"])
    assert (again.status, again.previous_import, again.skipped) == ("unchanged", first.import_id, [mine.name])
    other = import_files(dtm_store, "dtm", [write_csv(tmp_path / "nga-r52b.csv", [nga(52)] + [nga(53)])],
                         user="amina", scopes=["NGA"])
    assert [(f.code, f.row) for f in other.report.findings] == [("duplicate-key-store", 3)]
    assert dtm_store.scalar("SELECT count(*) FROM dtm_idps") == 2


@pytest.mark.postgres
def test_running_imports_of_two_schemas_do_not_share_a_lock(pg_store, pg_admin_url, tmp_path):
    """Import ids count per schema: a store's running import 1 must neither block another schema's import 1
    nor keep that store from finding its own import 1 dead."""
    import threading
    import uuid

    import psycopg
    from conftest import pg_schema_url

    from passage.settings import Settings
    from passage.store import open_store

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    other = open_store(pg_schema_url(pg_admin_url, schema), Settings(archive=tmp_path / "other"))
    try:
        pg_store.hold_import(1)  # this store's import 1 is running
        held = threading.Event()
        worker = threading.Thread(target=lambda: (other.hold_import(1), held.set(), other.release_import(1)),
                                  daemon=True)
        worker.start()
        assert held.wait(10), "the other schema's import 1 waited for this schema's"
        worker.join(10)
        other.execute("INSERT INTO imports (import_id, kind, form_id, files, sha256, user_name, started_at, status) "
                      "VALUES (1, 'k', 'f', 'x.csv', '', NULL, now(), 'running')")
        other.recover()  # nobody runs the other schema's import 1: it is found dead
        assert other.scalar("SELECT status FROM imports WHERE import_id = 1") == "failed"
    finally:
        pg_store.release_import(1)
        other.close()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
