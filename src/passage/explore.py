"""Explore a dataset's records as a reader may see them: labelled columns, filters, facets, sorting, counts.

Everything starts from `passage.access.readable` (through `query.filtered`), so every count, facet and page
is over the rows this reader may see, and nothing else. A view is the state of a records page, and lives in
the URL's query string, Datasette-style, so a view can be shared and downloaded as it is:

    district=Konduga              a column equals a value (also `col__exact=`)
    households__gte=100           ranges on numbers and dates: __gte, __lte; __ne, __contains, __isnull=1
    _sort=visit_date              sorting (`_sort_desc=` for descending), then by record id
    _facet=district               a facet: the column's top values with counts (repeatable)
    _col=district                 the columns shown, in order (repeatable; default: every field)
    _page=2 _size=50              a page of rows
    country= place= level= round= date_from= date_to=   the dataset's own filters (`query.RecordFilter`)

    from passage import explore
    view = explore.parse_view(store, ds, [("households__gte", "100"), ("_facet", "district")], principal)
    result = explore.run(store, principal, ds, view)
    result.total, result.facets[0].values[:3], result.rows[:2]

Each filter comes back with a plain-language description of itself (`Filter.describe`), which the page and
the XLSX metadata sheet show. Bad input (an unknown column, a number that is not one) is a `UsageError`
with code `usage.filter`, `usage.sort`, `usage.facet`, `usage.column` or `usage.page`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import ibis

from passage.errors import UsageError
from passage.query import RecordFilter, filtered
from passage.releases import Dataset
from passage.store import Store

# The dataset's own filters (`query.RecordFilter`), as the records page and the API have always named them.
RECORD_FILTERS = ("country", "place", "level", "round", "date_from", "date_to")
OPS = {"exact": "=", "ne": "≠", "gte": "≥", "lte": "≤", "contains": "∋", "isnull": "∅"}
RANGE_OPS = ("gte", "lte")
MAX_SIZE = 500
DEFAULT_SIZE = 50
FACET_SIZE = 10
MAX_FACETS = 6

# System columns a reader may show, sort and filter on (others see also who imported, from which row).
PUBLIC_SYSTEM = ("_place_code", "_record_id", "_version", "_created_at")
EDITOR_SYSTEM = PUBLIC_SYSTEM + ("_import_id", "_source_row", "_source_sheet", "_user", "_warnings")
SYSTEM_LABELS = {"_place_code": "Place", "_record_id": "Record id", "_version": "Version",
                 "_created_at": "Recorded at", "_import_id": "Import", "_source_row": "File row",
                 "_source_sheet": "File sheet", "_user": "User", "_warnings": "Warnings"}
SYSTEM_KINDS = {"_version": "number", "_import_id": "number", "_source_row": "number", "_created_at": "datetime"}
_KINDS = {"integer": "number", "decimal": "number", "range": "number", "date": "date", "dateTime": "datetime",
          "start": "datetime", "end": "datetime", "today": "date"}
_LANGUAGE_NAMES = {"english": "en", "french": "fr", "français": "fr", "francais": "fr", "spanish": "es",
                   "español": "es", "espanol": "es", "portuguese": "pt", "arabic": "ar"}


@dataclass(frozen=True)
class Column:
    """A column a reader may show: its storage name, its label in the reader's language, its kind (number,
    date, datetime, text), its HXL tag, and whether it is a system column (hidden unless chosen)."""

    name: str
    label: str
    kind: str = "text"
    hxl: str | None = None
    system: bool = False


def language_of(key: str) -> str:
    """The language code of an XLSForm translation name: `French (fr)` → fr, `Español` → es."""
    m = re.search(r"\(([A-Za-z]{2,3})(?:[-_][A-Za-z]+)?\)\s*$", key)
    if m:
        return m.group(1).lower()
    return _LANGUAGE_NAMES.get(key.strip().lower(), key.strip().lower())


def field_label(f: Any, lang: str) -> str:
    """A field's label in `lang` when the XLSForm has one (`label::French (fr)`), else in English, else the
    form's default label, else its name as the XLSForm writes it."""
    labels = getattr(f, "labels", None) or {}
    for wanted in (lang, "en"):
        for key, text in labels.items():
            if text and language_of(key) == wanted:
                return text
    return f.label or f.xlsform_name


def _kind(f: Any) -> str:
    """number, year (a whole number shown without thousands separators), date, datetime or text."""
    kind = _KINDS.get(f.type, "text")
    if kind == "number" and f.type == "integer" and (re.search(r"(^|_)year($|_)", f.name) or
                                                     (f.hxl or "").lower().startswith("#date+year")):
        return "year"
    return kind


def columns(store: Store, ds: Dataset, lang: str = "en", *, principal: Any = None) -> list[Column]:
    """The dataset's columns a reader may see: the form's fields (labelled in `lang`), then system columns
    (`PUBLIC_SYSTEM`; editors and admins also `EDITOR_SYSTEM`)."""
    from passage.forms import get_form

    form = get_form(store, ds.form)
    out = [Column(f.name, field_label(f, lang), _kind(f), f.hxl) for f in form.top_fields()]
    names = {c.name for c in out}
    system = EDITOR_SYSTEM if principal is None or principal.is_admin or principal.role == "editor" else PUBLIC_SYSTEM
    out += [Column(c, SYSTEM_LABELS[c], SYSTEM_KINDS.get(c, "text"), "#loc+code" if c == "_place_code" else None,
                   system=True) for c in system if c not in names]
    return out


# ---- the view ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filter:
    column: str
    op: str  # one of OPS
    value: str

    @property
    def param(self) -> str:
        return self.column if self.op == "exact" else f"{self.column}__{self.op}"

    def describe(self, labels: dict[str, str] | None = None) -> str:
        """In plain words: `Admin 1 name = Borno`, `Households ≥ 1000`, `Round is empty`."""
        label = (labels or {}).get(self.column, self.column)
        if self.op == "isnull":
            return f"{label} is empty"
        return f"{label} {OPS[self.op]} {self.value}"


@dataclass(frozen=True)
class View:
    """The state of a records page. `record` holds the dataset's own filters, `filters` the column ones."""

    record: tuple[tuple[str, str], ...] = ()
    filters: tuple[Filter, ...] = ()
    sort: str | None = None
    desc: bool = False
    facets: tuple[str, ...] = ()
    facets_given: bool = False  # the URL named facets (maybe none): the dataset's defaults are not added
    shown: tuple[str, ...] = ()  # chosen columns; () = the default ones
    page: int = 1
    size: int = DEFAULT_SIZE

    # -- as a query string
    def filter_params(self) -> list[tuple[str, str]]:
        """The filters alone: what a download of this view carries."""
        return [*self.record, *((f.param, f.value) for f in self.filters)]

    def params(self) -> list[tuple[str, str]]:
        out = self.filter_params()
        if self.sort:
            out.append(("_sort_desc" if self.desc else "_sort", self.sort))
        out += [("_facet", c) for c in self.facets]
        if self.facets_given and not self.facets:
            out.append(("_facet", ""))
        out += [("_col", c) for c in self.shown]
        if self.size != DEFAULT_SIZE:
            out.append(("_size", str(self.size)))
        if self.page != 1:
            out.append(("_page", str(self.page)))
        return out

    def query(self, **changes: Any) -> str:
        """`?…` for this view with some fields changed (the page goes back to 1 unless given)."""
        changes.setdefault("page", 1)
        return "?" + urlencode(replace(self, **changes).params())

    def key(self) -> str:
        """A cache key for what the view selects (filters only: sort, columns and pages select no rows)."""
        return urlencode(sorted(self.filter_params()))

    # -- small edits, for links
    def adding(self, column: str, op: str, value: Any) -> str:
        f = Filter(column, op, "1" if op == "isnull" else str(value))
        kept = tuple(x for x in self.filters if (x.column, x.op) != (column, op))
        return self.query(filters=(*kept, f))

    def removing(self, index: int) -> str:
        return self.query(filters=tuple(f for i, f in enumerate(self.filters) if i != index))

    def removing_record(self, name: str) -> str:
        return self.query(record=tuple((k, v) for k, v in self.record if k != name))

    def sorting(self, column: str) -> str:
        desc = self.sort == column and not self.desc
        return self.query(sort=column, desc=desc)

    def with_facet(self, column: str) -> str:
        return self.query(facets=(*[c for c in self.facets if c != column], column), facets_given=True)

    def without_facet(self, column: str) -> str:
        return self.query(facets=tuple(c for c in self.facets if c != column), facets_given=True)

    def paged(self, page: int) -> str:
        return self.query(page=page)

    def record_filter(self) -> RecordFilter:
        values = dict(self.record)

        def num(name: str) -> int | None:
            return _int(name, values[name], 0, code="usage.filter") if values.get(name) else None

        def day(name: str) -> date | None:
            return _typed(name, "date", values[name]) if values.get(name) else None

        return RecordFilter(country=values.get("country") or None, place=values.get("place") or None,
                            level=num("level"), round=num("round"), date_from=day("date_from"),
                            date_to=day("date_to"))


def _int(name: str, value: str, low: int = 1, high: int | None = None, code: str = "usage.page") -> int:
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {value[:20]!r}", code=code) from None
    if n < low or (high is not None and n > high):
        raise UsageError(f"{name} must be between {low} and {high or '…'}", code=code)
    return n


def parse_view(store: Store, ds: Dataset, params: Iterable[tuple[str, str]], principal: Any = None,
               *, lang: str = "en") -> View:
    """A view from a query string's pairs (see the module's docstring), checked against the columns this
    reader may see; unknown parameters of other kinds (`bom`, `format`, `cursor`) are left alone."""
    cols = {c.name: c for c in columns(store, ds, lang, principal=principal)}
    record, filters, facets, shown = [], [], [], []
    sort, desc, page, size, facets_given = None, False, 1, DEFAULT_SIZE, False
    for key, value in params:
        if key in RECORD_FILTERS:
            if value != "":
                record.append((key, value))
        elif key in ("_sort", "_sort_desc"):
            if value:
                if value not in cols:
                    raise UsageError(f"cannot sort by {value[:60]!r}: no such column", code="usage.sort")
                sort, desc = value, key == "_sort_desc"
        elif key == "_facet":
            facets_given = True
            if value:
                if value not in cols:
                    raise UsageError(f"cannot facet by {value[:60]!r}: no such column", code="usage.facet")
                if value not in facets:
                    facets.append(value)
        elif key == "_col":
            if value not in cols:
                raise UsageError(f"no column {value[:60]!r} to show", code="usage.column")
            if value not in shown:
                shown.append(value)
        elif key == "_page":
            page = _int("_page", value, 1, 100_000)
        elif key == "_size":
            size = _int("_size", value, 1, MAX_SIZE)
        elif not key.startswith("_") and (key in cols or key.rsplit("__", 1)[0] in cols):
            name, op = (key.rsplit("__", 1) if "__" in key and key.rsplit("__", 1)[1] in OPS
                        and key.rsplit("__", 1)[0] in cols else (key, "exact"))
            if name not in cols:
                raise UsageError(f"no column {name[:60]!r} to filter on", code="usage.filter")
            if op in RANGE_OPS and cols[name].kind == "text":
                raise UsageError(f"{cols[name].label} is text: filter it with = or contains",
                                 code="usage.filter")
            if op != "isnull":
                _typed(name, cols[name].kind if op != "contains" else "text", value)  # checked now
            filters.append(Filter(name, op, value))
    if len(facets) > MAX_FACETS:
        raise UsageError(f"at most {MAX_FACETS} facets at once", code="usage.facet")
    if not facets_given:
        facets = [c for c in default_facets(ds) if c in cols]
    view = View(record=tuple(record), filters=tuple(filters), sort=sort, desc=desc, facets=tuple(facets),
                facets_given=facets_given, shown=tuple(shown), page=page, size=size)
    view.record_filter()  # its own checks (a level that is not a number …)
    return view


def fold_added(params: Iterable[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """A filter form's submission (`_add_column`, `_add_op`, `_add_value`) folded into one filter parameter
    (`col__gte=5`) beside the view's others, for a redirect to the canonical URL; None when there is none."""
    params = list(params)
    added = {k: v for k, v in params if k.startswith("_add_")}
    if not added:
        return None
    kept = [(k, v) for k, v in params if not k.startswith("_add_")]
    column, op, value = added.get("_add_column"), added.get("_add_op") or "exact", added.get("_add_value", "")
    if op not in OPS:
        raise UsageError(f"unknown filter operator {op[:20]!r} (have: {', '.join(OPS)})", code="usage.filter")
    if column and (value or op == "isnull"):
        kept.append((column if op == "exact" else f"{column}__{op}", value or "1"))
    return kept


def default_facets(ds: Dataset) -> list[str]:
    """The facets a records page opens with: the dataset's country and round fields."""
    fields = ds.metadata.get("fields", {})
    return [c for c in (fields.get("country"), fields.get("round")) if isinstance(c, str)]


def _typed(name: str, kind: str, value: str) -> Any:
    try:
        if kind in ("number", "year"):
            return int(value) if re.fullmatch(r"-?\d+", value.strip()) else float(value)
        if kind == "date":
            return date.fromisoformat(value.strip()[:10])
        if kind == "datetime":
            return datetime.fromisoformat(value.strip())
    except ValueError:
        what = {"number": "a number", "year": "a year", "date": "a day as YYYY-MM-DD", "datetime": "a date and time (ISO 8601)"}[kind]
        raise UsageError(f"{name} must be {what}, not {value[:30]!r}", code="usage.filter") from None
    return value


def apply(t: ibis.Table, view: View, cols: dict[str, Column]) -> ibis.Table:
    """`t` narrowed by the view's column filters (parameterised by Ibis: values are never SQL text)."""
    for f in view.filters:
        c = t[f.column]
        kind = cols[f.column].kind if f.column in cols else "text"
        if f.op == "isnull":
            t = t.filter(c.isnull() if f.value not in ("0", "false") else c.notnull())
            continue
        if f.op == "contains":
            t = t.filter(c.cast("string").lower().contains(f.value.lower()))
            continue
        v = _typed(f.column, kind, f.value)
        if kind == "text" and c.type().is_numeric():  # a text-like column stored as a number
            v = _typed(f.column, "number", f.value)
        if f.op == "exact":
            t = t.filter(c == v)
        elif f.op == "ne":
            t = t.filter((c != v) | c.isnull())
        elif f.op == "gte":
            t = t.filter(c >= v)
        else:
            t = t.filter(c <= v)
    return t


def selected(store: Store, principal: Any, ds: Dataset, view: View) -> ibis.Table:
    """The rows of the view this reader may see (before sorting and paging)."""
    cols = {c.name: c for c in columns(store, ds, principal=principal)}
    return apply(filtered(store, principal, ds, view.record_filter()), view, cols)


def where(store: Store, principal: Any, ds: Dataset, view: View) -> Any:
    """The view's column filters as a function of a readable table (for `publish.tables.readable_table`)."""
    cols = {c.name: c for c in columns(store, ds, principal=principal)}

    def narrow(t: ibis.Table) -> ibis.Table:
        missing = sorted({f.column for f in view.filters} - set(t.columns))
        if missing:
            raise UsageError(f"this table has no column {', '.join(missing)} to filter on", code="usage.filter")
        return apply(t, view, cols)
    return narrow


# ---- running a view -------------------------------------------------------------------------------------

@dataclass
class FacetValue:
    value: Any
    count: int
    selected: bool


@dataclass
class Facet:
    column: str
    label: str
    values: list[FacetValue]
    distinct: int  # how many different values the column has in the view (the list shows the top ones)


@dataclass
class Result:
    total: int
    rows: list[dict[str, Any]]
    facets: list[Facet]
    columns: list[Column]  # all a reader may choose from
    shown: list[Column]  # the ones the table shows, in order
    view: View
    place_names: dict[str, str] = field(default_factory=dict)
    descriptions: list[str] = field(default_factory=list)  # each filter in words

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.view.size))


def facet(t: ibis.Table, column: Column, view: View, limit: int = FACET_SIZE) -> Facet:
    """A column's most frequent values in `t`, most frequent first (then by value), with counts."""
    counts = t.group_by(column.name).aggregate(n=t.count())
    top = counts.order_by([ibis.desc("n"), ibis.asc(column.name)]).limit(limit).to_pyarrow().to_pylist()
    distinct = counts.count().to_pyarrow().as_py()
    chosen = {f.value for f in view.filters if f.column == column.name and f.op == "exact"}
    empty = any(f.column == column.name and f.op == "isnull" for f in view.filters)
    return Facet(column.name, column.label,
                 [FacetValue(r[column.name], r["n"], (r[column.name] is None and empty)
                             or (r[column.name] is not None and _text(r[column.name]) in chosen)) for r in top],
                 distinct)


def _text(v: Any) -> str:
    return v.isoformat() if isinstance(v, (date, datetime)) else str(v)


def run(store: Store, principal: Any, ds: Dataset, view: View, *, lang: str = "en",
        default_shown: Iterable[str] | None = None) -> Result:
    """The view's total row count, one page of rows (the shown columns, record id and place), its facets,
    and the names of the page's places: all over the rows `principal` may read."""
    cols = columns(store, ds, lang, principal=principal)
    by_name = {c.name: c for c in cols}
    t = apply(filtered(store, principal, ds, view.record_filter()), view, by_name)
    total = t.count().to_pyarrow().as_py()
    default_shown = default_shown or ds.metadata.get("columns") or [c.name for c in cols if not c.system]
    shown_names = list(view.shown) or [n for n in default_shown if n in by_name]
    shown = [by_name[n] for n in shown_names]
    keep = list(dict.fromkeys([*shown_names, "_record_id", "_place_code"]))
    order = []
    if view.sort:
        order.append(ibis.desc(view.sort, nulls_first=False) if view.desc else ibis.asc(view.sort, nulls_first=False))
    order.append(ibis.asc("_record_id"))
    page = t.select(keep).order_by(order).limit(view.size, offset=(view.page - 1) * view.size)
    rows = page.to_pyarrow().to_pylist()
    facets = [facet(t, by_name[c], view) for c in view.facets if c in by_name]
    codes = sorted({r["_place_code"] for r in rows if r.get("_place_code")})
    names = place_names(store, codes)
    labels = {c.name: c.label for c in cols}
    return Result(total, rows, facets, cols, shown, view, names, [f.describe(labels) for f in view.filters])


def place_names(store: Store, codes: list[str]) -> dict[str, str]:
    if not codes:
        return {}
    return dict(store.query(f"SELECT code, name FROM places WHERE code IN ({', '.join('?' for _ in codes)})", codes))


def describe(view: View, labels: dict[str, str] | None = None) -> str:
    """The view's filters in words, joined; "all rows" when there are none."""
    parts = [f"{k} = {v}" for k, v in view.record] + [f.describe(labels) for f in view.filters]
    return "; ".join(parts) or "all rows"


# ---- a dataset's page ---------------------------------------------------------------------------------------

def coverage(store: Store, principal: Any, ds: Dataset) -> list[dict[str, Any]]:
    """Per country this reader sees: its name, record count, rounds (each with its count) and when its
    records last changed. Datasets without a round field list no rounds."""
    fields = ds.metadata.get("fields", {})
    country, round_col = fields.get("country"), fields.get("round")
    if not country or not store.table_exists(ds.form):
        return []
    t = filtered(store, principal, ds, RecordFilter())
    keys = [country] + ([round_col] if round_col else [])
    agg = t.group_by(keys).aggregate(n=t.count(), last=t._created_at.max()).to_pyarrow().to_pylist()
    out: dict[str, dict[str, Any]] = {}
    for r in agg:
        code = r[country] or ""
        c = out.setdefault(code, {"code": code, "records": 0, "rounds": [], "last": None})
        c["records"] += r["n"]
        c["last"] = max(x for x in (c["last"], r["last"]) if x is not None) if r["last"] else c["last"]
        if round_col:
            c["rounds"].append({"round": r[round_col], "records": r["n"]})
    names = place_names(store, [c for c in out if c])
    for c in out.values():
        c["name"] = names.get(c["code"], c["code"])
        c["rounds"].sort(key=lambda x: (x["round"] is None, x["round"] or 0))
    return sorted(out.values(), key=lambda c: c["code"])


def last_updated(store: Store, principal: Any, ds: Dataset) -> datetime | None:
    """When the newest version this reader sees was made (imports and edits alike)."""
    if not store.table_exists(ds.form):
        return None
    t = filtered(store, principal, ds, RecordFilter())
    return t._created_at.max().to_pyarrow().as_py()


# ---- an export's metadata sheet -----------------------------------------------------------------------------

def metadata_rows(ds: Dataset, table: Any, view: View | None, *, generated_at: datetime,
                  labels: dict[str, str] | None = None) -> list[list[Any]]:
    """The rows of an XLSX download's metadata sheet: what the file is, under which licence, which filters
    made it, when, how many rows; then each column with its label and HXL tag."""
    labels = labels or {}
    rows: list[list[Any]] = [
        ["Dataset", ds.title], ["Table", table.name], ["Source", ds.metadata.get("source") or ""],
        ["Organisation", ds.metadata.get("organisation") or ""], ["Licence", ds.metadata.get("license") or ""],
        ["Filters", describe(view, labels) if view is not None else "all rows"],
        ["Generated at", generated_at.replace(microsecond=0).isoformat(sep=" ") + " UTC"],
        ["Rows", table.data.num_rows], [], ["Column", "Label", "HXL tag"]]
    rows += [[c, labels.get(c, ""), (table.hxl or {}).get(c, "")] for c in table.data.column_names]
    return rows


def column_labels(store: Store, ds: Dataset, table_name: str, lang: str = "en") -> dict[str, str]:
    """Labels of an export's columns: the form's labels by field name and by export path, and through the
    pack's layout where the export renames fields (`admin1Pcode` ← `admin1_pcode`)."""
    from passage.forms import get_form
    from passage.plugins import load_pack

    form = get_form(store, ds.form)
    out: dict[str, str] = {}
    for f in form.top_fields():
        label = field_label(f, lang)
        for name in (f.name, f.path, f.xlsform_name):
            if name:
                out[name] = label
    if ds.pack:
        pack = load_pack(ds.pack)
        spec = pack.exports.get(table_name) or {}
        for col, fld, _tag in pack.layouts.get(spec.get("layout"), []):
            if fld in out:
                out.setdefault(col, out[fld])
    out.update({k: v for k, v in SYSTEM_LABELS.items() if k not in out})
    return out
