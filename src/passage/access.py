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
    parts = []
    unpublished_ok = in_scope if principal.role == "editor" else None
    if unpublished_ok is not None:
        parts.append(cur.filter(unpublished_ok))
    cutoffs = release_cutoffs(store, ds.name)
    if cutoffs:
        country = t[ds.country_field]
        cutoff = ibis.cases(*[(country == c, ibis.literal(ts, type="timestamp")) for c, ts in cutoffs.items()],
                            else_=ibis.null("timestamp"))
        released = cutoff.notnull()
        if ds.visibility == "restricted":
            released &= in_scope if in_scope is not None else ibis.literal(False)
        if unpublished_ok is not None:
            released &= ~unpublished_ok
        parts.append(cur.filter(released, t._created_at <= cutoff))
        # Records changed since their country's release: the version current at the release.
        changed = t.filter(t._current, released, t._created_at > cutoff).select("_record_id")
        old = t.filter(released, t._created_at <= cutoff, t._record_id.isin(changed._record_id))
        rank = ibis.row_number().over(ibis.window(group_by="_record_id", order_by=ibis.desc("_version")))
        old = old.mutate(_rank=rank).filter(lambda x: x._rank == 0).drop("_rank")
        # Shown as current: readers must not learn that an unpublished change exists.
        parts.append(old.filter(~old._deleted).mutate(_current=ibis.literal(True, type=t._current.type())))
    if not parts:
        return cur.filter(ibis.literal(False))
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


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
