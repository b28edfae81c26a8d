"""What every store backend offers the rest of Passage."""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from passage.settings import Settings

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _process_lock(key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


class Store(abc.ABC):
    dialect: str
    url: str
    settings: Settings  # what the store was opened with: its archive folder, the upload limits

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    @abc.abstractmethod
    def columns(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run a query and return its column names with its rows."""

    @abc.abstractmethod
    def arrow(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a query and return a pyarrow Table."""

    @abc.abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: commit on success, roll back on any exception."""

    @abc.abstractmethod
    def table_exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def ibis(self) -> Any:
        """An Ibis backend over this store, for indicators."""

    @abc.abstractmethod
    def engine(self) -> Any:
        """A DuckDB connection where validation SQL runs next to `places` and the record tables."""

    @abc.abstractmethod
    def load_from_engine(self, engine: Any, select_sql: str, table: str, columns: list[str]) -> int:
        """Insert the rows of a query run on the engine into a store table; return the count."""

    @abc.abstractmethod
    def sibling(self) -> Store:
        """Another handle on the same store, for use from another thread."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def interrupt(self) -> None:
        """Stop the statement this handle runs in another thread (it raises there), e.g. when the portal stops."""

    @property
    def archive_dir(self) -> Path:
        """Where raw input files are kept, named by their sha256."""
        return self._archive_dir

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def recover(self) -> None:
        """Mark imports left `running` by a process that died as `failed`.

        Only safe where opening the store excludes other writers (DuckDB); the
        PostgreSQL backend overrides it to look at the age of the row instead.
        """
        self.execute(
            "UPDATE imports SET status = 'failed', message = 'interrupted: the importing process stopped' "
            "WHERE status = 'running'"
        )

    @contextmanager
    def load_lock(self, form_id: str) -> Iterator[None]:
        """Let one import at a time load into a form, across every handle on the store; hold it around
        the load's transaction, and re-check there what was checked before it (files, keys).

        This default (DuckDB) is a lock of this process over the whole store: DuckDB lets one process
        write a file, so the threads of that process (the portal's requests, each on its own handle)
        are the only other writers, and it takes one load at a time anyway (two transactions updating
        the same rows conflict). PostgreSQL overrides it with an advisory lock per form.
        """
        with _process_lock(self._lock_key):
            yield

    @property
    def _lock_key(self) -> str:
        return self.url

    def hold_import(self, import_id: int) -> None:
        """Mark this session as the one running an import (PostgreSQL: an advisory lock)."""

    def release_import(self, import_id: int) -> None:
        """The import is over, whatever its outcome."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
