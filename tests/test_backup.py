"""Backup, restore and copy: every table and every archived file comes back equal, on DuckDB and PostgreSQL,
and a backup taken while an import runs holds that import whole or not at all."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from passage.settings import Settings
from passage.store import open_store
from passage.store.backup import backup, base_tables, copy, read_manifest, restore

# Columns a restore rewrites on purpose: where files sit now, and the generation readers' caches key on.
MOVED = {"files": "archived_as"}


@pytest.fixture
def source(seeded_portal_store, tmp_path):
    from portal import copy_store

    path, _ = seeded_portal_store
    return copy_store(path, tmp_path)


def _rows(store, table: str) -> list[str]:
    names, rows = store.columns(f'SELECT * FROM "{table}"')
    skip = {names.index(MOVED[table])} if table in MOVED else set()
    out = []
    for r in rows:
        if table == "passage_meta" and r[0] == "generation":
            continue
        if table == "audit_log" and "store.backup" in r:  # written once the snapshot is taken
            continue
        out.append(repr(tuple(float(v) if isinstance(v, Decimal) else v for i, v in enumerate(r) if i not in skip)))
    return sorted(out)


def assert_same(a, b) -> None:
    tables = base_tables(a)
    assert tables == base_tables(b)
    for t in tables:
        assert _rows(a, t) == _rows(b, t), t
    for (sha, archived), in_b in zip(a.query("SELECT sha256, archived_as FROM files ORDER BY sha256"),
                                     b.query("SELECT sha256, archived_as FROM files ORDER BY sha256")):
        assert Path(in_b[1]).parent == b.archive_dir
        assert hashlib.sha256(Path(in_b[1]).read_bytes()).hexdigest() == sha == in_b[0]


def test_backup_then_restore_gives_every_table_and_file_back(source, tmp_path):
    with open_store(str(source)) as store:
        manifest = backup(store, tmp_path / "store.zip")
        assert manifest.files and {"users", "releases", "audit_log", "documents", "rec_dtm_idps"} <= set(manifest.tables)
        restore(tmp_path / "store.zip", str(tmp_path / "restored.duckdb"))
        with open_store(str(tmp_path / "restored.duckdb")) as restored:
            assert_same(store, restored)
            # sequences go on where they were: the next import, audit entry, release and document get new ids
            for seq, table, column in [("import_ids", "imports", "import_id"), ("audit_ids", "audit_log", "audit_id"),
                                       ("release_ids", "releases", "release_id")]:
                top = restored.scalar(f"SELECT max({column}) FROM {table}")
                assert restored.scalar(f"SELECT nextval('{seq}')") == top + 1, seq
            assert restored.scalar("SELECT count(*) FROM dtm_idps") == store.scalar("SELECT count(*) FROM dtm_idps")


def test_copy_to_postgresql_and_back(source, pg_store, tmp_path):
    with open_store(str(source)) as store:
        copy(store, pg_store.url, Settings(archive=pg_store.archive_dir))
        assert_same(store, pg_store)
        backup(pg_store, tmp_path / "from-pg.zip")  # PostgreSQL's own snapshot, back onto DuckDB
        restore(tmp_path / "from-pg.zip", str(tmp_path / "back.duckdb"))
        with open_store(str(tmp_path / "back.duckdb")) as back:
            assert_same(store, back)


def test_restore_refuses_a_store_with_data_and_a_damaged_backup(source, tmp_path):
    from passage.errors import UsageError

    with open_store(str(source)) as store:
        backup(store, tmp_path / "store.zip")
    with pytest.raises(UsageError) as held:
        restore(tmp_path / "store.zip", str(source))
    assert held.value.code == "usage.restore-target"

    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(tmp_path / "store.zip") as z, zipfile.ZipFile(damaged, "w") as out:
        for item in z.infolist():
            data = z.read(item)
            if item.filename == "tables/users.parquet":
                data = data[:-40] + bytes(40)
            out.writestr(item, data)
    with pytest.raises(UsageError) as bad:
        restore(damaged, str(tmp_path / "never.duckdb"))
    assert bad.value.code == "usage.backup-corrupt" and "users" in str(bad.value)
    assert not (tmp_path / "never.duckdb").exists()
    with pytest.raises(UsageError) as not_one:
        read_manifest(source)
    assert not_one.value.code == "usage.backup-format"


def _statuses(path: Path) -> list[str]:
    import io

    import pyarrow.parquet as pq

    with zipfile.ZipFile(path) as z:
        return pq.read_table(io.BytesIO(z.read("tables/imports.parquet"))).column("status").to_pylist()


def test_a_backup_during_an_import_holds_it_whole_or_not_at_all(source, tmp_path):
    from passage.ingest import import_files
    from passage.packs.dtm.demo import generate_rows_csv

    big = generate_rows_csv(tmp_path / "big.csv", 60_000)
    with open_store(str(source)) as store:
        before = store.scalar("SELECT count(*) FROM dtm_idps")
        other = store.sibling()
        done = {}
        worker = threading.Thread(target=lambda: done.update(r=import_files(other, "dtm", [big], user="admin")))
        worker.start()
        taken = []
        while worker.is_alive() or not taken:
            manifest = backup(store, tmp_path / f"during-{len(taken)}.zip")
            taken.append(manifest)
            if len(taken) > 40:
                break
        worker.join()
        assert done["r"].status == "committed"
        after = store.scalar("SELECT count(*) FROM dtm_idps")
    assert after > before
    running = [i for i in range(len(taken)) if "running" in _statuses(tmp_path / f"during-{i}.zip")]
    assert running, "no backup was taken while the import ran: make the file bigger"
    for i, manifest in enumerate(taken):
        restore(tmp_path / f"during-{i}.zip", str(tmp_path / f"r{i}.duckdb"))
        with open_store(str(tmp_path / f"r{i}.duckdb")) as r:
            rows = r.scalar("SELECT count(*) FROM dtm_idps")
            committed = r.scalar("SELECT count(*) FROM imports WHERE status = 'committed'")
            assert rows in (before, after), (i, rows)
            # records only ever come from imports the same snapshot shows as committed
            assert r.scalar("SELECT count(*) FROM rec_dtm_idps WHERE _import_id NOT IN "
                            "(SELECT import_id FROM imports WHERE status = 'committed')") == 0
            assert committed >= 1


def test_the_commands(source, tmp_path):
    from cli_run import passage_cli

    refused = passage_cli("--db", source, "--user", "editor-nga", "backup", "-o", tmp_path / "x.zip")
    assert refused.returncode == 1 and "admins only" in refused.stderr and not (tmp_path / "x.zip").exists()
    wrote = passage_cli("--db", source, "backup", "-o", tmp_path / "b.zip")
    assert wrote.returncode == 0 and "archived files" in wrote.stdout
    again = passage_cli("restore", tmp_path / "b.zip", "--to", tmp_path / "r.duckdb")
    assert again.returncode == 0, again.stderr
    twice = passage_cli("restore", tmp_path / "b.zip", "--to", tmp_path / "r.duckdb")
    assert twice.returncode == 2 and "restore into a new store" in twice.stderr
    with open_store(str(source)) as a, open_store(str(tmp_path / "r.duckdb")) as b:
        assert_same(a, b)


def test_a_backup_of_the_running_portal(portal, tmp_path):
    """The portal holds its DuckDB store: the backup comes through its API, whole and consistent."""
    editor, admin = portal.client("editor-nga"), portal.client("admin")  # signed in: closed below
    try:
        assert editor.get("/api/v1/admin/backup").status_code == 403
        got = admin.get("/api/v1/admin/backup")
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
        (tmp_path / "portal.zip").write_bytes(got.content)
        audited = admin.get("/api/v1/admin/audit", params={"action": "store.backup"}).json()["data"]
        users = {u["user_name"] for u in admin.get("/api/v1/admin/users").json()["data"]}
    finally:
        editor.close()
        admin.close()
    assert audited and audited[0]["user_name"] == "admin"
    manifest = restore(tmp_path / "portal.zip", str(tmp_path / "from-portal.duckdb"))
    with open_store(str(tmp_path / "from-portal.duckdb")) as r:
        assert {u for (u,) in r.query("SELECT user_name FROM users")} == users
        for t in ("rec_dtm_idps", "releases", "audit_log"):
            assert r.scalar(f"SELECT count(*) FROM {t}") == manifest.tables[t]["rows"] > 0
