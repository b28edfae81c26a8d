"""Installed forms and the record tables made from them.

Each form gets one append-only table `rec_<form_id>`: its fields as typed columns,
plus the system columns that make records versioned and traceable. A view named
after the form shows the current version of every record that is not deleted.
Repeat groups get `rec_<form_id>__<repeat>` with a `_parent_record` link.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from passage.errors import NotFound, UsageError
from passage.forms.names import table_ident
from passage.forms.xlsform import Field, Form
from passage.store import Store
from passage.store.schema import bump_generation, current_version_index

SYSTEM_COLUMNS = [
    ("_record_id", "VARCHAR NOT NULL"),  # stable across versions
    ("_version", "INTEGER NOT NULL"),
    ("_current", "BOOLEAN NOT NULL"),  # the newest version of its record
    ("_deleted", "BOOLEAN NOT NULL"),  # this version is a tombstone
    ("_import_id", "BIGINT"),
    ("_source_sha256", "VARCHAR"),
    ("_source_row", "INTEGER"),
    ("_source_sheet", "VARCHAR"),
    ("_user", "VARCHAR"),
    ("_created_at", "TIMESTAMP NOT NULL"),
    ("_place_code", "VARCHAR"),  # the most specific normalised place
    ("_warnings", "VARCHAR"),  # '|'-joined warnings found at import
]
REPEAT_COLUMNS = [("_parent_record", "VARCHAR NOT NULL"), ("_parent_index", "INTEGER")]


def record_table(form_id: str, repeat: str | None = None) -> str:
    """`rec_<form>` (`rec_<form>__<repeat>`); a form id that is no plain identifier (`field-list`) is mapped
    to one (`rec_field_list`), deterministically (passage.forms.names.table_ident)."""
    return f"rec_{table_ident(form_id)}" + (f"__{table_ident(repeat)}" if repeat else "")


def view_name(form_id: str, repeat: str | None = None) -> str:
    """The view of current records: named after the form (mapped like its table when needed)."""
    return table_ident(form_id) + (f"__{table_ident(repeat)}" if repeat else "")


def _ident(name: str) -> str:
    """A field or repeat's storage name is a column or table name: letters, digits and `_` only (compile_xlsform
    maps every name so; a form built by hand must too)."""
    if not name.replace("_", "").isalnum():
        raise UsageError(f"{name!r} cannot name a table or column: use letters, digits and _ only (the form's "
                         "repeats and fields)", code="usage.identifier")
    return name


def _q(name: str) -> str:
    """Field columns are quoted, so PostgreSQL keeps a mixed-case storage name (`Name`) as the records
    code (which quotes every column) writes it."""
    return '"' + name.replace('"', '""') + '"'


def _check_table_clash(store: Store, form_id: str) -> None:
    """Two form ids that map to one table name (`field-list`, `field_list`) cannot both be installed."""
    table = record_table(form_id)
    for (other,) in store.query("SELECT DISTINCT form_id FROM forms WHERE form_id <> ?", [form_id]):
        if record_table(other).lower() == table.lower():
            raise UsageError(f"form id {form_id!r} would share the record table {table} with the installed form "
                             f"{other!r}: change the form_id in the XLSForm's settings sheet",
                             code="usage.identifier")


def _fields_for(form: Form, repeat: str | None) -> list[Field]:
    return form.top_fields() if repeat is None else form.repeat_fields(repeat)


def column_type(store: Store, sql_type: str) -> str:
    """DuckDB's DOUBLE is PostgreSQL's DOUBLE PRECISION (decimal fields)."""
    return "DOUBLE PRECISION" if sql_type == "DOUBLE" and store.dialect == "postgres" else sql_type


def install_form(store: Store, form: Form, pack: str | None = None, extra_columns: list[tuple[str, str]] = ()) -> bool:
    """Register a form version and create or widen its record tables. Returns False if already installed."""
    have = store.scalar("SELECT sha256 FROM forms WHERE form_id = ? AND version = ?", [form.form_id, form.version])
    if have == form.sha256:
        return False
    _check_table_clash(store, form.form_id)
    with store.transaction():
        if have is not None:
            store.execute("DELETE FROM forms WHERE form_id = ? AND version = ?", [form.form_id, form.version])
        store.execute(
            "INSERT INTO forms VALUES (?, ?, ?, ?, ?, ?, ?)",
            [form.form_id, form.version, form.title, pack, form.sha256, form.to_json(),
             datetime.now(UTC).replace(tzinfo=None)],
        )
        for repeat in [None, *form.repeats]:
            table = record_table(form.form_id, repeat and _ident(repeat))
            cols = [(_ident(f.name), column_type(store, f.sql_type)) for f in _fields_for(form, repeat)]
            cols += list(extra_columns) if repeat is None else []
            if repeat is None and pack is None:  # a user's form: its records' country, from its place fields
                cols.append(("_country", "VARCHAR"))  # (passage.forms.datasets.link_places)
            system = SYSTEM_COLUMNS + (REPEAT_COLUMNS if repeat else [])
            if not store.table_exists(table):
                ddl = ", ".join(f"{n} {t}" for n, t in system) + "".join(f", {_q(n)} {t}" for n, t in cols)
                store.execute(f"CREATE TABLE {table} ({ddl})")
                current_version_index(store, table)  # PostgreSQL; older tables get it when the store opens
            else:
                existing = {r[0] for r in store.query(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])}
                for n, t in cols:
                    if n not in existing:  # a new form version may add fields; old records keep NULL
                        store.execute(f"ALTER TABLE {table} ADD COLUMN {_q(n)} {t}")
            if store.dialect == "postgres":  # DuckDB's zone maps serve these scans; a server needs indexes
                store.execute(f"CREATE INDEX IF NOT EXISTS {table}_record ON {table} (_record_id, _version)")
                store.execute(f"CREATE INDEX IF NOT EXISTS {table}_place ON {table} (_place_code) WHERE _current")
            view = view_name(form.form_id, repeat)
            store.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {table} WHERE _current AND NOT _deleted")
        bump_generation(store)  # a user's form is a dataset: answers kept for the old generation are stale
    return True


def get_form(store: Store, form_id: str, version: str | None = None) -> Form:
    """The newest installed version unless one is named."""
    sql = "SELECT definition FROM forms WHERE form_id = ?"
    params = [form_id]
    if version:
        sql += " AND version = ?"
        params.append(version)
    rows = store.query(sql + " ORDER BY installed_at DESC LIMIT 1", params)
    if not rows:
        raise NotFound(f"form {form_id!r} is not installed (see `passage forms list`)")
    return Form.from_json(rows[0][0])


def list_forms(store: Store) -> list[tuple]:
    return store.query("SELECT form_id, version, title, pack, installed_at FROM forms ORDER BY form_id, version")


def installed_forms(store: Store) -> list[dict[str, Any]]:
    """`list_forms` as records: form_id, version, title, pack, installed_at."""
    return [{"form_id": f, "version": v, "title": t, "pack": p, "installed_at": i} for f, v, t, p, i in list_forms(store)]


def form_fields(store: Store, form_id: str) -> dict[str, Any]:
    """A form and its fields (name, type, label, required, relevance, constraint, choices, repeat, SQL type)."""
    form = get_form(store, form_id)
    return {"form_id": form.form_id, "version": form.version, "title": form.title, "repeats": form.repeats,
            "fields": [{"name": f.name, "xlsform_name": f.xlsform_name, "path": f.path, "type": f.type, "label": f.label, "required": f.required,
                        "relevant": f.relevant, "constraint": f.constraint, "choices": f.choices,
                        "repeat": f.repeat, "sql_type": f.sql_type, "hxl": f.hxl} for f in form.fields]}
