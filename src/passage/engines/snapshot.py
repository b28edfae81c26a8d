"""A Parquet snapshot of a store's current records, for engines that read files (Spark).

`passage snapshot -o DIR` writes, in one consistent read of the store (DuckDB's transaction, PostgreSQL's
REPEATABLE READ):

    DIR/manifest.json                          format, when, the source store's kind and generation; per table
                                               its kind, rows, partitioning and columns with their SQL types
    DIR/<form>/country=<ISO3>/part-0.parquet   a form's current records (its view: no old versions, no
                                               tombstones), one folder per value of its dataset's country field
                                               (a user's form: `_country`); the field stays in the files too;
                                               no country: `country=__HIVE_DEFAULT_PARTITION__`
    DIR/<form>__<repeat>/part-0.parquet        a repeat's current rows (no country of their own)
    DIR/<table>/part-0.parquet                 what measures and exports read beside the records: `places`,
                                               `pcode_lengths`, `forms`, `datasets`, `releases`, `passage_meta`,
                                               and `users` / `user_scopes` without password hashes, e-mail
                                               addresses or display names (`--user` names who reads)

The snapshot holds unpublished records: writing one is an admin's act, as a backup is. It replaces an older
snapshot in DIR only once complete. `passage.engines.spark.SparkStore` reads it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from passage.errors import UsageError
from passage.store.base import Store

FORMAT = "passage-snapshot/1"
MANIFEST = "manifest.json"
NO_COUNTRY = "__HIVE_DEFAULT_PARTITION__"  # Spark's and Hive's folder name for a NULL partition value
# Tables measures and exports read beside the records, with the columns kept (None: every column).
CATALOGUE: dict[str, str | None] = {
    "places": None,
    "pcode_lengths": None,
    "forms": None,
    "datasets": None,
    "releases": None,
    "passage_meta": None,
    "users": "user_name, CAST(NULL AS VARCHAR) AS display_name, CAST(NULL AS VARCHAR) AS email, "
             "'' AS password_hash, role, disabled, created_at",
    "user_scopes": None,
}


def record_views(store: Store) -> list[tuple[str, str]]:
    """(view, record table) of every installed form and each of its repeats, in name order."""
    from passage.forms.registry import get_form, installed_forms, record_table, view_name

    out = []
    for form_id in sorted({f["form_id"] for f in installed_forms(store)}):
        form = get_form(store, form_id)
        for repeat in [None, *form.repeats]:
            view = view_name(form_id, repeat)
            if store.table_exists(view):
                out.append((view, record_table(form_id, repeat)))
    return out


def country_fields(store: Store) -> dict[str, str]:
    """form view -> the field holding its records' country (its dataset's; a user's form: `_country`)."""
    from passage.forms.registry import view_name
    from passage.releases import list_datasets

    return {view_name(d.form): d.country_field for d in list_datasets(store)}


def _types(store: Store, table: str) -> list[list[str]]:
    rows = store.query("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position", [table])
    return [[c, t] for c, t in rows]


def _write(data: pa.Table, folder: Path, partition: str | None) -> list[str]:
    """`data` as Parquet under `folder`: one file, or one per value of `partition` (`country=<value>`)."""
    if partition is None or data.num_rows == 0:
        folder.mkdir(parents=True)
        pq.write_table(data, folder / "part-0.parquet")
        return []
    column = data.column(partition)
    values = sorted({v for v in column.to_pylist()}, key=lambda v: (v is None, v or ""))
    for value in values:
        part = folder / f"country={NO_COUNTRY if value is None else value}"
        part.mkdir(parents=True)
        mask = pc.is_null(column) if value is None else pc.equal(column, value)
        pq.write_table(data.filter(mask), part / "part-0.parquet")
    return [NO_COUNTRY if v is None else str(v) for v in values]


def write_snapshot(store: Store, out: Path | str, *, principal: Any = None) -> dict[str, Any]:
    """Write a snapshot of `store` to the folder `out` (see the module's docstring) and return its manifest.

    `out` must be missing, empty or an older snapshot (replaced once the new one is complete); anything else is
    a usage error (`usage.snapshot-target`). Admins only (`principal`; default the store's operator).

        >>> write_snapshot(store, "snap")["tables"]["site_visits"]["rows"]   # doctest: +SKIP
        1234
    """
    from passage.access import STORE, require
    from passage.auth import OPERATOR
    from passage.store.schema import generation

    require(principal or OPERATOR, "administer", STORE)
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).exists())):
        raise UsageError(f"{out} is neither empty nor a Passage snapshot: give a new folder",
                         code="usage.snapshot-target")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".passage-snapshot-", dir=out.parent))
    try:
        with store.transaction():
            if store.dialect == "postgres":
                store.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            gen = generation(store)
            views = record_views(store)
            data = {v: store.arrow(f'SELECT * FROM "{v}"') for v, _ in views}
            types = {v: _types(store, v) for v, _ in views} | {r: _types(store, r) for _, r in views}
            catalogue = [t for t in CATALOGUE if store.table_exists(t)]
            for t in catalogue:
                data[t] = store.arrow(f'SELECT {CATALOGUE[t] or "*"} FROM "{t}"')
                types[t] = _types(store, t)
        tables: dict[str, Any] = {}
        fields = country_fields(store)
        for view, rec in views:
            partition = next((f for f in (fields.get(view), "_country") if f in data[view].column_names), None)
            countries = _write(data[view], work / view, partition)
            tables[view] = {"kind": "records", "rows": data[view].num_rows, "columns": types[view],
                            "partitioned_by": "country" if partition else None, "country_field": partition,
                            "countries": countries, "record_table": rec, "record_table_columns": types[rec]}
        for t in catalogue:
            _write(data[t], work / t, None)
            tables[t] = {"kind": "table", "rows": data[t].num_rows, "columns": types[t], "partitioned_by": None}
        manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "store": {"kind": store.dialect, "generation": gen}, "tables": tables}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            work.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(out)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_manifest(text: str, where: str = "") -> dict[str, Any]:
    """A snapshot's manifest from its JSON text; anything else is a usage error (`usage.snapshot`)."""
    try:
        manifest = json.loads(text)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UsageError(f"{where or 'the folder'} holds no Passage snapshot ({MANIFEST} of format {FORMAT}): "
                         "write one with `passage snapshot -o DIR`", code="usage.snapshot")
    return manifest
