"""What can be published: pack exports, indicators, the derived tables packs build (`published_tables`), and
the records and repeats of users' own forms (`passage.forms.datasets`) with their indicators."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from passage.errors import NotFound
from passage.plugins import available_packs, load_pack, merged
from passage.store import Store


@dataclass
class PublishedTable:
    name: str
    title: str
    data: pa.Table
    hxl: dict[str, str] = field(default_factory=dict)  # column -> hashtag, for the HXL format
    hxl_schema: list[dict[str, str]] = field(default_factory=list)
    # More sheets of the same XLSX: a user form's repeats, after its records (other formats: their own tables)
    sheets: list[PublishedTable] = field(default_factory=list)


def list_tables(store: Store | None = None) -> list[tuple[str, str]]:
    """(name, title) of every table `passage export` knows; with a store, also its users' forms (records and
    each repeat) and their indicators."""
    from passage.indicators import all_indicators

    out = [(n, title) for n, (title, _) in merged("published_tables").items()]
    for pack_name in available_packs():
        out += [(n, spec["title"]) for n, spec in load_pack(pack_name).exports.items()]
    out += [(n, ind.title) for n, ind in all_indicators(store).items()]
    if store is not None:
        for ds in _user_datasets(store):
            out += [(t, ds.title if t == ds.form else f"{ds.title}: {t[len(ds.form) + 2:]}") for t in ds.tables]
    return sorted(out)


def _user_datasets(store: Store) -> list[Any]:
    """Users' forms, those without a place field (no dataset: admins' exports only) included."""
    from passage.forms.datasets import user_datasets
    from passage.releases import pack_datasets

    return user_datasets(store, set(pack_datasets()), unplaced=True)


# SQL column types (DuckDB's and PostgreSQL's spellings) -> the one Arrow type an export gives them on every store.
# Whole numbers are int64 (a count is never a decimal), text is string even when every value is NULL.
_ARROW = [(("bigint", "integer", "int", "int8", "int4", "int2", "smallint", "tinyint", "hugeint", "ubigint",
            "uinteger"), pa.int64()),
          (("double", "double precision", "float", "float8", "float4", "real"), pa.float64()),
          (("date",), pa.date32()),
          (("timestamp with time zone", "timestamptz"), pa.timestamp("us", tz="UTC")),
          (("timestamp", "timestamp without time zone"), pa.timestamp("us")),
          (("boolean", "bool"), pa.bool_())]


def arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow type of a column of SQL type `sql_type` in an export (text for anything else)."""
    t = sql_type.strip().lower()
    return next((a for names, a in _ARROW if t in names), pa.string())


def column_types(store: Store, table: str) -> dict[str, pa.DataType]:
    """Column -> Arrow type of a store table, read from the catalogue (the same on DuckDB and PostgreSQL)."""
    rows = store.query("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = ? AND table_schema = current_schema()", [table])
    return {c: arrow_type(t) for c, t in rows}


def conform(data: pa.Table, types: dict[str, pa.DataType]) -> pa.Table:
    """`data` with each column of the type `types` gives it (others: NULL-only columns as text, whole-number
    decimals as int64).

    PostgreSQL's rows reach Arrow as Python values, so a column of NULLs has no type there and a sum is a
    `decimal128(p, 0)` of the data's own width; DuckDB says `decimal128(38, 0)` for the same sum. An export
    must not depend on the store: the same schema on both."""
    fields = []
    for f in data.schema:
        want = types.get(f.name)
        if want is None:
            whole = pa.types.is_decimal(f.type) and f.type.scale == 0  # a sum of whole numbers: a count
            want = pa.string() if pa.types.is_null(f.type) else pa.int64() if whole else f.type
        fields.append(pa.field(f.name, want))
    schema = pa.schema(fields)
    return data if schema.equals(data.schema) else data.cast(schema)


def sort_rows(data: pa.Table, keys: list[str]) -> pa.Table:
    """Rows by `keys` ascending, NULLs last, text by code point: the same order on every store (a server's
    collation may order text otherwise, and SQL leaves ties in any order)."""
    if not keys or data.num_rows < 2:
        return data
    return data.take(pc.sort_indices(data, sort_keys=[(k, "ascending") for k in keys]))  # NULLs at the end


def _pack_export(store: Store, pack_name: str, name: str, spec: dict, source: str | None) -> PublishedTable:
    """A form's records in the pack's layout, typed by the form's table and sorted by the export's `order`,
    then by record id (unique), in Arrow: byte for byte the same table on DuckDB and PostgreSQL."""
    layout = load_pack(pack_name).layouts[spec["layout"]]
    order = list(spec.get("order", []))
    keys = [f"__order{i}" for i in range(len(order))] + ["__record"]
    cols = ", ".join([f'"{fld}" AS "{col}"' for col, fld, _ in layout]
                     + [f'"{fld}" AS "{k}"' for fld, k in zip([*order, "_record_id"], keys)])
    rel = spec["form"] if source is None else f"({source}) AS src"
    types = column_types(store, spec["form"])
    data = store.arrow(f"SELECT {cols} FROM {rel}")
    data = conform(data, {col: types[fld] for col, fld, _ in layout if fld in types}
                   | {k: types[fld] for fld, k in zip([*order, "_record_id"], keys) if fld in types})
    data = sort_rows(data, keys).drop_columns(keys)
    return PublishedTable(name, spec["title"], data, hxl={col: tag for col, _, tag in layout if tag},
                          hxl_schema=spec.get("hxl_schema", []))


def get_table(store: Store, name: str, source: Any = None) -> PublishedTable:
    """`source`, when given, replaces the form's current records with what a reader may see: a callable
    taking the form id and returning an Ibis table (see `passage.access.readable`)."""
    derived = merged("published_tables").get(name)
    if derived:  # built by its pack from the SQL relation of each form it reads
        table = derived[1](store, lambda form: _sql(store, source(form)) if source else form)
        table.data = conform(table.data, {})
        return table
    for pack_name in available_packs():
        spec = load_pack(pack_name).exports.get(name)
        if spec:
            return _pack_export(store, pack_name, name, spec, _sql(store, source(spec["form"])) if source else None)
    from passage.indicators import all_indicators, compute

    ind = all_indicators(store).get(name)
    if ind:
        data = compute(store, name, table=source(ind.form) if source else None)
        return PublishedTable(name, ind.title, conform(data, {}))
    for ds in _user_datasets(store):
        if name in ds.tables:
            return _form_export(store, ds, name, source)
    raise NotFound(f"nothing published as {name!r} (see `passage export --list`)")


def _form_export(store: Store, ds: Any, name: str, source: Any) -> PublishedTable:
    """A user form's records (`name` = the form id) or one repeat's rows (`<form>__<repeat>`), columns named by
    the XLSForm's group paths as KoboToolbox exports them (`household/hh_size`), after `_record_id` (a repeat:
    and `_parent_record`, the record id of its parent row) and before the submission's metadata, its country
    and place; HXL tags from the XLSForm's `hxl` column. Sorted by record id: the same on every store.
    The XLSX of the records holds each repeat as a sheet of its own."""
    from passage.forms.registry import get_form, record_table, view_name

    form = get_form(store, ds.form)
    repeats = {f"{ds.form}__{form.repeat_xlsform_name(r)}": r for r in form.repeats}
    repeat = repeats.get(name)
    fields = form.top_fields() if repeat is None else form.repeat_fields(repeat)
    types = column_types(store, record_table(ds.form, repeat))
    meta = (["_uuid", "_submission_time", "_country", "_place_code"] if repeat is None else [])
    lead = ["_record_id"] + (["_parent_record"] if repeat is not None else [])
    cols = [(c, c) for c in lead] + [(f.name, f.path or f.xlsform_name) for f in fields if f.name in types]
    cols += [(c, c) for c in meta if c in types]
    if repeat is None:
        rel = view_name(ds.form) if source is None else f"({_sql(store, source(ds.form))}) AS src"
    else:
        rows = _readable_repeat(store, form, repeat, source)
        rel = view_name(ds.form, repeat) if rows is None else f"({_sql(store, rows)}) AS src"
    select = ", ".join(f'"{c}" AS "{label}"' for c, label in cols)
    data = store.arrow(f"SELECT {select} FROM {rel}")
    data = sort_rows(conform(data, {label: types[c] for c, label in cols}), ["_record_id"])
    tags = {(f.path or f.xlsform_name): f.hxl for f in fields if f.hxl and f.name in types}
    given = {t.split("+")[0].lower() for t in tags.values()}
    extra = {"_submission_time": "#date+submitted", "_country": "#country+code", "_place_code": "#loc+code"}
    tags |= {c: t for c, t in extra.items() if c in data.column_names and t.split("+")[0] not in given}
    title = ds.title if repeat is None else f"{ds.title}: {form.repeat_xlsform_name(repeat)}"
    table = PublishedTable(name, title, data, hxl=tags)
    if repeat is None:  # its repeats as sheets named after them, as KoboToolbox's XLSX export has them
        table.sheets = [dataclasses.replace(_form_export(store, ds, t, source), name=form.repeat_xlsform_name(r))
                        for t, r in repeats.items()]
    return table


def _readable_repeat(store: Store, form: Any, repeat: str, source: Any) -> Any:
    """The rows of a repeat whose parent rows the reader may read (None: every current row)."""
    if source is None:
        return None
    from passage.forms.registry import view_name

    paths = form.repeat_paths
    mine = paths.get(repeat, repeat)
    outer = [r for r in form.repeats if r != repeat and mine.startswith(paths.get(r, r) + "/")]
    parent = max(outer, key=lambda r: len(paths.get(r, r))) if outer else None
    parents = source(form.form_id) if parent is None else _readable_repeat(store, form, parent, source)
    t = store.ibis().table(view_name(form.form_id, repeat))
    return t.filter(t._parent_record.isin(parents.select("_record_id")._record_id))


def _sql(store: Store, table: Any) -> str:
    import ibis

    from passage.access import inline

    # The store's own SQL: DuckDB's, or PostgreSQL's (a Spark snapshot reads DuckDB's: engines/spark.py). Run on
    # the store's connection, which does not see the Ibis connection's views of `readable()`: inlined.
    return str(ibis.to_sql(inline(table), dialect="postgres" if store.dialect == "postgres" else "duckdb"))


def readable_names(store: Store, principal: Any) -> list[tuple[str, str]]:
    """(name, title) of the tables `principal` may download: those of the datasets they may read."""
    from passage.access import allowed
    from passage.releases import list_datasets

    mine = {t for d in list_datasets(store) if allowed(principal, "read-dataset", d) for t in [*d.tables, *d.indicators]}
    return [(n, t) for n, t in list_tables(store) if n in mine]


def readable_table(store: Store, name: str, principal: Any, *, country: str | None = None,
                   where: Any = None) -> PublishedTable:
    """A published table as `principal` may read it, over `passage.access.readable` (admins: every current
    record, and every table); `country` (see `download_country`) narrows it, and so does `where` (a function
    of the readable Ibis table of the table's dataset: a records page's filters, `passage.explore.where`)."""
    from passage import query
    from passage.releases import list_datasets

    if not principal.is_admin and name not in {n for n, _ in readable_names(store, principal)}:
        raise NotFound(f"nothing published as {name!r}")
    country = download_country(store, name, principal, country)
    if principal.is_admin and country is None and where is None:
        return get_table(store, name)
    by_form = {d.form: d for d in list_datasets(store)}
    f = query.RecordFilter(country=country)

    def source(form_id: str) -> Any:
        if form_id not in by_form:  # admins only: a form no dataset presents
            return store.ibis().table(form_id)
        t = query.filtered(store, principal, by_form[form_id], f)
        return where(t) if where is not None else t

    return get_table(store, name, source=source)


def download_country(store: Store, name: str, principal: Any, country: str | None) -> str | None:
    """`country` for a download of `name`: an ISO3 code of a country in the place table, or one this reader
    sees in the table's dataset (trackers' own codes such as RKS); anything else is a usage error."""
    import re

    from passage import query
    from passage.errors import UsageError
    from passage.releases import readable_datasets

    if country is None:
        return None
    code = country.upper()
    if re.fullmatch(r"[A-Z]{3}", code):
        if store.scalar("SELECT count(*) FROM places WHERE code = ? AND level = 0", [code]):
            return code
        if any(code == c["code"] for d in readable_datasets(store, principal) if name in (*d.tables, *d.indicators)
               and store.table_exists(d.form) for c in query.countries(store, principal, d)):
            return code
    raise UsageError("country must be the ISO 3166 alpha-3 code of a known country (e.g. NGA)",
                     code="usage.country")
