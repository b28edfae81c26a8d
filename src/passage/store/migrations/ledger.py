"""What a store has applied: the `schema_migrations` table, and the check every open runs against it.

A store made before migrations were recorded (it has `passage_meta` but no `schema_migrations`) is read from
what it holds: the core is at its baseline (0001) when API tokens have their expiry column, and a pack that
has forms installed is at 0 (its migrations are pending); a pack without forms there has no data to migrate.
The first open or `passage migrate` that writes records those levels, so from then on a pack that has no row
is one new to the store: it starts at its latest migration, as a new store does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from passage.errors import StoreError
from passage.store.base import Store
from passage.store.migrations import CORE, Migration, known

DDL = """CREATE TABLE IF NOT EXISTS schema_migrations (
    pack VARCHAR NOT NULL,
    migration INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    applied_by VARCHAR,
    note VARCHAR,
    PRIMARY KEY (pack, migration)
)"""


@dataclass
class StoreLevels:
    """Per pack (and `core`): the last migration the store has, and what this Passage knows."""

    applied: dict[str, int]
    migrations: dict[str, list[Migration]]
    recorded: set[str] = field(default_factory=set)  # packs with rows in schema_migrations
    new_store: bool = False

    def latest(self, pack: str) -> int:
        return len(self.migrations.get(pack, []))

    def pending(self) -> list[Migration]:
        return [m for pack, ms in self.migrations.items() for m in ms if m.number > self.applied.get(pack, 0)]

    def too_new(self) -> dict[str, int]:
        """Packs this Passage knows whose store level is beyond its last migration."""
        return {p: n for p, n in self.applied.items() if p in self.migrations and n > self.latest(p)}

    def describe(self, packs: list[str]) -> str:
        return ", ".join(f"{p} {self.applied.get(p, 0)}" for p in packs)

    def check(self) -> None:
        """Refuse a store older or newer than this Passage, saying what to do."""
        newer = self.too_new()
        if newer:
            raise StoreError(
                f"this store is at migration {self.describe(sorted(newer))}, and this Passage knows "
                + ", ".join(f"{p} {self.latest(p)}" for p in sorted(newer))
                + " at most: a newer Passage migrated it; use that version (or newer)", code="store.too_new")
        pending = self.pending()
        if pending:
            behind = list(dict.fromkeys(m.pack for m in pending))
            raise StoreError(
                f"this store is at migration {self.describe(behind)}, Passage needs "
                + ", ".join(f"{p} {self.latest(p)}" for p in behind)
                + f" ({len(pending)} pending: " + "; ".join(m.label for m in pending)
                + "): run `passage migrate` (back it up first)", code="store.migration_pending")


def _has_column(store: Store, table: str, column: str) -> bool:
    return bool(store.scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ? AND column_name = ?", [table, column]))


def levels(store: Store) -> StoreLevels:
    """Read where the store stands; changes nothing."""
    migrations = known()
    if not store.table_exists("passage_meta"):  # a new store: made at the latest migration
        return StoreLevels({p: len(ms) for p, ms in migrations.items()}, migrations, new_store=True)
    applied: dict[str, int] = {}
    recorded: set[str] = set()
    if store.table_exists("schema_migrations"):
        for pack, number in store.query("SELECT pack, max(migration) FROM schema_migrations GROUP BY pack"):
            applied[pack] = int(number)
            recorded.add(pack)
        for pack, ms in migrations.items():
            applied.setdefault(pack, len(ms))  # a pack new to this store has nothing of an older shape
        return StoreLevels(applied, migrations, recorded)
    # Made before migrations were recorded
    with_forms = {r[0] for r in store.query("SELECT DISTINCT pack FROM forms WHERE pack IS NOT NULL")}
    applied[CORE] = 1 if _has_column(store, "api_tokens", "expires_at") else 0
    for pack, ms in migrations.items():
        if pack != CORE:
            applied[pack] = 0 if pack in with_forms else len(ms)
    return StoreLevels(applied, migrations)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def record(store: Store, migration: Migration, by: str | None, note: str | None = None) -> None:
    store.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                  [migration.pack, migration.number, migration.name, _now(), by, note])


def adopt(store: Store, before: StoreLevels) -> None:
    """Record the levels read from a store (or given to a new one) for every pack that has no row yet: a row 0
    marks the pack as present, so a migration it gains later is pending here."""
    store.execute(DDL)
    for pack, ms in before.migrations.items():
        if pack in before.recorded:
            continue
        level = before.applied.get(pack, 0)
        note = ("the store was made at this migration" if before.new_store
                else "the store had it before migrations were recorded" if pack == CORE
                else "the pack had no data of an older shape in this store")
        with store.transaction():
            store.execute("INSERT INTO schema_migrations VALUES (?, 0, 'present', ?, NULL, ?) ON CONFLICT DO NOTHING",
                          [pack, _now(), "the pack's first appearance in this store"])
            for m in ms[:level]:
                record(store, m, None, note)
