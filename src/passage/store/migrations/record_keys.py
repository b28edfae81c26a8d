"""Change the key of a form's records: every version of every record gets the id the new key gives it.

A record id is its key fields joined with `|` (`passage.checks.unique_key.key_sql`, computed on the staged
text of an import). Here the same text is computed from the stored, typed columns: text as it is, integers and
dates printed as the check prints them (`7`, `2020-01-31`). Each record's new id comes from its newest version
(an edit that changed key fields kept the old id; the record is what it says now). Versions, their numbers,
provenance and creation times stay, and with them what each release showed; the audit log is not rewritten:
`record_id_changes` maps every old id to its new one. Records that would share an id under the new key are
listed and nothing is changed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from passage.checks import q
from passage.errors import StoreError
from passage.forms import get_form
from passage.forms.registry import record_table
from passage.store.base import Store
from passage.store.migrations import Migration, MigrationRefused
from passage.store.schema import current_version_index

# Field types whose stored value prints as the key check printed the imported text
_AS_TEXT = {"VARCHAR"}
_PRINTED = {"BIGINT", "INTEGER", "DATE"}
SHOWN = 20  # collisions listed in the refusal


def _key_sql(types: dict[str, str], key: list[str], form_id: str) -> str:
    parts = []
    for name in key:
        sql_type = "VARCHAR" if name == "_place_code" else types.get(name)
        if sql_type in _AS_TEXT:
            parts.append(f"coalesce({q(name)}, '')")
        elif sql_type in _PRINTED:
            parts.append(f"coalesce(CAST({q(name)} AS VARCHAR), '')")
        else:
            raise StoreError(f"{form_id}: key field {name!r} " + ("is not a field of the form" if sql_type is None
                             else f"is stored as {sql_type}, which does not print as its imported text"))
    return "concat_ws('|', " + ", ".join(parts) + ")"


def change_record_key(store: Store, form_id: str, old_key: list[str], new_key: list[str],
                      migration: Migration) -> dict[str, Any]:
    """Recompute `_record_id` of every version of every record of `form_id` under `new_key` (in the caller's
    transaction). Raises `MigrationRefused` naming records that would collide. Returns counts for the audit."""
    table = record_table(form_id)
    if not store.table_exists(table):
        return {"form": form_id, "records": 0, "renamed": 0, "versions": 0}
    form = get_form(store, form_id)
    if form.repeats:
        raise StoreError(f"{form_id}: changing the key of a form with repeat groups is not supported "
                         "(the children's ids start with their parent's)")
    types = {f.name: f.sql_type for f in form.top_fields()}
    _key_sql(types, old_key, form_id)  # the old key must have been computable the same way
    new_id = _key_sql(types, new_key, form_id)
    rekey = f"_rekey_{form_id}"
    store.execute(
        f"CREATE TEMP TABLE {rekey} AS SELECT r._record_id AS old_id, {new_id} AS new_id FROM {table} r "
        f"JOIN (SELECT _record_id, max(_version) AS v FROM {table} GROUP BY _record_id) AS newest "
        "ON newest._record_id = r._record_id AND newest.v = r._version")
    collisions = store.query(
        f"SELECT new_id, string_agg(old_id, ' and ' ORDER BY old_id) FROM {rekey} GROUP BY new_id "
        "HAVING count(*) > 1 ORDER BY new_id")
    if collisions:
        lines = [f"  {olds} would all become {new!r}" for new, olds in collisions[:SHOWN]]
        more = f"\n  … and {len(collisions) - SHOWN} more" if len(collisions) > SHOWN else ""
        raise MigrationRefused(
            f"{migration.label}: {len(collisions)} record id(s) of {form_id} would be shared under the new key "
            f"({', '.join(new_key)}); nothing was changed. Edit or delete one record of each pair, then run "
            "`passage migrate` again:\n" + "\n".join(lines) + more)
    records = store.scalar(f"SELECT count(*) FROM {rekey}")
    renamed = store.scalar(f"SELECT count(*) FROM {rekey} WHERE old_id <> new_id")
    versions = store.scalar(f"SELECT count(*) FROM {table} WHERE _record_id IN "
                            f"(SELECT old_id FROM {rekey} WHERE old_id <> new_id)")
    index = None
    if store.dialect == "postgres":  # ids are unique per current version: make way while they change
        index = store.scalar("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                             "AND indexname = left(? || '_current', 63)", [table])
        if index:
            store.execute(f"DROP INDEX {index}")
    store.execute(f"UPDATE {table} SET _record_id = m.new_id FROM {rekey} m "
                  f"WHERE {table}._record_id = m.old_id AND m.old_id <> m.new_id")
    if index:
        current_version_index(store, table)
    store.execute(
        "INSERT INTO record_id_changes (form_id, old_record_id, new_record_id, migration, changed_at) "
        f"SELECT ?, old_id, new_id, ?, ? FROM {rekey} WHERE old_id <> new_id",
        [form_id, migration.label, datetime.now(UTC).replace(tzinfo=None)])
    store.execute(f"DROP TABLE {rekey}")
    return {"form": form_id, "records": records, "renamed": renamed, "versions": versions}
