"""`passage migrate`: apply what a store lacks, each migration in its own transaction with its audit entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from passage.auth.audit import audit
from passage.errors import StoreError
from passage.plugins import available_packs
from passage.store.base import Store
from passage.store.migrations import CORE, Migration
from passage.store.migrations.ledger import StoreLevels, adopt, levels, record


@dataclass
class Applied:
    migration: Migration
    detail: dict[str, Any] = field(default_factory=dict)
    ran: bool = True  # False: a dry run, or another process applied it meanwhile


def status(store: Store) -> StoreLevels:
    """Where the store stands against this Passage (reads only)."""
    return levels(store)


def _lock(store: Store) -> None:
    """PostgreSQL: one migrating session at a time per store (schema), held until the transaction ends."""
    if store.dialect == "postgres":
        store.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.schema_migrations'))")


def _already(store: Store, m: Migration) -> bool:
    return bool(store.scalar("SELECT count(*) FROM schema_migrations WHERE pack = ? AND migration = ?",
                             [m.pack, m.number]))


def migrate(store: Store, *, dry_run: bool = False, user: str | None = None) -> list[Applied]:
    """Apply every pending migration, core first, then packs in `requires` order, each in order of number.

    A dry run lists them and changes nothing. A migration that refuses (`MigrationRefused`) rolls back its own
    transaction; those before it stay applied, and the error says what to fix before running again.
    """
    from passage.store.schema import bump_generation, create_tables, ensure_record_indexes

    before = levels(store)
    if before.too_new():
        before.check()  # raises: this Passage cannot migrate a store a newer one made
    order = {name: i for i, name in enumerate([CORE, *available_packs()])}
    pending = sorted(before.pending(), key=lambda m: (order.get(m.pack, len(order)), m.number))
    if dry_run:
        return [Applied(m, ran=False) for m in pending]
    with store.transaction():
        _lock(store)
        create_tables(store)
        adopt(store, before)
    done = []
    for m in pending:
        with store.transaction():
            _lock(store)
            if _already(store, m):  # applied by another process while this one waited
                done.append(Applied(m, ran=False))
                continue
            detail = m.apply(store, m) or {}
            record(store, m, user)
            audit(store, user, "store.migrate", target=f"{m.pack}/{m.number:04d}", detail={"name": m.name, **detail})
            bump_generation(store)  # what readers cached may name records by their old ids
        done.append(Applied(m, detail))
    ensure_record_indexes(store)
    after = levels(store)
    if after.pending():
        raise StoreError("migrations still pending after `passage migrate`: " + "; ".join(m.label for m in after.pending()))
    return done
