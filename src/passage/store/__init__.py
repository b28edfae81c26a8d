"""The store: where places, forms, records and the import log live.

DuckDB (a file, embedded) is the default; PostgreSQL serves many users. Both speak
the same portable SQL written here with `?` placeholders; analytics go through Ibis
so one indicator definition runs on either.
"""

from __future__ import annotations

from passage.settings import DEFAULT_DB, DEFAULTS, Settings
from passage.store.base import Store
from passage.store.schema import ensure_schema


def open_store(url: str | None = None, settings: Settings = DEFAULTS, *, migrating: bool = False) -> Store:
    """Open (and create if needed) the store at a file path or a postgresql:// URL (default: `settings.db`).

    The store keeps `settings` (its archive folder, the upload limits) for every library call made on it.
    A store that lacks migrations is refused (StoreError); `migrating=True` opens it as it is, checking and
    creating nothing, for `passage.store.migrations` (`passage migrate`)."""
    url = url or settings.db
    if url.startswith(("postgresql://", "postgres://")):
        from passage.store.postgres import PostgresStore

        store: Store = PostgresStore(url, settings)
    else:
        from passage.store.duckdb import DuckDBStore

        store = DuckDBStore(url, settings=settings)
    if not migrating:
        ensure_schema(store)
        store.recover()
    return store


__all__ = ["DEFAULT_DB", "Store", "open_store"]
