"""PostgreSQL, for an organisation's multi-user server.

Validation runs in an in-memory DuckDB next to copies of the tables it needs
(`places`, the keys of current records); the validated rows reach PostgreSQL with COPY.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import duckdb
import psycopg

from passage.errors import StoreError
from passage.settings import DEFAULTS, Settings
from passage.store.base import Store


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresStore(Store):
    dialect = "postgres"

    def __init__(self, url: str, settings: Settings = DEFAULTS):
        self.url = url
        self.settings = settings
        try:
            self.conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {urlparse(url)._replace(password=None).geturl()}: {exc}") from exc
        self._tx: Any = None
        self._archive_dir = settings.archive or Path("passage.files")
        self._ibis = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(_pg(sql) if params else sql, list(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.execute(_pg(sql) if params else sql, list(params) or None).fetchall()

    def columns(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self.conn.execute(_pg(sql) if params else sql, list(params) or None)
        return [d.name for d in cur.description], cur.fetchall()

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> Any:
        import pyarrow as pa

        names, rows = self.columns(sql, params)
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._tx is not None:
            yield
            return
        with self.conn.transaction() as tx:
            self._tx = tx
            try:
                yield
            finally:
                self._tx = None

    def table_exists(self, name: str) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()",
                [name],
            )
        )

    # Each running import holds an advisory lock in this namespace; a lock nobody holds means its process died.
    # Import ids count per schema, so the key is the schema's import (stores in two schemas of one database
    # both have an import 1), as for `load_lock`.
    LOCK_SPACE = 0x50415353
    IMPORT_KEY = "hashtext(current_schema() || '.import.' || CAST(? AS VARCHAR))"

    def recover(self) -> None:
        for (import_id,) in self.query("SELECT import_id FROM imports WHERE status = 'running'"):
            if self.scalar(f"SELECT pg_try_advisory_lock(?, {self.IMPORT_KEY})", [self.LOCK_SPACE, import_id]):
                try:
                    self.execute(
                        "UPDATE imports SET status = 'failed', message = 'interrupted: the importing process stopped' "
                        "WHERE import_id = ? AND status = 'running'", [import_id])
                finally:
                    self.execute(f"SELECT pg_advisory_unlock(?, {self.IMPORT_KEY})", [self.LOCK_SPACE, import_id])

    # One import at a time loads into a form: an advisory lock per form, in a namespace of its own.
    FORM_LOCK_SPACE = 0x50464F52

    @contextmanager
    def load_lock(self, form_id: str) -> Iterator[None]:
        """An advisory lock on the form (of this schema's store), held by this session around the load's
        transaction: every importing process or thread takes it, and a session that dies lets it go."""
        key = "hashtext(current_schema() || '.' || ?)"
        self.execute(f"SELECT pg_advisory_lock(?, {key})", [self.FORM_LOCK_SPACE, form_id])
        try:
            yield
        finally:
            try:
                self.execute(f"SELECT pg_advisory_unlock(?, {key})", [self.FORM_LOCK_SPACE, form_id])
            except psycopg.OperationalError:  # the connection is gone, and with it the session's locks
                pass

    def hold_import(self, import_id: int) -> None:
        self.execute(f"SELECT pg_advisory_lock(?, {self.IMPORT_KEY})", [self.LOCK_SPACE, import_id])

    def release_import(self, import_id: int) -> None:
        self.execute(f"SELECT pg_advisory_unlock(?, {self.IMPORT_KEY})", [self.LOCK_SPACE, import_id])

    def ibis(self) -> Any:
        if self._ibis is None:
            from passage.store.ibis_backends import postgres_backend

            # Its own connection (same URL, so the same search_path): Ibis manages its transactions.
            conn = psycopg.connect(self.url, autocommit=True)
            pg = self.settings.postgresql
            conn.execute("SELECT set_config('work_mem', %s, false), set_config('jit', %s, false)",
                         [pg.work_mem.replace(" ", ""), "on" if pg.jit else "off"])
            self._ibis = postgres_backend().from_connection(conn)
        return self._ibis

    def engine(self) -> duckdb.DuckDBPyConnection:
        from passage.places.bundled import ensure_places

        ensure_places(self)  # before the copy: a store's first import checks against the bundled places
        eng = duckdb.connect()
        self.copy_table_to_engine(
            eng, "SELECT code, level, kind, name, parent_code, country_code FROM places", "places",
            "code VARCHAR, level INTEGER, kind VARCHAR, name VARCHAR, parent_code VARCHAR, country_code VARCHAR")
        self.copy_table_to_engine(
            eng, "SELECT * FROM pcode_lengths", "pcode_lengths",
            "country_code VARCHAR, country_len INTEGER, adm1_len VARCHAR, adm2_len VARCHAR, adm3_len VARCHAR")
        return eng

    def copy_table_to_engine(self, engine: duckdb.DuckDBPyConnection, sql: str, table: str, ddl: str) -> None:
        """Bring a (small) store query into the validation engine as a table."""
        engine.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({ddl})")
        with self.conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
            with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as tmp:
                for block in copy:
                    tmp.write(block)
        try:
            if os.path.getsize(tmp.name):
                cols = [r[0] for r in engine.execute(f"DESCRIBE {table}").fetchall()]
                types = {r[0]: r[1] for r in engine.execute(f"DESCRIBE {table}").fetchall()}
                spec = "{" + ", ".join(f"'{c}': '{types[c]}'" for c in cols) + "}"
                engine.execute(f"INSERT INTO {table} SELECT * FROM read_csv(?, header=false, auto_detect=false, "
                               f"columns={spec}, quote='\"', escape='\"')", [tmp.name])
        finally:
            os.unlink(tmp.name)

    def load_from_engine(self, engine: Any, select_sql: str, table: str, columns: list[str]) -> int:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "rows.csv"
            engine.execute(f"COPY ({select_sql}) TO '{path}' (FORMAT csv, HEADER false)")
            cols = ", ".join(columns)
            n = 0
            with self.conn.cursor() as cur:
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as copy, open(path, "rb") as fh:
                    while block := fh.read(1 << 20):
                        copy.write(block)
                n = cur.rowcount
        return n

    def sibling(self) -> PostgresStore:
        """A connection of its own, for another thread."""
        return PostgresStore(self.url, self.settings)

    def interrupt(self) -> None:
        for conn in (self.conn, getattr(self._ibis, "con", None)):
            if conn is not None:
                conn.cancel_safe()

    def close(self) -> None:
        if self._ibis is not None:
            self._ibis.disconnect()
        self.conn.close()
