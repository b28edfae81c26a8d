"""Rolling an import back: its records return to what they were before it, as new versions.

Nothing is deleted. Each record (and repeat row) the import created gets a tombstone; each one it changed gets a
new version holding the values of the version before it. The import is marked `rolled-back` in the log, so its
files may be imported again, and the rollback is audited (`import.rollback`). A record changed after the import
(edited, deleted, imported again) is not silently undone: the rollback is refused and names it. Rows the import
set aside in the quarantine are reviewed first (released or dropped): a row released later would otherwise
load under an import that no longer holds anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from passage.access import STORE, acting
from passage.auth.audit import audit
from passage.checks import q
from passage.errors import Conflict, NotFound
from passage.forms import get_form
from passage.forms.registry import record_table
from passage.store import Store
from passage.store.schema import bump_generation

ROLLED_BACK = "rolled-back"


def rollback_import(store: Store, import_id: int, *, principal: Any = None) -> dict[str, Any]:
    """Undo a committed import with new versions (admins; `principal=None` is the store's operator). Returns
    the import, with `tombstones` (records it created) and `restored` (records it changed) per table."""
    actor = acting(principal, "administer", STORE)
    found = _import(store, import_id)
    form_id = found["form_id"]
    form = get_form(store, form_id)
    tables = [t for t in [record_table(form_id), *(record_table(form_id, r) for r in form.repeats)]
              if store.table_exists(t)]
    now = datetime.now(UTC).replace(tzinfo=None)
    done: dict[str, dict[str, int]] = {}
    with store.load_lock(form_id), store.transaction():
        found = _import(store, import_id)  # again under the lock: another rollback may have won the race
        held = store.scalar("SELECT count(*) FROM quarantine WHERE import_id = ? AND status = 'held'", [import_id])
        if held:
            raise Conflict(f"import {import_id} still holds {held} row(s) in the quarantine: release or drop them "
                           f"first (passage quarantine list --import {import_id})", code="import.rows_held")
        for table in tables:
            changed = _changed_since(store, table, import_id)
            if changed:
                raise Conflict(f"records of import {import_id} changed after it (e.g. {', '.join(changed)}): "
                               "rolling it back would undo those changes too; change them back first",
                               code="import.changed_since")
        for table in tables:
            done[table] = _undo(store, table, import_id, actor.user_name, now)
        store.execute("UPDATE imports SET status = ?, message = ? WHERE import_id = ?",
                      [ROLLED_BACK, f"rolled back by {actor.user_name or 'the operator'} on {now:%Y-%m-%d %H:%M}",
                       import_id])
        audit(store, actor.user_name, "import.rollback", target=form_id, import_id=import_id, detail=done)
        bump_generation(store)
    return {**found, "status": ROLLED_BACK, "tables": done}


def _import(store: Store, import_id: int) -> dict[str, Any]:
    names, rows = store.columns("SELECT import_id, kind, form_id, files, status, user_name, started_at "
                                "FROM imports WHERE import_id = ?", [int(import_id)])
    if not rows:
        raise NotFound(f"no import {import_id}")
    found = dict(zip(names, rows[0]))
    if found["status"] != "committed" or not found["form_id"]:
        raise Conflict(f"import {import_id} is {found['status']}: only a committed import can be rolled back",
                       code="import.not_committed")
    return found


def _content(store: Store, table: str) -> list[str]:
    """The columns a version holds beyond its version bookkeeping: fields, place, warnings, provenance."""
    columns = [r[0] for r in store.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema() "
        "ORDER BY ordinal_position", [table])]
    return [c for c in columns if c not in SYSTEM]


SYSTEM = ["_version", "_current", "_deleted", "_import_id", "_user", "_created_at"]


def _changed_since(store: Store, table: str, import_id: int) -> list[str]:
    """Records (a few) whose current version is not what the import left: a later version that holds anything
    else (a later import's version undone by its own rollback holds the import's values again: not a change)."""
    differs = " OR ".join([f"c.{q(col)} IS DISTINCT FROM x.{q(col)}" for col in _content(store, table)]
                          + ["c._deleted <> x._deleted"])
    return [r[0] for r in store.query(
        f"SELECT x._record_id FROM {table} x JOIN {table} c ON c._record_id = x._record_id AND c._current "
        f"WHERE x._import_id = ? AND c._version <> x._version AND ({differs}) ORDER BY x._record_id LIMIT 5",
        [import_id])]


def _undo(store: Store, table: str, import_id: int, user: str | None, now: datetime) -> dict[str, int]:
    """Each record the import wrote (its current version holds the import's values: checked) gets a next version:
    a tombstone where the import created it, else the values of the version before the import's."""
    kept = _content(store, table)
    listed = ", ".join(map(q, [*kept, *SYSTEM]))

    def values(src: str, deleted: str) -> str:
        """`src`'s values under the new version's system columns (who and when: the two parameters)."""
        return ", ".join([*(f"{src}.{q(c)}" for c in kept), "r.cv + 1", "true", deleted, "NULL", "?", "?"])

    work = f"_rollback_{import_id}"
    store.execute(f"CREATE TEMP TABLE {work} AS SELECT x._record_id, x._version AS xv, c._version AS cv "
                  f"FROM {table} x JOIN {table} c ON c._record_id = x._record_id AND c._current WHERE x._import_id = ?",
                  [import_id])
    counts = {"tombstones": store.scalar(f"SELECT count(*) FROM {work} WHERE xv = 1"),
              "restored": store.scalar(f"SELECT count(*) FROM {work} WHERE xv > 1")}
    # No longer current first: PostgreSQL keeps one current version per record by a unique index.
    store.execute(f"UPDATE {table} SET _current = false WHERE _current AND _record_id IN (SELECT _record_id FROM {work})")
    store.execute(f"INSERT INTO {table} ({listed}) SELECT {values('x', 'true')} FROM {work} r "
                  f"JOIN {table} x ON x._record_id = r._record_id AND x._version = r.xv WHERE r.xv = 1", [user, now])
    store.execute(f"INSERT INTO {table} ({listed}) SELECT {values('p', 'p._deleted')} FROM {work} r "
                  f"JOIN {table} p ON p._record_id = r._record_id AND p._version = r.xv - 1 WHERE r.xv > 1", [user, now])
    store.execute(f"DROP TABLE {work}")
    return counts
