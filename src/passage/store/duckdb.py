"""The default store: one DuckDB file, embedded.

DuckDB lets one process at a time open a file for writing. While `passage serve` holds a store, the portal
records where it answers in a holder file beside it (`passage.duckdb.serving.json`: url, pid, started;
`record_holder`), removed on a clean shutdown. Another process that finds the file locked gets
`StoreLocked`, which names the holder (a stale holder file, whose process is gone, is ignored), so the CLI
can run its command through the portal's API or say what to do, never DuckDB's own lock message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from passage.errors import StoreError
from passage.settings import DEFAULTS, Settings
from passage.store.base import Store

HOLDER_SUFFIX = ".serving.json"


class StoreLocked(StoreError):
    """Another process holds the DuckDB file. `holder` is the portal's record ({url, pid, started}) when the
    holder is a live `passage serve`, else None; `pid` is the holding process as DuckDB names it."""

    code = "store.locked"

    def __init__(self, path: str, pid: int | None, holder: dict | None):
        self.path, self.pid, self.holder = path, pid, holder
        who = (f"the portal at {holder['url']} (pid {holder['pid']})" if holder
               else f"another process (pid {pid})" if pid else "another process")
        super().__init__(f"{who} holds {path}: DuckDB lets one process at a time use a store file")


def holder_file(path: str | Path) -> Path:
    """Where the process serving the DuckDB store `path` records itself: `passage.duckdb.serving.json`."""
    p = Path(path)
    return p.with_name(p.name + HOLDER_SUFFIX)


def _alive(pid: int) -> bool:
    if os.name == "nt":  # signal 0 is no probe there; DuckDB's own lock says the holder still runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except OSError:
        return False
    return True


def read_holder(path: str | Path, pid: int | None = None) -> dict | None:
    """The live portal recorded beside the store `path` ({url, pid, started}), or None: no file, an unreadable
    one, a dead process (a stale file from a crash), or — when DuckDB named the lock's `pid` — another one."""
    try:
        holder = json.loads(holder_file(path).read_text(encoding="utf-8"))
        held_by = int(holder["pid"])
        str(holder["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(held_by) or (pid is not None and pid != held_by):
        return None
    return holder


def record_holder(path: str | Path, url: str) -> Path:
    """Record that this process serves the store `path` at `url` (readable by its owner only); the caller
    removes the file (`forget_holder`) when it stops."""
    from datetime import UTC, datetime

    out = holder_file(path)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"url": url, "pid": os.getpid(),
                   "started": datetime.now(UTC).isoformat(timespec="seconds")}, fh)
    os.replace(tmp, out)
    return out


def forget_holder(path: str | Path) -> None:
    """Remove the holder file if it is this process's own."""
    out = holder_file(path)
    try:
        if int(json.loads(out.read_text(encoding="utf-8"))["pid"]) == os.getpid():
            out.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        pass


def _locked(path: str, exc: duckdb.Error) -> StoreLocked | None:
    text = str(exc)
    if "Could not set lock" not in text and "Conflicting lock" not in text:
        return None
    found = re.search(r"\(PID (\d+)\)", text)
    pid = int(found.group(1)) if found else None
    return StoreLocked(path, pid, read_holder(path, pid))


class DuckDBStore(Store):
    dialect = "duckdb"

    def __init__(self, path: str, con: duckdb.DuckDBPyConnection | None = None, *, settings: Settings = DEFAULTS):
        self.url = path
        self.settings = settings
        try:
            self.con = con if con is not None else duckdb.connect(path)
        except duckdb.Error as exc:
            locked = _locked(path, exc)
            if locked is not None:
                raise locked from None
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
            from passage.store.ibis_backends import duckdb_backend

            self._ibis = duckdb_backend().from_connection(self.con)
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

    def interrupt(self) -> None:
        self.con.interrupt()
