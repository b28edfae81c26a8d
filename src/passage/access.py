"""Who may do what: one rule table, and what a reader may see of a dataset.

`allowed(actor, action, resource)` answers for the CLI, the API and the pages alike, and the
library verbs call `require(...)` themselves, so no edge can forget a check. Every action is
denied unless a rule allows it; admins may do everything. The resources are small values:
a `Dataset` (`passage.releases`), a `Place` (a country, or a P-code within it), `Places`
(what a document is about), an `Account` (a user's own tokens) and `STORE` (the store as a
whole: users, forms, settings, the import log).

What a reader sees of a dataset's records, as one relation every reader-facing query starts from:

- admin: every current record;
- editor: current records inside their places (published or not), and elsewhere what
  others may read;
- viewer: released records of public datasets, and of restricted ones inside their places;
- public: released records of public datasets.

Pages, the API and downloads all build on `readable()`, so a rule lives in one place
and the role matrix tests it through each of them.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.operations as ops
import pyarrow as pa

from passage.auth.principal import Principal
from passage.errors import Forbidden
from passage.forms.registry import record_table
from passage.store import Store

if TYPE_CHECKING:
    from passage.releases import Dataset


# ---- resources ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    """A whole country (`code=None`) or a place within it, by P-code."""

    country: str
    code: str | None = None


@dataclass(frozen=True)
class Places:
    """The places a document is about, and whether it is public."""

    places: tuple[Place, ...]
    visibility: str = "restricted"


@dataclass(frozen=True)
class Account:
    """A user's own account: their API tokens."""

    user_name: str


@dataclass(frozen=True)
class HeldRow:
    """A row an import set aside with its errors (`passage.ingest.quarantine`): its country and P-code as the
    file gave them (either may be missing or wrong: that may be the error), and who imported it."""

    country: str
    code: str | None = None
    imported_by: str | None = None


@dataclass(frozen=True)
class TheStore:
    """The store as a whole."""


STORE = TheStore()


# ---- rules ----------------------------------------------------------------------------------------------

def _reads_dataset(p: Principal, ds: Dataset) -> bool:
    return ds.visibility == "public" or (p.role in ("editor", "viewer") and bool(p.scopes))


def _edits(p: Principal, place: Place) -> bool:
    return p.role == "editor" and p.covers(place.country, place.code)


def _reviews(p: Principal, row: HeldRow) -> bool:
    """Editors of the row's place, and the editor who imported it (whose place may be what is wrong)."""
    return p.role == "editor" and ((bool(row.country) and p.covers(row.country, row.code))
                                   or (row.imported_by is not None and row.imported_by == p.user_name))


def _publishes(p: Principal, place: Place) -> bool:
    return p.role == "editor" and place.code is None and p.covers(place.country)


def _reads_document(p: Principal, doc: Places) -> bool:
    return doc.visibility == "public" or (not p.is_public and any(p.covers(x.country, x.code) for x in doc.places))


def _adds_document(p: Principal, doc: Places) -> bool:
    return p.role == "editor" and bool(doc.places) and all(p.covers(x.country, x.code) for x in doc.places)


def _owns(p: Principal, account: Account) -> bool:
    return not p.is_public and p.user_name == account.user_name


@dataclass(frozen=True)
class Rule:
    resource: str  # the resource's type name, as `require` checks it
    allows: Callable[[Principal, Any], bool]  # for everyone but admins, who may do everything
    what: str  # "is not allowed to …": the action in words, `{}` the resource


RULES: dict[str, Rule] = {
    "read-dataset": Rule("Dataset", _reads_dataset, "read dataset {}"),
    "edit-records": Rule("Place", _edits, "change data of {} (import, edit, delete records)"),
    "publish": Rule("Place", _publishes, "publish data of {}"),
    "review-quarantine": Rule("HeldRow", _reviews, "review the quarantined row about {} (fix, release, drop)"),
    "import": Rule("TheStore", lambda p, _: p.role == "editor" and bool(p.scopes),
                   "import data (editors import rows of their own places)"),
    "read-import-log": Rule("TheStore", lambda p, _: p.role == "editor", "read the import log (editors and admins)"),
    "read-document": Rule("Places", _reads_document, "read a document about {}"),
    "add-document": Rule("Places", _adds_document,
                         "add a document about {} (editors add documents about their own places: name at least one)"),
    "manage-tokens": Rule("Account", _owns, "manage the API tokens of {}"),
    "administer": Rule("TheStore", lambda p, _: False,
                       "administer the store (users, roles, scopes, tokens, unlocks, forms, visibility, offices, "
                       "settings, import rollbacks): admins only"),
}
ACTIONS = tuple(RULES)


def _rule(action: str, resource: Any) -> Rule:
    rule = RULES.get(action)
    if rule is None:
        raise ValueError(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}")
    if type(resource).__name__ != rule.resource:
        raise TypeError(f"{action!r} is about a {rule.resource}, not {type(resource).__name__}")
    return rule


def allowed(actor: Principal, action: str, resource: Any) -> bool:
    """Whether `actor` may do `action` to `resource`: denied unless a rule in `RULES` allows it."""
    rule = _rule(action, resource)
    return actor.is_admin or bool(rule.allows(actor, resource))


def require(actor: Principal, action: str, resource: Any) -> None:
    """`allowed`, or `Forbidden` saying who is not allowed to do what: code `forbidden` (HTTP 403), and for
    the public `auth.required` (HTTP 401, as `AuthError` answers): they are told to sign in."""
    if allowed(actor, action, resource):
        return
    what = _rule(action, resource).what.format(_describe(resource))
    if not actor.is_public:
        raise Forbidden(f"{actor.user_name} ({actor.role}) is not allowed to {what}")
    refused = Forbidden(f"sign in first: the public is not allowed to {what}", code="auth.required")
    refused.http_status = 401
    raise refused


def _describe(resource: Any) -> str:
    if isinstance(resource, Place):
        return resource.code or resource.country
    if isinstance(resource, Places):
        return ", ".join(x.code or x.country for x in resource.places) or "no place"
    if isinstance(resource, Account):
        return resource.user_name
    if isinstance(resource, HeldRow):
        return resource.code or resource.country or "no place"
    return repr(getattr(resource, "name", "the store"))


def acting(actor: Principal | None, action: str, resource: Any) -> Principal:
    """Who a library verb acts for, once `require` allowed it. `None` is the store's operator
    (`auth.OPERATOR`): callers that own the store by definition (the CLI without `--user`, demo
    seeds, migrations, tests that set a store up)."""
    from passage.auth.principal import OPERATOR

    actor = OPERATOR if actor is None else actor
    require(actor, action, resource)
    return actor


def import_scopes(actor: Principal) -> list[str] | None:
    """The places an import by `actor` may touch (None: anywhere), once they may import at all."""
    require(actor, "import", STORE)
    return None if actor.is_admin else sorted(actor.scopes)


# ---- what a reader sees ---------------------------------------------------------------------------------

def _scope_filter(t: ibis.Table, principal: Any, country_field: str) -> Any | None:
    """Rows inside the principal's places (ISO3 scopes by country, P-code scopes by prefix)."""
    cond = None
    for scope in sorted(principal.scopes):
        c = t[country_field] == scope if len(scope) == 3 and scope.isalpha() else t._place_code.startswith(scope)
        cond = c if cond is None else cond | c
    return cond


def readable(store: Store, principal: Any, ds: Dataset) -> ibis.Table:
    """The dataset's records this principal may read: an Ibis table with the record table's columns.

    For everyone but admins it is a temporary view of the relation below, made once per store handle, reader
    class (role and places), dataset and release times (`_kept_view`): Ibis then compiles a reader's query
    over a view (10-20 ms) instead of the whole relation again (90-190 ms) for every country and level the
    reader asks about. The database inlines the view, so its filters reach the record table's scan as before.
    SQL text meant for another connection comes from `readable_sql` or `inline`, never naming the view."""
    from passage.releases import release_cutoffs

    con = store.ibis()
    if principal.is_admin:
        return con.table(ds.form)
    require(principal, "read-dataset", ds)
    t = con.table(record_table(ds.form))
    cutoffs = release_cutoffs(store, ds.name)
    return _kept_view(store, _view_key(principal, ds, cutoffs, t), lambda: _readable(t, principal, ds, cutoffs))


def readable_page(store: Store, principal: Any, ds: Dataset, where: Callable[[ibis.Table], ibis.Table],
                  limit: int, order: Sequence[str] = ("_record_id",)) -> pa.Table:
    """The first `limit` records by record id of `where(readable(...))` (a filter of it), every column. `order`
    may put columns the filter fixes before `_record_id` (see `passage.query.list_records`).

    On DuckDB in two statements: the page's record ids and row numbers, a top-N over the few columns the
    filter and the order read, then those rows by row number (DuckDB reads a row's every column only for the
    page). Read as one statement otherwise, and when the rows changed in between (a commit moved them); on
    PostgreSQL as the top-N of each of `readable_parts`, which its indexes answer."""
    if store.dialect == "duckdb" and not getattr(store, "_in_tx", False):
        top = where(_numbered(store, principal, ds)).order_by("_record_id").limit(limit).select(
            "_row", "_record_id", "_version").to_pyarrow()
        if top.num_rows:  # every version readable() shows is shown as current
            table = record_table(ds.form)
            got = store.ibis().table(table).__pyarrow_result__(store.arrow(
                f'SELECT * REPLACE (true AS _current) FROM "{table}" WHERE rowid = ANY(?::BIGINT[]) '
                "ORDER BY _record_id", [top.column("_row").to_pylist()]))
            if all(got.column(c).equals(top.column(c)) for c in ("_record_id", "_version")):
                return got
    order = list(order)
    if store.dialect == "postgres":  # a top-N of each part, then of their union (record ids are in one part)
        parts = readable_parts(store, principal, ds)
        if len(parts) > 1:
            tops = [where(p).order_by(order).limit(limit) for p in parts]
            return ibis.union(*tops, distinct=False).order_by(order).limit(limit).to_pyarrow()
    return where(readable(store, principal, ds)).order_by(order).limit(limit).to_pyarrow()


def _with_row_numbers(con: Any, table: str) -> ibis.Table:
    """The record table with DuckDB's row number of each version as `_row`."""
    t = con.table(table)
    rows = ops.DatabaseTable(table, schema=ibis.schema({**dict(t.schema().items()), "rowid": "int64"}),
                             source=con).to_expr()
    return rows.select(*t.columns, _row=rows["rowid"])


def _numbered(store: Store, principal: Any, ds: Dataset) -> ibis.Table:
    """`readable()` with each version's row number in the record table (`_row`), for `readable_page`."""
    from passage.releases import release_cutoffs

    t = _with_row_numbers(store.ibis(), record_table(ds.form))
    if principal.is_admin:
        return t.filter(t._current, ~t._deleted)
    require(principal, "read-dataset", ds)
    cutoffs = release_cutoffs(store, ds.name)
    return _kept_view(store, ("rows", *_view_key(principal, ds, cutoffs, t)),
                      lambda: _readable(t, principal, ds, cutoffs))


def readable_parts(store: Store, principal: Any, ds: Dataset) -> list[ibis.Table]:
    """`readable()` as the parts whose union it is (each a kept view), for queries PostgreSQL plans better part
    by part: a top-N of a union is not pushed into its parts, a top-N of each part uses the part's index."""
    from passage.releases import release_cutoffs

    con = store.ibis()
    if principal.is_admin:
        return [con.table(ds.form)]
    require(principal, "read-dataset", ds)
    t = con.table(record_table(ds.form))
    cutoffs = release_cutoffs(store, ds.name)
    key = ("parts", *_view_key(principal, ds, cutoffs, t))
    parts = _readable_parts(t, principal, ds, cutoffs)
    return [_kept_view(store, (*key, i), lambda part=part: part) for i, part in enumerate(parts)]


def _view_key(principal: Any, ds: Dataset, cutoffs: dict, t: ibis.Table) -> tuple:
    """What a kept view of `_readable` depends on: the reader class, the dataset, its release times and columns."""
    return (principal.role, tuple(sorted(principal.scopes)), ds.name, ds.visibility, _country_field(ds),
            tuple(sorted(cutoffs.items())), tuple((n, str(d)) for n, d in t.schema().items()))


def _readable(t: ibis.Table, principal: Any, ds: Dataset, cutoffs: dict) -> ibis.Table:
    """`readable()`'s relation over the record table `t`, given each country's latest release time."""
    parts = _readable_parts(t, principal, ds, cutoffs)
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def _readable_parts(t: ibis.Table, principal: Any, ds: Dataset, cutoffs: dict) -> list[ibis.Table]:
    """The parts of `_readable`'s union (one, or records unchanged since the earliest release and records
    changed since, plus an editor's own places as they are now)."""
    cur = t.filter(t._current, ~t._deleted)
    in_scope = _scope_filter(t, principal, ds.country_field) if principal.scopes else None
    editor = principal.role == "editor"
    if not cutoffs:
        return [cur.filter(in_scope if editor and in_scope is not None else ibis.literal(False))]
    # A country's latest release shows the country as it stood then: the versions current at that moment
    # (made before it, replaced after it or never) that are about the country and are not tombstones. Each
    # record is read in the latest release that shows it (editors: as it is now, inside their places).
    # A version is judged by its own country and time, so an edit that changes, moves or deletes a record
    # changes nothing a released reader sees until the next release.
    earliest = ibis.literal(min(cutoffs.values()), type="timestamp")
    # Records unchanged since the earliest release: their current version is what every release shows.
    settled = cur.filter(t._created_at <= earliest)
    cutoff, released = _released(t, principal, ds, cutoffs, editor)
    parts = [settled.filter(released)]
    if editor and in_scope is not None:
        parts.append(settled.filter(in_scope))
    # Records changed since: each version with the release time it is shown for, the latest one kept.
    changed = t.filter(t._current, t._created_at > earliest).select("_record_id")
    h = t.filter(t._record_id.isin(changed._record_id))
    h = h.mutate(_replaced_at=h._created_at.lead().over(ibis.window(group_by="_record_id", order_by="_version")))
    cutoff, released = _released(h, principal, ds, cutoffs, editor)
    shown = h.filter(~h._deleted, released, h._created_at <= cutoff,
                     h._replaced_at.isnull() | (h._replaced_at > cutoff)).mutate(_shown_for=cutoff)
    if editor and in_scope is not None:
        mine = _scope_filter(h, principal, ds.country_field)
        shown = ibis.union(shown, h.filter(h._current, ~h._deleted, mine).mutate(
            _shown_for=ibis.literal(datetime(9999, 12, 31), type="timestamp")), distinct=False)
    latest = ibis.row_number().over(ibis.window(group_by="_record_id",
                                                order_by=[ibis.desc("_shown_for"), ibis.desc("_version")]))
    shown = shown.mutate(_pick=latest).filter(lambda x: x._pick == 0).drop("_pick", "_shown_for", "_replaced_at")
    # Shown as current: readers must not learn that an unpublished change exists.
    parts.append(shown.mutate(_current=ibis.literal(True, type=t._current.type())))
    return parts


def _released(t: ibis.Table, principal: Any, ds: Dataset, cutoffs: dict, editor: bool) -> tuple[Any, Any]:
    """Per version: the time of its own country's latest release, and whether this reader reads it as
    released (restricted datasets: inside their places; editors: outside them, inside they read it all)."""
    country = t[ds.country_field]
    cutoff = ibis.cases(*[(country == c, ibis.literal(ts, type="timestamp")) for c, ts in cutoffs.items()],
                        else_=ibis.null("timestamp"))
    released = cutoff.notnull()
    in_scope = _scope_filter(t, principal, ds.country_field) if principal.scopes else None
    if ds.visibility == "restricted":
        released &= in_scope if in_scope is not None else ibis.literal(False)
    if editor and in_scope is not None:
        released &= ~in_scope
    return cutoff, released


def _country_field(ds: Dataset) -> str | None:
    from passage.errors import UsageError

    try:
        return ds.country_field
    except UsageError:
        return None


# ---- readable() as a temporary view, per store handle ------------------------------------------------------

VIEWS = 32  # views a store handle keeps (least recently used are dropped)
_VIEW_PREFIX = "passage_readable_"


def _kept_view(store: Store, key: tuple, build: Callable[[], ibis.Table]) -> ibis.Table:
    """`build()`'s relation as a temporary view on this handle's Ibis connection, made on first use for `key`.

    Where that cannot be relied on the relation itself is returned: a Spark store, and a DuckDB handle inside a
    transaction (its Ibis connection is the store's, and a rollback would drop the view). On PostgreSQL the Ibis
    connection is a session of its own (autocommit), where the view lives; the store's own connection never
    sees it, which is why SQL text is made with `inline`."""
    if store.dialect not in ("duckdb", "postgres") or getattr(store, "_in_tx", False):
        return build()
    con = store.ibis()
    views: OrderedDict = con.__dict__.setdefault("_readable_views", OrderedDict())  # key -> view
    relations: dict = con.__dict__.setdefault("_readable_relations", {})  # view name -> (its relation, its SQL)
    found = views.get(key)
    if found is not None:
        views.move_to_end(key)
        return found
    relation = build()
    sql = con.compile(relation)
    name = _VIEW_PREFIX + hashlib.sha256(sql.encode()).hexdigest()[:20]
    try:
        _run_ddl(store, f'CREATE OR REPLACE TEMPORARY VIEW "{name}" AS {sql}')
    except Exception:  # noqa: BLE001 - e.g. a read-only connection: the relation itself still answers
        return relation
    relations[name] = (relation.op(), sql)  # the SQL: readable_sql's text, compiled once
    view = views[key] = ops.DatabaseTable(name, schema=relation.schema(), source=con).to_expr()
    while len(views) > VIEWS:
        _, old = views.popitem(last=False)
        relations.pop(old.op().name, None)
        with contextlib.suppress(Exception):  # a view left over costs nothing; it goes with the session
            _run_ddl(store, f'DROP VIEW IF EXISTS "{old.op().name}"')
    return view


def _run_ddl(store: Store, sql: str) -> None:
    """A statement on the store handle's Ibis connection (DuckDB: the store's own; PostgreSQL: Ibis's)."""
    if store.dialect == "duckdb":
        store.execute(sql)
    else:
        with store.ibis().con.cursor() as cur:
            cur.execute(sql)


def inline(table: ibis.Table) -> ibis.Table:
    """`table` with every `readable()` view in it replaced by the relation it stands for: for SQL text run on
    another connection (the store's own on PostgreSQL, a Spark snapshot) or kept beyond the handle."""
    node = table.op()
    mapping = {}
    for t in node.find(ops.DatabaseTable):
        if t.name.startswith(_VIEW_PREFIX):
            mapping[t] = t.source.__dict__["_readable_relations"][t.name][0]
    return node.replace(mapping).to_expr() if mapping else table


def readable_sql(store: Store, principal: Any, ds: Dataset) -> str:
    """`readable()` as SQL for the store's dialect, for code that composes SQL text."""
    if principal.is_admin:
        return f"SELECT * FROM {ds.form}"
    t = readable(store, principal, ds)
    op = t.op()
    if isinstance(op, ops.DatabaseTable) and op.name.startswith(_VIEW_PREFIX):  # the view's own text, made once
        kept = op.source.__dict__.get("_readable_relations", {}).get(op.name)
        if kept is not None:
            return str(kept[1])
    return str(ibis.to_sql(inline(t), dialect="duckdb" if store.dialect == "duckdb" else "postgres"))


IMPORT_COLUMNS = ("import_id", "started_at", "finished_at", "kind", "form_id", "files", "status", "rows_read",
                  "rows_inserted", "rows_updated", "rows_unchanged", "errors", "warnings", "user_name", "message")


def readable_imports(store: Store, principal: Any, limit: int = 50) -> list[dict[str, Any]]:
    """The import log this principal may read, newest first.

    Admins read every import. An editor reads the imports they ran, and the committed imports whose records
    all lie inside their places: file names, user names and messages of other countries' imports are not
    theirs to read. Nobody else reads the log.
    """
    require(principal, "read-import-log", STORE)
    cols = ", ".join(IMPORT_COLUMNS)
    if principal.is_admin:
        return [dict(zip(IMPORT_COLUMNS, r)) for r in store.query(
            f"SELECT {cols} FROM imports ORDER BY import_id DESC LIMIT ?", [limit])]
    out: list[dict[str, Any]] = []
    last: int | None = None
    batch = max(limit * 4, 100)
    while len(out) < limit:  # walk back through the log until `limit` readable imports are found
        rows = [dict(zip(IMPORT_COLUMNS, r)) for r in store.query(
            f"SELECT {cols} FROM imports WHERE import_id < ? ORDER BY import_id DESC LIMIT ?",
            [last if last is not None else 2**62, batch])]
        if not rows:
            break
        last = rows[-1]["import_id"]
        inside = _imports_inside_scope(store, principal, [r for r in rows if r["status"] == "committed"
                                                          and r["user_name"] != principal.user_name])
        out += [r for r in rows if r["user_name"] == principal.user_name or r["import_id"] in inside]
    return out[:limit]


def _imports_inside_scope(store: Store, principal: Any, rows: list[dict[str, Any]]) -> set[int]:
    """The imports among `rows` that loaded records, all of them inside the principal's places."""
    from passage.releases import dataset_for_form

    by_form: dict[str, list[int]] = {}
    for r in rows:
        by_form.setdefault(r["form_id"], []).append(r["import_id"])
    found: set[int] = set()
    con = store.ibis() if by_form else None
    for form_id, ids in by_form.items():
        ds = dataset_for_form(store, form_id)
        if ds is None or not principal.scopes or not store.table_exists(record_table(form_id)):
            continue  # records outside any dataset (forms no dataset publishes) have no places to match
        t = con.table(record_table(form_id))
        t = t.filter(t._import_id.isin(ids))
        inside = _scope_filter(t, principal, ds.country_field)
        agg = t.group_by("_import_id").aggregate(all_inside=inside.fill_null(False).all())
        found |= {r["_import_id"] for r in agg.to_pyarrow().to_pylist() if r["all_inside"]}
    return found


def read_import(store: Store, principal: Any, import_id: int) -> dict[str, Any]:
    """One import of the log as `readable_imports` would show it to this principal, with its files (name, size,
    sha256, position) and the rows it set aside with their findings (`passage.ingest.quarantine`, the ones this
    principal may review). An import they may not read is not found, as it is not to them."""
    from passage.errors import NotFound
    from passage.ingest.quarantine import list_held

    require(principal, "read-import-log", STORE)
    rows = store.query(f"SELECT {', '.join(IMPORT_COLUMNS)} FROM imports WHERE import_id = ?", [int(import_id)])
    item = dict(zip(IMPORT_COLUMNS, rows[0])) if rows else None
    if item is not None and not principal.is_admin and item["user_name"] != principal.user_name and not (
            item["status"] == "committed" and _imports_inside_scope(store, principal, [item])):
        item = None
    if item is None:
        raise NotFound(f"no import {import_id}")
    names, files = store.columns(
        "SELECT f.name, f.size, f.sha256, i.position FROM import_files i JOIN files f ON f.sha256 = i.sha256 "
        "WHERE i.import_id = ? ORDER BY i.position", [int(import_id)])
    item["file_list"] = [dict(zip(names, r)) for r in files]
    item["held"] = [h.as_dict() for h in list_held(store, principal, import_id=int(import_id), status=None)]
    return item
