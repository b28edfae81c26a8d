"""Store migrations on a store built by the release before them (`tests/fixtures/old_store/`, made by its
`build.py` with that release's code): opening refuses it, `passage migrate` brings it to the latest, and every
record, version, release and audit row is still there, the nationality list's records under their new ids.
The same on PostgreSQL, from a `pg_dump` of the same script's store there.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from passage.auth import audit_entries
from passage.cli import main
from passage.errors import StoreError
from passage.ingest import import_files
from passage.plugins import load_pack
from passage.records import history
from passage.store import open_store
from passage.store.migrations import MigrationRefused, known, levels, migrate

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "old_store"
KEY_MIGRATION = importlib.import_module("passage.packs.staff.migrations.0001_nationality_key_without_section")
LABEL = "staff 0001 nationality_key_without_section"
DTM_LABEL = "dtm 0001 values_as_given"
AS_GIVEN = ("reporting_date_as_given", "displacement_reason_as_given", "idp_origin_admin1_name_as_given",
            "idp_origin_admin1_pcode_as_given")  # the fields dtm 0001 adds and fills
REFUSAL = ("this store is at migration dtm 0, staff 0, Passage needs dtm 1, staff 1 (2 pending: "
           f"{DTM_LABEL}; {LABEL}): run `passage migrate` (back it up first)")
# Every table the old store holds data in, compared before and after (record tables separately)
SYSTEM_TABLES = ["places", "pcode_lengths", "forms", "imports", "files", "import_files", "users", "user_scopes",
                 "api_tokens", "audit_log", "datasets", "releases", "passage_meta"]


def _build_module():
    spec = importlib.util.spec_from_file_location("old_store_build", FIXTURE / "build.py")
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # build.py imports tests/dtm_rows.py
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


@pytest.fixture
def old_duckdb(tmp_path) -> str:
    path = tmp_path / "old.duckdb"
    with gzip.open(FIXTURE / "store.duckdb.gz") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return str(path)


@pytest.fixture
def old_postgres(pg_admin_url):
    """The old store restored from `pg_dump --inserts` into a schema of its own (migrating archives no file)."""
    import psycopg

    schema = "old_" + uuid.uuid4().hex[:12]
    sql = (FIXTURE / "store.pg.sql").read_text(encoding="utf-8").replace("passage_old_fixture", schema)
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("\\"))  # psql's meta-commands
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql)
    sep = "&" if "?" in pg_admin_url else "?"
    try:
        yield f"{pg_admin_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["duckdb", "postgres"])
def old_url(request) -> str:
    return request.getfixturevalue("old_duckdb" if request.param == "duckdb" else "old_postgres")


def _rows(store, table: str, leave_out: tuple[str, ...] = ()) -> list[tuple]:
    names, rows = store.columns(f"SELECT * FROM {table}")
    keep = [i for i, n in enumerate(names) if n not in leave_out]
    return sorted((tuple(r[i] for i in keep) for r in rows), key=repr)


def _contents(store) -> dict[str, list[tuple]]:
    out = {t: _rows(store, t) for t in SYSTEM_TABLES}
    out["rec_staff_member"] = _rows(store, "rec_staff_member")
    out["rec_dtm_idps"] = _rows(store, "rec_dtm_idps", leave_out=AS_GIVEN)
    out["rec_staff_nationality"] = _rows(store, "rec_staff_nationality", leave_out=("_record_id",))
    return out


def test_opening_an_old_store_is_refused_and_writes_nothing(old_url):
    with open_store(old_url, migrating=True) as raw:
        before = _contents(raw)
    with pytest.raises(StoreError) as err:
        open_store(old_url)
    assert err.value.code == "store.migration_pending"
    assert str(err.value) == REFUSAL
    with open_store(old_url, migrating=True) as raw:
        assert _contents(raw) == before
        assert not raw.table_exists("schema_migrations")
        assert not raw.table_exists("record_id_changes")


def test_migrate_keeps_every_row_and_renames_the_nationality_records(old_url):
    with open_store(old_url, migrating=True) as raw:
        before = _contents(raw)
        old_ids = {r[0] for r in raw.query("SELECT DISTINCT _record_id FROM rec_staff_nationality")}
        assert sorted(a.migration.label for a in migrate(raw, dry_run=True)) == [DTM_LABEL, LABEL]
        assert _contents(raw) == before and not raw.table_exists("schema_migrations")  # a dry run writes nothing
        applied = {a.migration.label: a for a in migrate(raw, user="ops")}
        done = applied[LABEL]
        assert (done.migration.label, done.ran) == (LABEL, True)
        assert done.detail == {"form": "staff_nationality", "records": 17, "renamed": 17, "versions": 19}
        assert applied[DTM_LABEL].detail["versions"] == len(before["rec_dtm_idps"])

    with open_store(old_url) as store:  # now it opens
        assert levels(store).pending() == []
        after = _contents(store)
        [entry] = [e for e in audit_entries(store) if e["action"] == "store.migrate" and e["target"] == "staff/0001"]
        assert (entry["user_name"], entry["target"]) == ("ops", "staff/0001")
        assert entry["detail"]["renamed"] == 17
        after["audit_log"] = [r for r in after["audit_log"] if r[3] != "store.migrate"]
        after["passage_meta"] = [r for r in after["passage_meta"] if r[0] != "generation"]
        before["passage_meta"] = [r for r in before["passage_meta"] if r[0] != "generation"]
        assert set(before["forms"]) < set(after["forms"])  # dtm 0001 installs the DTM form's new version
        after["forms"] = before["forms"]
        assert after == before  # every place, import, file, user, token, release, audit row and record version

        # each record's versions share one new id: its key fields joined, as an import computes them now
        rows = store.query("SELECT _record_id, _version, _current, _deleted, year, list, annex, section, country "
                           "FROM rec_staff_nationality ORDER BY _record_id, _version")
        for rid, _, _, _, year, lst, annex, _, country in rows:
            assert rid == f"{year}|{lst}|{annex}|{country}"
        versions = {}
        for rid, version, current, deleted, *_ in rows:
            versions.setdefault(rid, []).append((version, current, deleted))
        assert all([v for v, _, _ in vs] == list(range(1, len(vs) + 1)) for vs in versions.values())
        assert all(sum(c for _, c, _ in vs) == 1 for vs in versions.values())
        assert len(versions) == 17
        if store.dialect == "postgres":  # one current version per id: the unique index is back
            assert store.scalar("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                                "AND indexname = 'rec_staff_nationality_current'") == 1

        [peru] = [r for r in versions if r.startswith("2021|") and r.endswith("|annex2_general_service|Peru")]
        names, hist = history(store, "staff_nationality", peru)
        assert [h[names.index("_version")] for h in hist] == [1, 2]  # the import, then the edit
        [chad] = [r for r in versions if r.startswith("2021|") and r.endswith("|Chad")]
        assert versions[chad] == [(1, False, False), (2, True, True)]  # the tombstone stays
        changes = dict(store.query("SELECT old_record_id, new_record_id FROM record_id_changes "
                                   "WHERE form_id = 'staff_nationality'"))
        assert set(changes) == old_ids and set(changes.values()) == set(versions)
        # the audit trail of the edit names the old id, which the change table maps to the record
        [edit] = [e for e in audit_entries(store, action="record.edit") if "staff_nationality/" in e["target"]]
        assert changes[edit["target"].split("/", 1)[1]] == peru
        assert history(store, "staff_nationality", edit["target"].split("/", 1)[1]) == (names, hist)  # the old id

        # a second migrate is a no-op
        n_audit = len(audit_entries(store, limit=1000))
        assert migrate(store) == []
        assert len(audit_entries(store, limit=1000)) == n_audit


def test_new_ids_are_those_an_import_gives_today(old_duckdb, store, tmp_path):
    """The same nationality lists imported into a new store get exactly the migrated ids."""
    build = _build_module()
    lists = [build._list(tmp_path / "nationalities_2021.csv", build.NATIONALITIES),
             build._list(tmp_path / "nationalities_2022.csv",
                         build.NATIONALITIES + [("annex3_professional", "member", "Peru")])]
    for path in lists:
        assert import_files(store, "nationality-list", [path]).status == "committed"
    with open_store(old_duckdb, migrating=True) as old:
        migrate(old)
        migrated = {r[0] for r in old.query("SELECT DISTINCT _record_id FROM rec_staff_nationality")}
    assert {r[0] for r in store.query("SELECT _record_id FROM rec_staff_nationality")} == migrated


def test_records_that_would_collide_are_listed_and_nothing_changes(old_url):
    with open_store(old_url, migrating=True) as raw:
        # What an edit could do before the migration: the old key check let a list name a country twice in
        # an annex (the Holy See's record of annex II renamed Kenya, beside Kenya among the Member States).
        raw.execute("UPDATE rec_staff_nationality SET country = 'Kenya' WHERE _current AND country = 'Holy See' "
                    "AND annex = 'annex2_general_service' AND year = 2021")
        before = _contents(raw)
        ids = _rows(raw, "rec_staff_nationality")
        with pytest.raises(MigrationRefused) as err:
            migrate(raw, user="ops")
        message = str(err.value)
        assert "1 record id(s) of staff_nationality would be shared under the new key" in message
        assert "annex2_general_service|member|Kenya' and " not in message  # ids are listed, quoted once
        assert "|annex2_general_service|member|Kenya and 2021|" in message
        assert "|annex2_general_service|observer_other|Holy See would all become '2021|" in message
        assert "nothing was changed" in message
        assert _rows(raw, "rec_staff_nationality") == ids
        after = _contents(raw)  # dtm 0001 ran before and stays applied: its traces aside, nothing changed
        for name in ("audit_log", "passage_meta", "forms"):
            after.pop(name), before.pop(name)
        assert after == before
        assert not raw.query("SELECT * FROM record_id_changes")
        assert levels(raw).applied["staff"] == 0 and levels(raw).applied["dtm"] == 1
        assert [e["target"] for e in audit_entries(raw, action="store.migrate")] == ["dtm/0001"]
    with pytest.raises(StoreError, match="staff 0, Passage needs staff 1"):
        open_store(old_url)


def test_a_new_store_is_made_at_the_latest_migration(any_store):
    state = levels(any_store)
    assert state.pending() == [] and not state.too_new()
    recorded = set(any_store.query("SELECT pack, migration FROM schema_migrations WHERE migration > 0"))
    assert recorded == {(m.pack, m.number) for ms in known().values() for m in ms}
    assert migrate(any_store) == []


def test_a_store_newer_than_the_code_is_refused(any_store):
    any_store.execute("INSERT INTO schema_migrations VALUES ('staff', 2, 'from_the_future', now(), NULL, NULL)")
    message = ("this store is at migration staff 2, and this Passage knows staff 1 at most: a newer Passage "
               "migrated it; use that version (or newer)")
    with pytest.raises(StoreError) as err:
        open_store(any_store.url)
    assert (err.value.code, str(err.value)) == ("store.too_new", message)
    with pytest.raises(StoreError, match="knows staff 1 at most"):
        migrate(any_store)


def test_a_pack_new_to_a_store_starts_at_its_latest(store):
    """A store that never saw a pack holds nothing of its older shapes: nothing of it is pending."""
    store.execute("DELETE FROM schema_migrations WHERE pack = 'staff'")
    assert levels(store).pending() == []
    store.close()
    with open_store(store.url) as again:
        assert again.scalar("SELECT max(migration) FROM schema_migrations WHERE pack = 'staff'") == 1


def test_a_migration_gained_by_a_pack_is_pending_where_it_was_present(store):
    """Row 0 marks a pack present: a store where the pack was at 0 needs its first migration."""
    store.execute("DELETE FROM schema_migrations WHERE pack = 'staff' AND migration > 0")
    assert [m.label for m in levels(store).pending()] == [LABEL]


def test_the_pack_declares_the_key_its_migration_makes():
    assert load_pack("staff").record_config("staff_nationality")["key"] == KEY_MIGRATION.NEW_KEY
    assert KEY_MIGRATION.OLD_KEY == ["year", "list", "annex", "section", "country"]


def test_cli_status_dry_run_and_migrate(old_duckdb):
    runner = CliRunner()
    out = runner.invoke(main, ["--db", old_duckdb, "forms", "list"])
    assert out.exit_code == 1 and REFUSAL in out.output
    out = runner.invoke(main, ["--db", old_duckdb, "migrate", "--status"])
    assert out.exit_code == 0, out.output
    assert "staff          0      1             1 pending" in out.output
    assert "dtm            0      1             1 pending" in out.output
    assert f"pending: {LABEL}: The nationality list's record key drops `section`" in out.output
    out = runner.invoke(main, ["--db", old_duckdb, "migrate", "--dry-run"])
    assert out.exit_code == 0 and f"would apply {LABEL}: " in out.output and f"would apply {DTM_LABEL}: " in out.output
    out = runner.invoke(main, ["--db", old_duckdb, "--user", "ops", "migrate"])
    assert out.exit_code == 0, out.output
    assert f"applied {LABEL} (form staff_nationality, records 17, renamed 17, versions 19)\n" in out.output
    assert f"applied {DTM_LABEL} (form dtm_idps, versions " in out.output
    out = runner.invoke(main, ["--db", old_duckdb, "migrate"])
    assert out.output == "nothing to migrate: the store is at this Passage's latest migrations\n"
    out = runner.invoke(main, ["--db", old_duckdb, "forms", "list"])
    assert out.exit_code == 0 and "staff_nationality" in out.output


def test_two_migrations_at_once_apply_each_migration_once(old_postgres):
    """PostgreSQL: sessions that migrate at the same time wait for each other; the second finds it done."""
    from concurrent.futures import ThreadPoolExecutor

    def run(_):
        with open_store(old_postgres, migrating=True) as s:
            return [(a.migration.label, a.ran) for a in migrate(s, user="ops")]

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(run, range(3)))
    ran = [r for result in results for r in result if r[1]]
    assert sorted(ran) == [(DTM_LABEL, True), (LABEL, True)]  # the others found it applied, waiting or not
    # each migration ran in one session; the others found it applied, waiting or not
    assert all(label in (DTM_LABEL, LABEL) for result in results for label, _ in result)
    with open_store(old_postgres) as store:
        assert len(audit_entries(store, action="store.migrate")) == 2
        assert store.scalar("SELECT count(*) FROM record_id_changes") == 17


def test_under_the_new_key_a_country_twice_in_an_annex_is_refused(store, tmp_path):
    """What the key change is for: neither a list nor an edit can name a country under both sections."""
    from passage.edits import edit_record
    from passage.errors import EditRejected

    build = _build_module()
    twice = build._list(tmp_path / "twice_2021.csv", [*build.NATIONALITIES,
                                                       ("annex2_general_service", "observer_other", "Kenya")])
    result = import_files(store, "nationality-list", [twice])
    assert result.status == "rejected"
    assert [(f.row, f.code) for f in result.report.errors] == [(10, "duplicate-key")]
    listed = build._list(tmp_path / "nationalities_2021.csv", build.NATIONALITIES)
    assert import_files(store, "nationality-list", [listed]).status == "committed"
    [holy_see] = store.query("SELECT _record_id FROM staff_nationality WHERE country = 'Holy See' "
                             "AND annex = 'annex2_general_service'")
    with pytest.raises(EditRejected) as err:
        edit_record(store, "staff_nationality", holy_see[0], {"country": "Kenya"})
    assert [f.code for f in err.value.report.errors] == ["duplicate-key-store"]
