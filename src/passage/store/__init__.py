"""The store: where places, forms, records and the import log live.

DuckDB (a file, embedded) is the default; PostgreSQL serves many users. Both speak
the same portable SQL written here with `?` placeholders; analytics go through Ibis
so one indicator definition runs on either.
"""

from __future__ import annotations

from passage.store.base import Store
from passage.store.schema import ensure_schema

DEFAULT_DB = "passage.duckdb"


def open_store(url: str | None = None, *, migrating: bool = False) -> Store:
    """Open (and create if needed) the store at a file path or a postgresql:// URL.

    A store that lacks migrations is refused (StoreError); `migrating=True` opens it as it is, checking and
    creating nothing, for `passage.store.migrations` (`passage migrate`)."""
    url = url or DEFAULT_DB
    if url.startswith(("postgresql://", "postgres://")):
        from passage.store.postgres import PostgresStore

        store: Store = PostgresStore(url)
    else:
        from passage.store.duckdb import DuckDBStore

        store = DuckDBStore(url)
    if not migrating:
        ensure_schema(store)
        store.recover()
    return store


__all__ = ["DEFAULT_DB", "Store", "open_store"]
