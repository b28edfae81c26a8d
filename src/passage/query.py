"""Reader queries behind the portal and the API: records, indicators, a country's map and series.

Every function starts from `passage.access.readable`, so what a caller sees follows their role.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from passage.access import readable, readable_page
from passage.errors import UsageError
from passage.indicators import expression, get_indicator
from passage.measures import Measure
from passage.releases import Dataset
from passage.store import Store

MAX_PAGE = 1000
Slices = Callable[[str, str], 'pa.Table | None']  # (indicator, country) -> its slices there, when at hand


@dataclass
class RecordFilter:
    country: str | None = None
    place: str | None = None  # a P-code: the place and everything inside it
    level: int | None = None
    round: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def _field(ds: Dataset, name: str) -> str | None:
    return ds.metadata.get("fields", {}).get(name)


def filtered(store: Store, principal: Any, ds: Dataset, f: RecordFilter) -> ibis.Table:
    return narrow(readable(store, principal, ds), ds, f)


def narrow(t: ibis.Table, ds: Dataset, f: RecordFilter, ranges: bool = False) -> ibis.Table:
    """`t` (the dataset's records, e.g. `readable`) narrowed by the filter. `ranges` writes country and level
    as ranges of one value (see `list_records`)."""
    same = (lambda c, v: c.between(v, v)) if ranges else (lambda c, v: c == v)
    pairs = [("country", f.country, same), ("level", f.level, same),
             ("round", f.round, lambda c, v: c == v), ("date", f.date_from, lambda c, v: c >= v),
             ("date", f.date_to, lambda c, v: c <= v)]
    for name, value, op in pairs:
        if value is None:
            continue
        col = _field(ds, name)
        if col is None:
            raise UsageError(f"dataset {ds.name!r} cannot be filtered by {name}", code="usage.filter")
        t = t.filter(op(t[col], value))
    if f.place:
        t = t.filter(t._place_code.startswith(f.place))
    return t


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        value = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    if not value:  # strict: stray characters are not silently dropped into "start from the top"
        raise UsageError("bad cursor: pass back the next_cursor of a previous page", code="usage.cursor")
    return value


def list_records(store: Store, principal: Any, ds: Dataset, f: RecordFilter, *, cursor: str | None = None,
                 limit: int = 100, columns: list[str] | None = None) -> tuple[pa.Table, str | None]:
    """One page of records ordered by record id, and the cursor of the next page (None at the end)."""
    if not 1 <= limit <= MAX_PAGE:
        raise UsageError(f"limit must be between 1 and {MAX_PAGE}", code="usage.limit")
    after = decode_cursor(cursor) if cursor else None

    # PostgreSQL, told `country = X AND level = L`, drops both from the order and walks the record-id index,
    # which it believes evenly spread over countries: millions of rows read for a large country's first page.
    # As ranges of one value they stay in the order, which only the (country, level, record id) index gives
    # (`passage.releases.index_datasets`): the same rows in the same order, a hundred rows read.
    fixed = store.dialect == "postgres" and f.country is not None and f.level is not None
    order = [_field(ds, "country"), _field(ds, "level"), "_record_id"] if fixed else ["_record_id"]

    def where(t: ibis.Table) -> ibis.Table:
        t = narrow(t, ds, f, ranges=fixed)
        return t.filter(t._record_id > after) if after is not None else t

    page = readable_page(store, principal, ds, where, limit + 1, order)  # a top-N, every column for the page only
    if columns:
        page = page.select(columns)
    more = page.num_rows > limit
    page = page.slice(0, limit)
    return page, (encode_cursor(page.column("_record_id")[-1].as_py()) if more else None)


def indicator_rows(store: Store, principal: Any, ds: Dataset, name: str, f: RecordFilter,
                   group: list[str] | None = None, slices: Slices | None = None) -> pa.Table:
    """An indicator over what the caller may read; `group` rolls it up to some of its keys. `slices(name,
    country)` gives the indicator's `indicator_slices` (at least that country's rows) for this reader when they
    are at hand (else None): a filter by one country and level is then answered from them."""
    ind = get_indicator(name, store)
    if ind.form != ds.form:
        raise UsageError(f"indicator {name!r} is not about dataset {ds.name!r}")
    if slices is not None and not group and one_slice(ds, f) and sliced(ind, ds) is not None:
        table = slices(name, f.country)
        if table is not None:
            return slice_of(table, ind, ds, f)
    expr = expression(store, ind, table=filtered(store, principal, ds, f))
    if group:
        bad = [g for g in group if g not in expr.columns]
        if bad:
            raise UsageError(f"cannot group {name!r} by {', '.join(bad)} (its columns: {', '.join(expr.columns)})",
                             code="usage.group")
        expr = expr.group_by(group).aggregate(**{v: expr[v].sum() for v in ind.value_columns}).order_by(group)
    return expr.to_pyarrow()


# ---- an indicator for every country and level at once ---------------------------------------------------------
# A map's indicator keeps each place's latest round: for the largest country at admin 2 (half of 10 M records)
# the grouping and the window take about a second however the query is written. Computed once per data
# generation for every country and level (as DHIS2 builds its analytics tables after an import), a country's
# map is a filter of a small table. The country and level fields join the indicator's keys, its `latest` and
# `change` partitions and its rollup, so each slice is exactly what the indicator gives over that country and
# level alone.

def sliced(ind: Measure, ds: Dataset) -> Measure | None:
    """The indicator computed per country and level (None: a derived indicator, or a dataset without both)."""
    extra = [c for c in (_field(ds, "country"), _field(ds, "level")) if c]
    if ind.derived is not None or len(extra) < 2:
        return None

    def add(keys: list[str]) -> list[str]:
        return [*keys, *(c for c in extra if c not in keys)]

    update: dict[str, Any] = {"by": [*ind.by, *(c for c in extra if c not in ind.keys)]}
    for part in ("latest", "change"):
        if getattr(ind, part) is not None:
            update[part] = getattr(ind, part).model_copy(update={"per": add(getattr(ind, part).per)})
    if ind.rollup is not None:
        update["rollup"] = add(ind.rollup)
    return ind.model_copy(update=update)


def one_slice(ds: Dataset, f: RecordFilter) -> bool:
    """The filter names one country and one level and nothing else."""
    return f.country is not None and f.level is not None and \
        (f.place, f.round, f.date_from, f.date_to) == (None, None, None, None) and \
        None not in (_field(ds, "country"), _field(ds, "level"))


def indicator_slices(store: Store, principal: Any, ds: Dataset, name: str,
                     countries: list[str] | None = None) -> pa.Table:
    """The indicator over everything the reader may read, per country and level (see `sliced`); `countries`:
    over these countries' records alone (each country's rows are the same either way)."""
    ind = sliced(get_indicator(name, store), ds)
    if ind is None:
        raise UsageError(f"indicator {name!r} cannot be computed per country and level", code="usage.indicator")
    t = readable(store, principal, ds)
    if countries is not None:
        t = t.filter(t[_field(ds, "country")].isin(countries))
    return expression(store, ind, table=t).to_pyarrow()


def slices_versions(store: Store, principal: Any, ds: Dataset) -> dict[str, tuple]:
    """Per country the reader may read records of, what its rows of the slices depend on: the country's release
    time (for readers of releases) and its versions in the record table, which every import, edit, deletion
    and rollback adds to (a record moved to another country leaves one current version fewer). Equal versions
    give equal rows, so a change elsewhere (another form, another country) need not compute them again."""
    from passage.forms.registry import record_table
    from passage.releases import release_cutoffs

    table, col = record_table(ds.form), _field(ds, "country")
    if not store.table_exists(table):
        return {}
    marks = store.query(f'SELECT "{col}", count(*), sum(CASE WHEN _current THEN 1 ELSE 0 END), max(_created_at) '
                        f'FROM "{table}" GROUP BY 1')
    if principal.is_admin:
        return {c: (ds.visibility, None, *m) for c, *m in marks if c is not None}
    cutoffs = release_cutoffs(store, ds.name)  # a country never released shows nothing to its readers
    return {c: (ds.visibility, cutoffs[c], *m) for c, *m in marks if c in cutoffs}


def slice_of(slices: pa.Table, ind: Measure, ds: Dataset, f: RecordFilter) -> pa.Table:
    """One country and level of `indicator_slices`: the rows, columns and order the indicator gives over them."""
    country, level = _field(ds, "country"), _field(ds, "level")
    rows = slices.filter(pc.and_(pc.equal(slices[country], f.country), pc.equal(slices[level], f.level)))
    keep = ind.rollup if ind.rollup is not None else ind.keys
    return rows.drop_columns([c for c in (country, level) if c not in keep])


def country_map(store: Store, principal: Any, ds: Dataset, iso3: str, level: int,
                indicator: str | None = None, slices: Slices | None = None) -> dict[str, Any]:
    """Values per place at one admin level, for the country page's map and table."""
    spec = ds.metadata.get("map", {})
    if not (indicator or spec.get("indicator")):
        raise UsageError(f"dataset {ds.name!r} has no country map (give indicator=)", code="usage.dataset")
    name = indicator or spec["indicator"]
    ind = get_indicator(name, store)
    # One query: the indicator's rows carry both the values per place and the period (half the cold cost).
    latest = indicator_rows(store, principal, ds, name, RecordFilter(country=iso3, level=level), slices=slices)
    if "_place_code" not in latest.column_names:
        raise UsageError(f"cannot group {name!r} by _place_code (its columns: {', '.join(latest.column_names)})",
                         code="usage.group")
    names = dict(store.query("SELECT code, name FROM places WHERE country_code = ? AND level = ?", [iso3, level]))
    value_col = ind.value_columns[0]
    rows = latest.group_by("_place_code").aggregate([(value_col, "sum")]).sort_by("_place_code")
    values = [{"code": c, "name": names.get(c, c), "value": v}
              for c, v in zip(rows.column("_place_code").to_pylist(), rows.column(f"{value_col}_sum").to_pylist())]
    period = {}
    date_col = _field(ds, "date")
    ds_dates = [d for d in latest.column(date_col).to_pylist() if d is not None] \
        if date_col and date_col in latest.column_names else []
    if ds_dates:
        period = {"from": str(min(ds_dates))[:10], "to": str(max(ds_dates))[:10]}
    return {"indicator": name, "title": ind.title, "unit": ind.unit, "country": iso3, "level": level,
            "period": period, "values": sorted(values, key=lambda v: -(v["value"] or 0))}


def country_series(store: Store, principal: Any, ds: Dataset, iso3: str) -> list[dict[str, Any]]:
    """The indicator over rounds, one line per `split` value (for the chart). With `over` (a date key of an
    indicator with `latest`), the indicator as it stood at each date: the chart ends on today's figure."""
    spec = ds.metadata.get("series", {})
    if not spec.get("indicator"):
        raise UsageError(f"dataset {ds.name!r} has no series by round", code="usage.dataset")
    ind = get_indicator(spec["indicator"], store)
    if spec.get("over"):
        table = filtered(store, principal, ds, RecordFilter(country=iso3, level=spec.get("level")))
        rows = expression(store, ind, table=table, as_of=spec["over"]).to_pyarrow().to_pylist()
        return [{"date": str(r[spec["over"]])[:10], "round": None, "series": "", "value": r[ind.value_columns[0]]}
                for r in rows]
    date_col, round_col, split = _field(ds, "date"), _field(ds, "round"), spec.get("split")
    group = [c for c in (date_col, round_col, split) if c]
    rows = indicator_rows(store, principal, ds, spec["indicator"],
                          RecordFilter(country=iso3, level=spec.get("level")), group=group)
    out = []
    for r in rows.to_pylist():
        out.append({"date": str(r[date_col])[:10], "round": r.get(round_col), "series": r.get(split) or "",
                    "value": r[ind.value_columns[0]]})
    return out


def countries(store: Store, principal: Any, ds: Dataset) -> list[dict[str, Any]]:
    """Countries with records this reader may see, with counts."""
    col, name_col = _field(ds, "country"), _field(ds, "country_name")
    t = readable(store, principal, ds)
    agg = t.group_by(col).aggregate(records=t.count(), name=t[name_col].max() if name_col else ibis.literal(""),
                                    last=t[_field(ds, "date")].max()).order_by(col)
    return [{"code": r[col], "name": r["name"], "records": r["records"], "last": r["last"]}
            for r in agg.to_pyarrow().to_pylist()]


def source_files(store: Store, principal: Any, ds: Dataset, f: RecordFilter) -> list[dict[str, Any]]:
    """The files (and imports) the filtered records came from: every number traces back to them."""
    t = filtered(store, principal, ds, f)
    per_file = t.group_by(["_source_sha256", "_import_id"]).aggregate(records=t.count()).to_pyarrow().to_pylist()
    shas = sorted({r["_source_sha256"] for r in per_file if r["_source_sha256"]})
    names = {}
    if shas:
        names = {r[0]: r[1:] for r in store.query(
            f"SELECT sha256, name, size, first_seen FROM files WHERE sha256 IN ({', '.join('?' for _ in shas)})", shas)}
    out = []
    for r in per_file:
        name, size, seen = names.get(r["_source_sha256"], (None, None, None))
        out.append({"sha256": r["_source_sha256"], "file": name, "size": size, "first_seen": seen,
                    "import_id": r["_import_id"], "records": r["records"]})
    return sorted(out, key=lambda r: (r["import_id"] is None, r["import_id"] or 0, r["file"] or ""))


def dataset_facts(store: Store, principal: Any, ds: Dataset) -> dict[str, Any]:
    """HDX's computed fields over what this reader sees: dataset date (range), locations, record count."""
    if not store.table_exists(ds.form):
        return {"dataset_date": None, "locations": [], "records": 0}
    t = readable(store, principal, ds)
    date_col, country = ds.metadata["fields"]["date"], ds.metadata["fields"]["country"]
    agg = t.aggregate(n=t.count(), first=t[date_col].min(), last=t[date_col].max()).to_pyarrow().to_pylist()[0]
    locs = sorted(v for v in t.select(country).distinct().to_pyarrow().column(0).to_pylist() if v)
    return {"dataset_date": {"from": agg["first"], "to": agg["last"]} if agg["n"] else None,
            "locations": locs, "records": agg["n"]}
