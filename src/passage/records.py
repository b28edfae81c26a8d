"""Records are never overwritten: an edit is a new version, a delete a tombstone.

Every version keeps where it came from (import, file hash, row, sheet, user, time).
An edit reaches `write_version` only after the checks of `passage.edits` (those of an import of the row).
`_current` marks the newest version of each record, so "what is true now" is a plain
filter (the view named after the form) rather than a window over history.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from passage.auth.audit import audit
from passage.auth.principal import Principal
from passage.checks import q
from passage.errors import Conflict, EditRejected, NotFound
from passage.forms import Form, get_form
from passage.forms.names import table_ident
from passage.forms.registry import SYSTEM_COLUMNS, column_type, record_table, view_name
from passage.store import Store
from passage.store.schema import bump_generation


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _sha_case(file_hashes: dict[str, str]) -> str:
    """SQL giving each staged row the hash of the file it came from."""
    return "CASE _file " + " ".join(f"WHEN '{n.replace(chr(39), chr(39) * 2)}' THEN '{h}'"
                                    for n, h in file_hashes.items()) + " END"


def current_keys(store: Store, eng: Any, form_id: str) -> str | None:
    """A relation, usable on the validation engine, of record ids that are current in the store."""
    table = record_table(form_id)
    if store.dialect == "duckdb":
        return f"(SELECT _record_id FROM {table} WHERE _current AND NOT _deleted)"
    name = f"_store_keys_{table_ident(form_id)}"
    store.copy_table_to_engine(eng, f"SELECT _record_id FROM {table} WHERE _current AND NOT _deleted",
                               name, "_record_id VARCHAR")
    return name


def drop_current_keys(store: Store, eng: Any, form_id: str) -> None:
    if store.dialect != "duckdb":
        eng.execute(f"DROP TABLE IF EXISTS _store_keys_{table_ident(form_id)}")


def _typed(fields: list) -> list[tuple[str, str]]:
    """(column, SQL turning the staged text into the column's type)."""
    out = []
    for f in fields:
        c = q(f.name)
        if f.sql_type == "VARCHAR":
            out.append((f.name, c))
        elif f.sql_type == "TIMESTAMP":
            out.append((f.name, f"CAST(TRY_CAST({c} AS TIMESTAMPTZ) AS TIMESTAMP)"))
        else:
            out.append((f.name, f"TRY_CAST({c} AS {f.sql_type})"))
    return out


def load(store: Store, eng: Any, stage: str, form: Form, *, import_id: int, user: str | None,
         file_hashes: dict[str, str], update: bool, absent: Collection[str] = ()) -> tuple[int, int, int]:
    """Write validated staging rows as record versions; returns (inserted, updated, unchanged).

    `absent`: the form's fields that the file(s) did not carry (no such column, not an empty cell): a record
    already in the store keeps its stored values there, and they do not count as a change (an API response
    without a column must not blank it in every record). Runs inside the caller's transaction.
    """
    table = record_table(form.form_id)
    typed = _typed(form.top_fields())
    sha = _sha_case(file_hashes)
    have = {r[0] for r in eng.execute(f"DESCRIBE {stage}").fetchall()}
    record_id = "_key" if "_key" in have else f"'{import_id}:' || coalesce(_sheet, '') || ':' || _row"
    place = "_place_code" if "_place_code" in have else "NULL::VARCHAR"
    warnings = "_warnings" if "_warnings" in have else "NULL::VARCHAR"
    now = _now().isoformat(sep=" ")
    user_sql = "NULL::VARCHAR" if user is None else "'" + user.replace("'", "''") + "'"
    fields = [n for n, _ in typed]
    select = (
        f"SELECT {record_id} AS _record_id, _row AS _source_row, _sheet AS _source_sheet, {sha} AS _source_sha256, "
        f"{place} AS _place_code, {warnings} AS _warnings, " + ", ".join(f"{sql} AS {q(n)}" for n, sql in typed)
        + f" FROM {stage}"
    )
    # New records only (the checks said so, again under the load lock): inserted as version 1 at once on
    # DuckDB, unless one of them has a current tombstone (deleted, then imported anew: its next version).
    if store.dialect == "duckdb" and not update and not (
            store.scalar(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE _current AND _deleted)") and store.scalar(
                f"SELECT EXISTS (SELECT 1 FROM {table} WHERE _current AND _deleted AND _record_id IN "
                f"(SELECT {record_id} FROM {stage}))")):
        cols = ["_record_id", "_version", "_current", "_deleted", "_import_id", "_source_sha256", "_source_row",
                "_source_sheet", "_user", "_created_at", "_place_code", "_warnings", *fields]
        n = store.scalar(
            f"INSERT INTO {table} ({', '.join(map(q, cols))}) SELECT _record_id, 1, true, false, {import_id}, "
            f"_source_sha256, _source_row, _source_sheet, {user_sql}, TIMESTAMP '{now}', _place_code, _warnings, "
            f"{', '.join(map(q, fields))} FROM ({select}) AS typed"
        )
        return n, 0, 0
    inc = f"_inc_{import_id}"
    incoming_cols = ["_record_id", "_source_row", "_source_sheet", "_source_sha256", "_place_code", "_warnings", *fields]
    types = {f.name: column_type(store, f.sql_type) for f in form.top_fields()}
    ddl = ", ".join(f"{q(c)} {types.get(c, 'INTEGER' if c == '_source_row' else 'VARCHAR')}" for c in incoming_cols)
    # Created inside the caller's transaction: a failure rolls it back with everything else.
    store.execute(f"CREATE TEMP TABLE {inc} ({ddl})")
    store.load_from_engine(eng, select, inc, [q(c) for c in incoming_cols])
    kept = tuple(f for f in fields if f in set(absent))
    counts = _apply_versions(store, table, inc, [f for f in fields if f not in kept], import_id, user, now,
                             keep=kept)
    store.execute(f"DROP TABLE {inc}")
    return counts


def _apply_versions(store: Store, table: str, inc: str, fields: list[str], import_id: int, user: str | None,
                    now: str, carry: tuple[str, ...] = ("_place_code", "_warnings"),
                    compare: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> tuple[int, int, int]:
    """Turn an incoming table into versions: new ids start at 1, changed ones (in `fields` or `compare`)
    get the next version, identical ones are left alone. `keep`: columns the input did not carry, copied
    from the current version (NULL in a new record) and not compared. Returns (new, changed, same)."""
    differs = " OR ".join(f"r.{q(f)} IS DISTINCT FROM i.{q(f)}" for f in [*compare, *fields]) or "false"
    act = f"{inc}_act"
    store.execute(
        f"CREATE TEMP TABLE {act} AS SELECT i._record_id, r._version AS prev_version, "
        f"CASE WHEN r._record_id IS NULL THEN 'new' WHEN r._deleted OR {differs} THEN 'changed' ELSE 'same' END AS action "
        f"FROM {inc} i LEFT JOIN {table} r ON r._record_id = i._record_id AND r._current"
    )
    counts = dict(store.query(f"SELECT action, count(*) FROM {act} GROUP BY action"))
    store.execute(
        f"UPDATE {table} SET _current = false WHERE _current AND _record_id IN "
        f"(SELECT _record_id FROM {act} WHERE action = 'changed')"
    )
    cols = ["_record_id", "_version", "_current", "_deleted", "_import_id", "_source_sha256", "_source_row",
            "_source_sheet", "_user", "_created_at", *carry, *fields, *keep]
    prev = (f" LEFT JOIN {table} r ON r._record_id = a._record_id AND r._version = a.prev_version" if keep else "")
    store.execute(
        f"INSERT INTO {table} ({', '.join(map(q, cols))}) SELECT i._record_id, coalesce(a.prev_version, 0) + 1, "
        f"true, false, ?, i._source_sha256, i._source_row, i._source_sheet, ?, ?"
        + "".join(f", i.{q(c)}" for c in [*carry, *fields]) + "".join(f", r.{q(c)}" for c in keep)
        + f" FROM {inc} i JOIN {act} a ON a._record_id = i._record_id{prev} WHERE a.action <> 'same'",
        [import_id, user, datetime.fromisoformat(now) if isinstance(now, str) else now],
    )
    store.execute(f"DROP TABLE {act}")
    return counts.get("new", 0), counts.get("changed", 0), counts.get("same", 0)


def _current_row(store: Store, table: str, record_id: str) -> tuple[list[str], tuple]:
    names, rows = store.columns(f"SELECT * FROM {table} WHERE _record_id = ? AND _current", [record_id])
    if not rows:
        raise NotFound(f"no record {record_id!r} in {table}")
    return names, rows[0]


CARRIED = ("_place_code", "_warnings")  # system columns an edit's checks recompute


def country_field(store: Store, form_id: str) -> str | None:
    """The field holding a record's country: its pack's place checks', else its dataset's."""
    from passage.plugins import pack_for_form
    from passage.releases import dataset_for_form

    pack = pack_for_form(form_id)
    country = (pack.record_config(form_id) if pack else {}).get("places", {}).get("country")
    if country:
        return country
    ds = dataset_for_form(store, form_id)
    return ds.country_field if ds is not None else None


def _new_version(store: Store, form_id: str, record_id: str, user: str | None, changes: dict[str, Any],
                 deleted: bool, *, system: dict[str, Any] | None = None, expected_version: int | None = None,
                 check: Callable[[dict[str, Any]], None] | None = None, via: str | None = None) -> int:
    form = get_form(store, form_id)
    table = record_table(form_id)
    allowed = {f.name for f in form.top_fields()}
    unknown = set(changes) - allowed
    if unknown:
        raise NotFound(f"form {form_id!r} has no field(s) {', '.join(sorted(unknown))}")
    if set(system or {}) - set(CARRIED):
        raise ValueError(f"only {', '.join(CARRIED)} may be set beside the fields")
    with store.transaction():
        names, row = _current_row(store, table, record_id)
        values = dict(zip(names, row))
        if check is not None:
            check(values)
        if values["_deleted"] and deleted:
            raise NotFound(f"record {record_id!r} is already deleted")
        if expected_version is not None and (values["_version"] != expected_version or values["_deleted"]):
            raise Conflict(f"record {record_id!r} changed while the edit was checked (now version "
                           f"{values['_version']}): reload it and try again")
        values.update(changes)
        values.update(system or {})
        values.update(_version=values["_version"] + 1, _current=True, _deleted=deleted, _import_id=None,
                      _user=user, _created_at=_now())
        store.execute(f"UPDATE {table} SET _current = false WHERE _record_id = ? AND _current", [record_id])
        cols = list(values)
        store.execute(f"INSERT INTO {table} ({', '.join(map(q, cols))}) VALUES ({', '.join('?' for _ in cols)})",
                      [values[c] for c in cols])
        audit(store, user, "record.delete" if deleted else "record.edit", target=f"{form_id}/{record_id}",
              detail={"version": values["_version"], "fields": sorted(changes), **({"via": via} if via else {})})
        bump_generation(store)
    return values["_version"]


def write_version(store: Store, form_id: str, record_id: str, changes: dict[str, Any], *, user: str | None,
                  system: dict[str, Any], expected_version: int, via: str | None = None) -> int:
    """Write an edit that `passage.edits` has checked: the typed `changes`, the recomputed place and
    warnings, on top of `expected_version` (Conflict if the record moved on meanwhile). `via` (e.g. `web`)
    is the channel, kept in the audit log for the record's history."""
    return _new_version(store, form_id, record_id, user, changes, deleted=False, system=system,
                        expected_version=expected_version, via=via)


def delete_record(store: Store, form_id: str, record_id: str, *, principal: Principal | None = None,
                  user: str | None = None) -> int:
    """Add a tombstone version; history stays. Editors delete records of their places, admins any
    (`principal=None`: the store's operator). The packs' rules on edits hold (`EditRejected`: e.g. a record a
    pack's workflow has frozen). `user` is recorded (default: the principal's name), as
    `passage.edits.edit_record` does."""
    from passage.access import Place, acting
    from passage.findings import Report
    from passage.plugins import call

    field = country_field(store, form_id)
    if user is None and principal is not None:
        user = principal.user_name

    def may_delete(row: dict[str, Any]) -> None:
        acting(principal, "edit-records", Place((row.get(field) if field else None) or "", row.get("_place_code")))
        # The packs' rules on edits hold for a deletion too (a workflow may have frozen the record).
        report = Report()
        as_text = {k: None if v is None else str(v) for k, v in row.items()}
        call("edit_checks", store=store, form_id=form_id, old=row, new=as_text, target=f"{form_id}/{record_id}",
             report=report)
        if not report.ok:
            raise EditRejected(report)

    with store.load_lock(form_id):  # as an edit is written: beside loads, rollbacks and workflow transitions
        return _new_version(store, form_id, record_id, user, {}, deleted=True, check=may_delete)


def history(store: Store, form_id: str, record_id: str) -> tuple[list[str], list[tuple]]:
    """Every version of a record. An id that a key migration changed (the audit log names records by the ids
    they had then) finds the record under its new id (`record_id_changes`)."""
    cols = ", ".join(c for c, _ in SYSTEM_COLUMNS)
    names, rows = store.columns(
        f"SELECT {cols} FROM {record_table(form_id)} WHERE _record_id = ? ORDER BY _version", [record_id])
    if not rows:
        renamed = store.scalar("SELECT new_record_id FROM record_id_changes WHERE form_id = ? AND old_record_id = ? "
                               "ORDER BY changed_at DESC LIMIT 1", [form_id, record_id])
        if renamed is not None and renamed != record_id:
            return history(store, form_id, renamed)
    return names, rows


# --------------------------------------------------------------------------- importer columns, repeat groups
# Used by the xlsform-data importer (passage.ingest.xlsform_data); nothing above depends on them.


def ensure_columns(store: Store, form_id: str, columns: list[tuple[str, str]], repeat: str | None = None) -> list[str]:
    """Add the columns a record table lacks (an importer's provenance columns, e.g. Kobo's `_uuid`)
    and refresh the form's view; returns the names added.

    DDL: call it inside the import's transaction, so that a rejected or failed import leaves no trace.
    """
    table = record_table(form_id, repeat)
    existing = {r[0] for r in store.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema()",
        [table])}
    added = []
    for name, sql_type in columns:
        if name not in existing:
            store.execute(f"ALTER TABLE {table} ADD COLUMN {q(name)} {sql_type}")
            added.append(name)
    if added:
        view = view_name(form_id, repeat)
        store.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {table} WHERE _current AND NOT _deleted")
    return added


def load_repeat(store: Store, eng: Any, stage: str, parent_stage: str, form: Form, repeat: str, *, import_id: int,
                user: str | None, file_hashes: dict[str, str], update: bool,
                absent: Collection[str] = ()) -> tuple[int, int, int, int]:
    """Write a repeat group's validated staging rows as versions of `rec_<form>__<repeat>`.

    `stage` holds `_key` (the child's record id), `_parent_record`, `_parent_index`, `_file`, `_sheet`,
    `_row` and the repeat's fields as text; `parent_stage` holds the `_key` of every parent record of
    this import. Children are versioned like records: a new id is version 1, a changed child (fields or
    parent) a new version, an identical one is left alone; `absent` repeat fields (no column in the file)
    keep their stored values, as in `load`; when `update`, a current child of one of these
    parents that the import no longer holds gets a tombstone. Returns (inserted, updated, unchanged,
    deleted). Runs inside the caller's transaction.
    """
    table = record_table(form.form_id, repeat)
    typed = _typed(form.repeat_fields(repeat))
    names = [n for n, _ in typed]
    select = (
        "SELECT _key AS _record_id, _parent_record, TRY_CAST(_parent_index AS INTEGER) AS _parent_index, "
        f"_row AS _source_row, _sheet AS _source_sheet, {_sha_case(file_hashes)} AS _source_sha256"
        + "".join(f", {sql} AS {q(n)}" for n, sql in typed) + f" FROM {stage}"
    )
    base = f"_inc_{import_id}_{repeat}"  # repeat names are plain identifiers (install_form checks)
    inc, par, gone = base, base + "_par", base + "_gone"
    types = {f.name: column_type(store, f.sql_type) for f in form.repeat_fields(repeat)}
    inc_cols = [("_record_id", "VARCHAR"), ("_parent_record", "VARCHAR"), ("_parent_index", "INTEGER"),
                ("_source_row", "INTEGER"), ("_source_sheet", "VARCHAR"), ("_source_sha256", "VARCHAR")]
    inc_cols += [(n, types[n]) for n in names]
    now = _now()
    # Temp tables created inside the caller's transaction: a failure rolls them back with everything else.
    store.execute(f"CREATE TEMP TABLE {inc} ({', '.join(f'{q(c)} {t}' for c, t in inc_cols)})")
    store.load_from_engine(eng, select, inc, [q(c) for c, _ in inc_cols])
    kept = tuple(n for n in names if n in set(absent))
    counts = _apply_versions(store, table, inc, [n for n in names if n not in kept], import_id, user, now,
                             carry=("_parent_record", "_parent_index"), compare=("_parent_record",), keep=kept)
    cols = ["_record_id", "_version", "_current", "_deleted", "_import_id", "_source_sha256", "_source_row",
            "_source_sheet", "_user", "_created_at", "_place_code", "_warnings", "_parent_record",
            "_parent_index", *names]
    deleted = 0
    if update:
        store.execute(f"CREATE TEMP TABLE {par} (_record_id VARCHAR)")
        store.load_from_engine(eng, f"SELECT DISTINCT _key FROM {parent_stage}", par, ["_record_id"])
        store.execute(
            f"CREATE TEMP TABLE {gone} AS SELECT r._record_id, r._version FROM {table} r "
            f"WHERE r._current AND NOT r._deleted AND r._parent_record IN (SELECT _record_id FROM {par}) "
            f"AND r._record_id NOT IN (SELECT _record_id FROM {inc})"
        )
        deleted = store.scalar(f"SELECT count(*) FROM {gone}")
        if deleted:
            store.execute(f"UPDATE {table} SET _current = false WHERE _current AND _record_id IN "
                          f"(SELECT _record_id FROM {gone})")
            store.execute(
                f"INSERT INTO {table} ({', '.join(map(q, cols))}) SELECT r._record_id, r._version + 1, true, true, "
                "?, r._source_sha256, r._source_row, r._source_sheet, ?, ?, r._place_code, r._warnings, "
                "r._parent_record, r._parent_index" + "".join(f", r.{q(n)}" for n in names)
                + f" FROM {table} r JOIN {gone} g ON g._record_id = r._record_id AND g._version = r._version",
                [import_id, user, now],
            )
        store.execute(f"DROP TABLE {gone}")
        store.execute(f"DROP TABLE {par}")
    store.execute(f"DROP TABLE {inc}")
    return (*counts, deleted)


def read_history(store: Store, form_id: str, record_id: str, principal: Principal) -> dict[str, Any]:
    """A record as `principal` reads it (`passage.access.readable`), and, for those who may edit it, every
    version with its provenance and the files behind them (`versions` is None for the others)."""
    from passage.access import Place, allowed, readable
    from passage.releases import dataset_for_form

    ds = dataset_for_form(store, form_id)
    if ds is None or not allowed(principal, "read-dataset", ds):  # a restricted dataset's existence is not disclosed
        raise NotFound(f"no dataset holds form {form_id!r}")
    t = readable(store, principal, ds)
    rows = t.filter(t._record_id == record_id).to_pyarrow().to_pylist()
    if not rows:
        raise NotFound(f"no record {record_id!r}")
    current = rows[0]
    out: dict[str, Any] = {"record_id": record_id, "form": form_id, "record": current, "versions": None}
    if allowed(principal, "edit-records", Place(current.get(ds.country_field) or "", current.get("_place_code"))):
        names, vrows = history(store, form_id, record_id)
        out["versions"] = [dict(zip(names, r)) for r in vrows]
        sha = sorted({v["_source_sha256"] for v in out["versions"] if v["_source_sha256"]})
        if sha:
            n2, frows = store.columns(
                f"SELECT sha256, name, size, first_seen FROM files WHERE sha256 IN ({', '.join('?' for _ in sha)})",
                sha)
            out["files"] = [dict(zip(n2, r)) for r in frows]
    return out
