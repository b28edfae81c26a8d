"""What a reader may see of a dataset, as one relation every reader-facing query starts from.

- admin: every current record;
- editor: current records inside their places (published or not), and elsewhere what
  others may read;
- viewer: released records of public datasets, and of restricted ones inside their places;
- public: released records of public datasets.

Pages, the API and downloads all build on `readable()`, so a rule lives in one place
and the role matrix tests it through each of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis

from passage.errors import Forbidden
from passage.forms.registry import record_table
from passage.releases import Dataset, release_cutoffs
from passage.store import Store


def _scope_filter(t: ibis.Table, principal: Any, country_field: str) -> Any | None:
    """Rows inside the principal's places (ISO3 scopes by country, P-code scopes by prefix)."""
    cond = None
    for scope in sorted(principal.scopes):
        c = t[country_field] == scope if len(scope) == 3 and scope.isalpha() else t._place_code.startswith(scope)
        cond = c if cond is None else cond | c
    return cond


def may_read_dataset(principal: Any, ds: Dataset) -> bool:
    return ds.visibility == "public" or principal.is_admin or (principal.role in ("editor", "viewer")
                                                               and bool(principal.scopes))


def readable(store: Store, principal: Any, ds: Dataset) -> ibis.Table:
    """The dataset's records this principal may read: an Ibis table with the record table's columns."""
    con = store.ibis()
    if principal.is_admin:
        return con.table(ds.form)
    if not may_read_dataset(principal, ds):
        raise Forbidden(f"dataset {ds.name!r} is restricted")
    t = con.table(record_table(ds.form))
    cur = t.filter(t._current, ~t._deleted)
    in_scope = _scope_filter(t, principal, ds.country_field) if principal.scopes else None
    editor = principal.role == "editor"
    cutoffs = release_cutoffs(store, ds.name)
    if not cutoffs:
        return cur.filter(in_scope if editor and in_scope is not None else ibis.literal(False))
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
    return ibis.union(*parts, distinct=False)


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


def readable_sql(store: Store, principal: Any, ds: Dataset) -> str:
    """`readable()` as SQL for the store's dialect, for code that composes SQL text."""
    if principal.is_admin:
        return f"SELECT * FROM {ds.form}"
    return str(ibis.to_sql(readable(store, principal, ds), dialect="duckdb" if store.dialect == "duckdb"
                           else "postgres"))


def can_edit(principal: Any, country_code: str, place_code: str | None = None) -> bool:
    return principal.is_admin or (principal.role == "editor" and principal.covers(country_code, place_code))


def require_edit(principal: Any, country_code: str, place_code: str | None = None) -> None:
    if not can_edit(principal, country_code, place_code):
        raise Forbidden(f"not allowed to change data of {place_code or country_code}")


IMPORT_COLUMNS = ("import_id", "started_at", "finished_at", "kind", "form_id", "files", "status", "rows_read",
                  "rows_inserted", "rows_updated", "rows_unchanged", "errors", "warnings", "user_name", "message")


def readable_imports(store: Store, principal: Any, limit: int = 50) -> list[dict[str, Any]]:
    """The import log this principal may read, newest first.

    Admins read every import. An editor reads the imports they ran, and the committed imports whose records
    all lie inside their places: file names, user names and messages of other countries' imports are not
    theirs to read. Nobody else reads the log.
    """
    if principal.is_public or principal.role not in ("admin", "editor"):
        raise Forbidden("the import log is for editors and admins")
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
