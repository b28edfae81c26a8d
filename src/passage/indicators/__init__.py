"""Indicators: declarative aggregations over current records, computed with Ibis.

An indicator is YAML in a pack: a measure (sum of one or more fields), the keys it
is broken down by, an optional filter, and optionally "latest per place" or "change
since the previous round". Because it compiles to Ibis, the same definition runs on
DuckDB, PostgreSQL and PySpark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis

from passage.errors import NotFound
from passage.plugins import available_packs, load_pack
from passage.store import Store


@dataclass
class Indicator:
    name: str
    title: str
    form: str
    measure: dict[str, Any]
    by: list[str]
    unit: str = ""
    label: str = ""  # the short name pages show (translated like any interface word); else the title
    description: str = ""
    pack: str = ""
    where: dict[str, Any] = field(default_factory=dict)
    latest: dict[str, list[str]] | None = None
    change: dict[str, list[str]] | None = None
    rollup: list[str] | None = None

    @property
    def measures(self) -> list[str]:
        m = self.measure["sum"]
        return [m] if isinstance(m, str) else list(m)

    @property
    def value_columns(self) -> list[str]:
        return ["value"] if len(self.measures) == 1 else self.measures


def all_indicators() -> dict[str, Indicator]:
    out: dict[str, Indicator] = {}
    for pack_name in available_packs():
        for spec in load_pack(pack_name).indicators:
            out[spec["name"]] = Indicator(pack=pack_name, **spec)
    return out


def get_indicator(name: str) -> Indicator:
    found = all_indicators()
    if name not in found:
        raise NotFound(f"no indicator {name!r} (have: {', '.join(sorted(found))})")
    return found[name]


def _filter(t: ibis.Table, where: dict[str, Any]) -> ibis.Table:
    for kind, arg in where.items():
        if kind == "not_null_any":
            cond = t[arg[0]].notnull()
            for c in arg[1:]:
                cond |= t[c].notnull()
            t = t.filter(cond)
        elif kind == "equals":
            for col, val in arg.items():
                t = t.filter(t[col] == val)
        else:
            raise ValueError(f"unknown filter {kind!r}")
    return t


def expression(store: Store, ind: Indicator, filters: dict[str, Any] | None = None,
               table: ibis.Table | None = None) -> ibis.Table:
    """The indicator as an Ibis expression over the store (not yet executed).

    `table` replaces the form's current records, e.g. with what a reader may see (`passage.access`)."""
    t = store.ibis().table(ind.form) if table is None else table
    t = _filter(t, ind.where)
    for col, val in (filters or {}).items():
        if val is not None:
            t = t.filter(t[col].isin(val) if isinstance(val, (list, tuple)) else t[col] == val)
    names = ind.value_columns
    agg = t.group_by(ind.by).aggregate(**{n: t[m].sum() for n, m in zip(names, ind.measures)})
    if ind.latest:
        w = ibis.window(group_by=ind.latest["per"], order_by=[ibis.desc(c) for c in ind.latest["order"]])
        agg = agg.mutate(_rank=ibis.row_number().over(w)).filter(lambda x: x._rank == 0).drop("_rank")
    if ind.change:
        w = ibis.window(group_by=ind.change["per"], order_by=ind.change["order"])
        prev = agg.value.lag().over(w)
        agg = agg.mutate(previous=prev)
        agg = agg.mutate(change=agg.value - agg.previous,
                         change_pct=((agg.value - agg.previous) * 100.0 / agg.previous.nullif(0)).round(2))
    if ind.rollup:
        agg = agg.group_by(ind.rollup).aggregate(**{n: agg[n].sum() for n in names})
        return agg.order_by(ind.rollup)
    return agg.order_by(ind.by)


def compute(store: Store, name: str, filters: dict[str, Any] | None = None, table: ibis.Table | None = None) -> Any:
    """The indicator's rows as a pyarrow Table."""
    return expression(store, get_indicator(name), filters, table).to_pyarrow()
