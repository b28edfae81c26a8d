"""Backup, restore and copy a whole store: records with every version, the system tables (users, tokens,
releases, the audit log, workflow states, documents, boundaries, quarantine) and the archive of source files.

A backup is one zip file:

    manifest.json            format, when, the source store's kind, generation and migrations ledger; per table
                             its rows, columns and sha256; per archived file its sha256 and size; sequences
    tables/<table>.parquet   every base table, read in one snapshot (DuckDB's transaction, PostgreSQL's
                             REPEATABLE READ), so a backup taken while an import runs holds it whole or not at all
    files/<sha256><suffix>   the archived source files the snapshot's `files` table names (content-addressed,
                             so copying them after the snapshot is consistent)

`restore` rebuilds a new, empty store (DuckDB or PostgreSQL) from it: record tables are made by installing the
backup's form versions as they were installed, then every table is loaded, sequences continue after the
highest id, and files go to the target's archive. `copy` is a backup and a restore in one step.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from passage.errors import UsageError
from passage.settings import DEFAULTS, Settings
from passage.store.base import Store

FORMAT = "passage-backup/1"
LEDGER = "schema_migrations"  # a restore needs the same migrations here as there


@dataclass
class Manifest:
    data: dict[str, Any]

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return {t["name"]: t for t in self.data["tables"]}

    @property
    def files(self) -> list[dict[str, Any]]:
        return self.data["files"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def base_tables(store: Store) -> list[str]:
    schema = "'main'" if store.dialect == "duckdb" else "current_schema()"
    return [r[0] for r in store.query(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        f"AND table_schema = {schema} ORDER BY table_name")]


def sequences(store: Store) -> dict[str, int | None]:
    """Each sequence's last value given out (None: none yet)."""
    if store.dialect == "duckdb":
        rows = store.query("SELECT sequence_name, last_value FROM duckdb_sequences() WHERE schema_name = 'main'")
    else:
        rows = store.query("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()")
    return {name: None if value is None else int(value) for name, value in rows}


def backup(store: Store, out: Path, *, principal: Any = None) -> Manifest:
    """Write a consistent snapshot of `store` to the zip file `out` (replaced only once complete). It holds
    every user's password hash and token hash: admins only (`principal`; default the store's operator)."""
    from passage.access import STORE, require
    from passage.auth import OPERATOR

    require(principal or OPERATOR, "administer", STORE)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="passage-backup-", dir=out.parent))
    try:
        tables: list[dict[str, Any]] = []
        with store.transaction():
            if store.dialect == "postgres":
                store.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            from passage.store.schema import generation

            gen = generation(store)
            seqs = sequences(store)
            names = base_tables(store)
            arrows = {n: store.arrow(f'SELECT * FROM "{n}"') for n in names}  # the snapshot is this connection's
            archived = store.query("SELECT sha256, archived_as FROM files ORDER BY sha256")
        for name in names:
            path = work / f"{name}.parquet"
            pq.write_table(arrows[name], path)
            tables.append({"name": name, "rows": arrows[name].num_rows, "sha256": _sha256(path),
                           "columns": [[f.name, str(f.type)] for f in arrows[name].schema]})
        files = []
        for sha, archived_as in archived:
            source = Path(archived_as)
            if not source.exists():
                source = store.archive_dir / source.name
            if not source.exists():
                raise UsageError(f"archived file {archived_as} (sha256 {sha}) is missing: the store's archive "
                                 f"folder is {store.archive_dir}", code="usage.backup-file-missing")
            files.append({"name": source.name, "sha256": _sha256(source), "size": source.stat().st_size,
                          "path": source})
        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "store": {"kind": store.dialect, "generation": gen}, "sequences": seqs, "tables": tables,
                    "files": [{k: v for k, v in f.items() if k != "path"} for f in files]}
        part = work / "backup.zip"
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr("manifest.json", json.dumps(manifest, indent=1, default=str))
            for t in tables:
                z.write(work / f"{t['name']}.parquet", f"tables/{t['name']}.parquet")
            for f in files:
                z.write(f["path"], f"files/{f['name']}")
        part.replace(out)
        from passage.auth.audit import audit

        audit(store, (principal or OPERATOR).user_name, "store.backup", target=out.name,
              detail={"tables": len(tables), "files": len(files), "generation": gen})
        return Manifest(manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_manifest(path: Path) -> Manifest:
    try:
        with zipfile.ZipFile(path) as z:
            data = json.loads(z.read("manifest.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a Passage backup: {exc}", code="usage.backup-format") from exc
    if data.get("format") != FORMAT:
        raise UsageError(f"{path}: backup format {data.get('format')!r}, this Passage reads {FORMAT}",
                         code="usage.backup-format")
    return Manifest(data)


_ARROW_SQL = {"string": "VARCHAR", "large_string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER",
              "int16": "SMALLINT", "double": "DOUBLE", "float": "REAL", "bool": "BOOLEAN", "date32[day]": "DATE"}


def _sql_type(store: Store, arrow_type: str) -> str:
    if arrow_type.startswith("timestamp"):
        return "TIMESTAMP"
    if arrow_type.startswith("decimal"):
        return "NUMERIC" + arrow_type[arrow_type.index("("):] if "(" in arrow_type else "NUMERIC"
    sql = _ARROW_SQL.get(arrow_type, "VARCHAR")
    if store.dialect == "postgres":
        sql = {"DOUBLE": "DOUBLE PRECISION"}.get(sql, sql)
    return sql


def _columns(store: Store, table: str) -> list[str]:
    schema = "'main'" if store.dialect == "duckdb" else "current_schema()"
    return [r[0] for r in store.query(
        f"SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = {schema} "
        "ORDER BY ordinal_position", [table])]


def _empty(store: Store) -> bool:
    return not any(store.scalar(f"SELECT count(*) FROM {t}") for t in ("forms", "imports", "users", "files"))


def restore(path: Path, url: str, settings: Settings = DEFAULTS) -> Manifest:
    """Rebuild the backup `path` into the new, empty store at `url` (a DuckDB file or postgresql:// URL)."""
    from passage.forms.registry import install_form
    from passage.forms.xlsform import Form
    from passage.store import open_store

    path = Path(path)
    manifest = read_manifest(path)
    with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory(prefix="passage-restore-") as tmp:
        work = Path(tmp)
        for t in manifest.data["tables"]:
            target = work / f"{t['name']}.parquet"
            target.write_bytes(z.read(f"tables/{t['name']}.parquet"))
            if _sha256(target) != t["sha256"]:
                raise UsageError(f"{path}: table {t['name']} does not match its sha256 in the manifest",
                                 code="usage.backup-corrupt")
        with open_store(url, settings) as store:
            if not _empty(store):
                raise UsageError(f"{url} already holds data: restore into a new store", code="usage.restore-target")
            ledger = {tuple(r) for r in store.query(f"SELECT pack, migration FROM {LEDGER}")}
            theirs = pq.read_table(work / f"{LEDGER}.parquet") if LEDGER in manifest.tables else None
            if theirs is not None:
                wanted = set(zip(theirs.column("pack").to_pylist(), theirs.column("migration").to_pylist()))
                if wanted != ledger:
                    raise UsageError(
                        f"{path} was made at other store migrations ({', '.join(sorted(map(str, wanted - ledger)))} "
                        f"not here; {', '.join(sorted(map(str, ledger - wanted)))} not there): restore it with the "
                        "Passage that made it, then upgrade that store with `passage migrate`",
                        code="usage.backup-migrations")
            archive = store.archive_dir
            with store.transaction():
                forms = pq.read_table(work / "forms.parquet").to_pylist()
                for row in sorted(forms, key=lambda r: r["installed_at"]):
                    install_form(store, Form.from_json(row["definition"]), pack=row["pack"])
                for name, t in manifest.tables.items():
                    if not store.table_exists(name):
                        ddl = ", ".join(f'"{c}" {_sql_type(store, ty)}' for c, ty in t["columns"])
                        store.execute(f'CREATE TABLE "{name}" ({ddl})')
                    have = set(_columns(store, name))
                    for column, ty in t["columns"]:
                        if column not in have:
                            store.execute(f'ALTER TABLE "{name}" ADD COLUMN "{column}" {_sql_type(store, ty)}')
                    store.execute(f'DELETE FROM "{name}"')
                    if t["rows"]:
                        _load(store, name, [c for c, _ in t["columns"]], work / f"{name}.parquet")
                for sha, archived_as in store.query("SELECT sha256, archived_as FROM files"):
                    store.execute("UPDATE files SET archived_as = ? WHERE sha256 = ?",
                                  [str(archive / Path(archived_as).name), sha])
                for name, last in manifest.data["sequences"].items():
                    _continue_sequence(store, name, last)
                from passage.store.schema import bump_generation

                bump_generation(store)
            archive.mkdir(parents=True, exist_ok=True)
            for f in manifest.files:
                target = archive / f["name"]
                if not target.exists():
                    with z.open(f"files/{f['name']}") as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                if _sha256(target) != f["sha256"]:
                    raise UsageError(f"{path}: file {f['name']} does not match its sha256", code="usage.backup-corrupt")
    return manifest


def _load(store: Store, table: str, columns: list[str], parquet: Path) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    if store.dialect == "duckdb":
        store.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM read_parquet(?)', [str(parquet)])
        return
    import duckdb

    eng = duckdb.connect()
    try:
        store.load_from_engine(eng, f"SELECT {cols} FROM read_parquet('{parquet.as_posix()}')", f'"{table}"',
                               [f'"{c}"' for c in columns])
    finally:
        eng.close()


def _continue_sequence(store: Store, name: str, last: int | None) -> None:
    """The sequence gives out last + 1 next, as it would have in the source store."""
    if last is None:
        return
    if store.dialect == "postgres":
        store.execute("SELECT setval(?, ?)", [name, int(last)])
        return
    store.execute(f'DROP SEQUENCE IF EXISTS "{name}"')
    store.execute(f'CREATE SEQUENCE "{name}" START {int(last) + 1}')


def copy(store: Store, url: str, settings: Settings = DEFAULTS, *, principal: Any = None) -> Manifest:
    """Move everything in `store` into the new store at `url` (e.g. DuckDB to PostgreSQL)."""
    with tempfile.TemporaryDirectory(prefix="passage-copy-") as tmp:
        path = Path(tmp) / "store.zip"
        backup(store, path, principal=principal)
        return restore(path, url, settings)
