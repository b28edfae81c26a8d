"""The default store: one DuckDB file, embedded."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from passage.errors import StoreError
from passage.settings import DEFAULTS, Settings
from passage.store.base import Store


class DuckDBStore(Store):
    dialect = "duckdb"

    def __init__(self, path: str, con: duckdb.DuckDBPyConnection | None = None, *, settings: Settings = DEFAULTS):
        self.url = path
        self.settings = settings
        try:
            self.con = con if con is not None else duckdb.connect(path)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        self._in_tx = False
        if path == ":memory:":
            import tempfile

            self._archive_dir = settings.archive or Path(tempfile.mkdtemp(prefix="passage-files-"))
            self._db_key = f":memory:{id(self.con)}"  # each in-memory store is its own database
        else:
            self._db_key = os.path.realpath(path)
            p = Path(path)
            self._archive_dir = settings.archive or p.with_name(p.stem + ".files")
        self._ibis = None

    @property
    def _lock_key(self) -> str:
        return self._db_key

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def columns(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return names, cur.fetchall()

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rel = self.con.sql(sql, params=list(params) or None)
        return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        self.con.begin()
        self._in_tx = True
        try:
            yield
        except BaseException:
            self.con.rollback()
            raise
        else:
            self.con.commit()
        finally:
            self._in_tx = False

    def table_exists(self, name: str) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
                [name],
            )
        )

    def ibis(self) -> Any:
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    def engine(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def load_from_engine(self, engine: Any, select_sql: str, table: str, columns: list[str]) -> int:
        cols = ", ".join(columns)
        return self.con.execute(f"INSERT INTO {table} ({cols}) {select_sql}").fetchall()[0][0]

    def sibling(self) -> DuckDBStore:
        """The same database on a cursor of its own, for another thread (DuckDB connections are not shared)."""
        other = DuckDBStore(self.url, con=self.con.cursor(), settings=self.settings)
        other._archive_dir = self._archive_dir
        other._db_key = self._db_key
        return other

    def close(self) -> None:
        self.con.close()
