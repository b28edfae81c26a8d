"""One measure language for every figure: indicators, shares of answers, consistency rules, headlines.

A measure is YAML in a pack, checked by the pydantic models below and compiled to Ibis, so the same
definition runs on DuckDB, PostgreSQL and PySpark:

    - name: sites_without_water
      form: site_assessment
      share:                                   # numerator over a stated denominator
        numerator: [{field: water_points, equals: 0}]
        denominator: [{field: water_points, is_null: false}]
      by: [{place_level: 1}, {field: assessment_date, grain: quarter}]

Kinds: sum, count, count_distinct, share, mean, min, max; then optionally `latest` (the latest row per
place), `change` (against the previous round) and `rollup` (summed again by fewer keys). Filters (`where`,
and a share's two sides): equals, in, range, is_null, and an XLSForm expression compiled by
`passage.forms.expr`. Grouping: a field, a place level (the record's place or its ancestor at that level)
or a time grain of a date field. A derived measure is arithmetic over other measures (`derived: "dead +
missing"`), joined on the keys they share, with `before(m, year)` for the period before. A comparison sets
two measures (or a formula over measures, or a constant) against each other with a tolerance and a severity.
Every output row can name the records and files behind it (`provenance`). docs/measures.md is the reference.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from passage.errors import NotFound, UsageError
from passage.store import Store

__all__ = [
    "Comparison", "ComparisonResult", "Condition", "Grouping", "Measure", "Ordering", "Provenance", "Share",
    "Skipped", "Source", "all_measures", "compare", "compute", "derived_expression", "derived_provenance",
    "expression", "formula_names", "get_measure", "parse_comparisons", "parse_measures", "provenance", "rows_of",
]

KINDS = ("sum", "count", "count_distinct", "share", "mean", "min", "max", "derived")
ADDITIVE = ("sum", "count", "share")  # kinds a rollup may sum again
VALUE_NAMES = ("value", "numerator", "denominator", "previous", "change", "change_pct")  # not keys of a row
GRAINS = {"day": "D", "month": "M", "quarter": "Q", "year": "Y"}
PLACE_DEPTH = 4  # parent steps a place-level grouping climbs (admin3 -> admin0; country office -> HQ)
OPERATORS: dict[str, Callable[[float, float, float], bool]] = {
    "==": lambda a, b, t: abs(a - b) <= t,
    "!=": lambda a, b, t: abs(a - b) > t,
    "<=": lambda a, b, t: a <= b + t,
    ">=": lambda a, b, t: a + t >= b,
    "<": lambda a, b, t: a < b + t,
    ">": lambda a, b, t: a + t > b,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# ---- the YAML model ------------------------------------------------------------------------------------------

class Condition(_Model):
    """One filter: a field tested by exactly one of equals, in, range or is_null; an XLSForm expression;
    or `any` of several conditions."""

    field: str | None = None
    equals: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    range: tuple[Any, Any] | None = None  # [low, high], both included; null leaves that end open
    is_null: bool | None = None  # true: the field is empty; false: it is not (`null:` would be YAML's null key)
    expr: str | None = None  # an XLSForm expression over the record's fields, e.g. "selected(${areas}, 'gbv')"
    any_: list[Condition] | None = Field(None, alias="any")

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [k for k in ("equals", "in_", "range", "is_null") if k in self.model_fields_set]
        if self.expr is not None or self.any_ is not None:
            if self.field is not None or tests or (self.expr is not None and self.any_ is not None):
                raise ValueError("expr and any stand alone (no field, equals, in, range or is_null beside them)")
        elif self.field is None or len(tests) != 1:
            raise ValueError("a condition is {field, and one of equals|in|range|is_null}, {expr} or {any: [...]}")
        return self

    def describe(self) -> str:
        if self.expr is not None:
            return self.expr
        if self.any_ is not None:
            return "(" + " or ".join(c.describe() for c in self.any_) + ")"
        if "equals" in self.model_fields_set:
            return f"{self.field} = {self.equals!r}"
        if self.in_ is not None:
            return f"{self.field} in {self.in_!r}"
        if self.range is not None:
            lo, hi = self.range
            return " and ".join([*([f"{self.field} >= {lo!r}"] if lo is not None else []),
                                 *([f"{self.field} <= {hi!r}"] if hi is not None else [])]) or "true"
        return f"{self.field} is {'' if self.is_null else 'not '}empty"


class Grouping(_Model):
    """A grouping key beyond a plain field: a place level, or a time grain of a date field."""

    field: str | None = None
    grain: Literal["day", "month", "quarter", "year"] | None = None
    place_level: int | None = None  # the ancestor of the record's place (`_place_code`) at this level
    as_: str | None = Field(None, alias="as")  # the output column's name

    @model_validator(mode="after")
    def _one_kind(self) -> Grouping:
        if (self.place_level is None) == (self.field is None):
            raise ValueError("a grouping is {field, grain} or {place_level}")
        if self.field is not None and self.grain is None:
            raise ValueError("a field grouping needs a grain (day, month, quarter, year); give a plain field as a name")
        return self

    @property
    def name(self) -> str:
        if self.as_:
            return self.as_
        return f"place_level_{self.place_level}" if self.place_level is not None else f"{self.field}_{self.grain}"


class Share(_Model):
    """Records meeting `numerator` among those meeting `denominator` (an empty list: every record kept)."""

    numerator: list[Condition]
    denominator: list[Condition]


class Ordering(_Model):
    """Rows `per` these keys, ordered by `order` (latest: the last one; change: against the one before)."""

    per: list[str]
    order: list[str]


Fields = str | list[str]


class Measure(_Model):
    """A named aggregation over a form's current records (or a table the caller gives)."""

    name: str
    title: str = ""
    label: str = ""  # the short name pages show (translated like any interface word); else the title
    description: str = ""
    unit: str = ""
    text: str = ""  # how a figure is printed, formatted with its row, e.g. "{numerator} offices ({percent} %)"
    form: str | None = None
    sum: Fields | None = None
    count: str | None = None  # a field (its non-empty values) or "*" (records)
    count_distinct: str | None = None
    share: Share | None = None
    mean: Fields | None = None
    min: Fields | None = None
    max: Fields | None = None
    derived: str | None = None  # arithmetic over other measures by name: "100 * women / total" (derived measures)
    where: list[Condition] = []
    by: list[Annotated[str, Field(min_length=1)] | Grouping] = []
    latest: Ordering | None = None
    change: Ordering | None = None
    rollup: list[str] | None = None
    pack: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Measure:
        kinds = [k for k in KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a measure has exactly one of {', '.join(KINDS)} (got {', '.join(kinds) or 'none'})")
        if kinds[0] == "derived":
            _check_derived(self)
        if self.rollup is not None and kinds[0] not in ADDITIVE:
            raise ValueError(f"rollup sums rows again: only {', '.join(ADDITIVE)} can be rolled up")
        missing = [k for o in (self.latest, self.change) if o for k in [*o.per, *o.order] if k not in self.keys]
        missing += [k for k in self.rollup or [] if k not in self.keys]
        if missing:
            raise ValueError(f"latest, change and rollup name output keys; not keys: {', '.join(missing)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def fields(self) -> list[str]:
        """The measured fields (none for a share or a count of records)."""
        arg = getattr(self, self.kind)
        if self.kind in ("share", "derived") or arg == "*":
            return []
        return [arg] if isinstance(arg, str) else list(arg)

    @property
    def keys(self) -> list[str]:
        """The output's key columns before any rollup."""
        return [b if isinstance(b, str) else b.name for b in self.by]

    @property
    def value_columns(self) -> list[str]:
        if self.kind == "share":
            return ["value", "numerator", "denominator"]
        return ["value"] if len(self.fields) <= 1 else self.fields

    def describe(self) -> str:
        """The definition in one line, e.g. 'sum of num_present_idp_ind by admin_level, round_number'."""
        if self.kind == "share":
            assert self.share is not None
            what = (f"share of records with {' and '.join(c.describe() for c in self.share.numerator)} among "
                    + (" and ".join(c.describe() for c in self.share.denominator) or "all records"))
        elif self.kind == "count" and not self.fields:
            what = "count of records"
        elif self.kind == "derived":
            what = f"derived: {self.derived}"
        else:
            what = f"{self.kind.replace('_', ' ')} of {', '.join(self.fields)}"
        parts = [what]
        if self.where:
            parts.append("where " + " and ".join(c.describe() for c in self.where))
        if self.keys:
            parts.append("by " + ", ".join(self.keys))
        if self.latest:
            parts.append(f"latest by {', '.join(self.latest.order)} per {', '.join(self.latest.per)}")
        if self.change:
            parts.append(f"change by {', '.join(self.change.order)} per {', '.join(self.change.per)}")
        if self.rollup:
            parts.append("summed by " + ", ".join(self.rollup))
        return "; ".join(parts)


class Comparison(_Model):
    """`left operator right` per shared key, DHIS2-style: `left`/`right` name measures or give a constant.

    `tolerance` is absolute (0.5) or relative to the right side ("2%"); it widens == and narrows !=,
    and lets <= / >= / < / > pass by that much."""

    id: str
    description: str = ""
    left: str | float
    operator: Literal["==", "!=", "<=", ">=", "<", ">"]
    right: str | float
    tolerance: float | str = 0
    severity: Literal["error", "warning"] = "error"
    over: Literal["left", "right"] | None = None  # compare only the keys of this side (others: not compared)

    @field_validator("left", "right")
    @classmethod
    def _side(cls, side: str | float) -> str | float:
        if isinstance(side, str):
            formula_names(side)  # a measure's name, or a formula over measures
        return side

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, tolerance: float | str) -> float | str:  # a field's check: the error names `tolerance`
        if isinstance(tolerance, str):
            text = tolerance.strip()
            if not text.endswith("%"):
                raise ValueError("a relative tolerance is written like '2%'")
            float(text[:-1])
        elif tolerance < 0:
            raise ValueError("tolerance must not be negative")
        return tolerance

    def allowance(self, right: float) -> float:
        if isinstance(self.tolerance, str):
            return abs(right) * float(self.tolerance.strip()[:-1]) / 100
        return float(self.tolerance)


def _problem(where: str, exc: ValidationError) -> UsageError:
    errors = exc.errors()
    # A key that may be of several forms (a name or a grouping) fails each: the rule it broke says most.
    first = next((e for e in errors if e["type"] == "value_error"), errors[0])
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("constrained-", "function-", "str")))
    return UsageError(f"{where}{': ' + loc if loc else ''}: {first['msg']}", code="usage.measure")


def parse_measures(items: Iterable[dict[str, Any]], pack: str = "", where: str = "") -> list[Measure]:
    """Measures from YAML items, each checked; a bad one raises a UsageError naming it and the key at fault."""
    out, seen = [], set()
    for i, item in enumerate(items):
        label = f"{where or 'measures'}[{i}] {item.get('name', '?') if isinstance(item, dict) else ''}".strip()
        try:
            m = Measure.model_validate({**item, "pack": pack} if pack else item)
        except ValidationError as exc:
            raise _problem(label, exc) from None
        if m.name in seen:
            raise UsageError(f"{label}: the name {m.name!r} is used twice", code="usage.measure")
        seen.add(m.name)
        out.append(m)
    return out


def parse_comparisons(items: Iterable[dict[str, Any]], where: str = "") -> list[Comparison]:
    out, seen = [], set()
    for i, item in enumerate(items):
        label = f"{where or 'comparisons'}[{i}] {item.get('id', '?') if isinstance(item, dict) else ''}".strip()
        try:
            c = Comparison.model_validate(item)
        except ValidationError as exc:
            raise _problem(label, exc) from None
        if c.id in seen:
            raise UsageError(f"{label}: the id {c.id!r} is used twice", code="usage.measure")
        seen.add(c.id)
        out.append(c)
    return out


# ---- the packs' measures -------------------------------------------------------------------------------------

@cache
def published_measures() -> dict[str, Measure]:
    """Every pack's indicators (its indicator files), parsed once per process: packs are fixed when it starts."""
    return _pack_measures(lambda pack: pack.indicators, "indicators")


def all_measures(store: Store | None = None) -> dict[str, Measure]:
    """Every pack's measures: its indicators and the `measures:` list of its pack.yaml; with a store, also the
    indicators its users added to their own forms (`passage.forms.datasets.stored_measures`)."""
    if store is None:
        return _pack_all_measures()
    from passage.forms.datasets import stored_measures

    return {**stored_measures(store), **_pack_all_measures()}


@cache
def _pack_all_measures() -> dict[str, Measure]:
    own = _pack_measures(lambda pack: pack.spec.get("measures") or [], "measures")
    both = set(own) & set(published_measures())
    if both:
        raise UsageError(f"measure {min(both)!r} is both an indicator and a pack measure")
    return {**published_measures(), **own}


def _pack_measures(items: Callable[[Any], Any], what: str) -> dict[str, Measure]:
    from passage.plugins import available_packs, load_pack

    out: dict[str, Measure] = {}
    for pack_name in available_packs():
        for m in parse_measures(items(load_pack(pack_name)), pack_name, f"pack {pack_name} {what}"):
            if m.name in out:
                raise UsageError(f"packs {out[m.name].pack!r} and {pack_name!r} both define measure {m.name!r}")
            out[m.name] = m
    return out


def get_measure(name: str, store: Store | None = None) -> Measure:
    found = all_measures(store)
    if name not in found:
        raise NotFound(f"no measure {name!r} (have: {', '.join(sorted(found))})")
    return found[name]


# ---- compiling to Ibis ---------------------------------------------------------------------------------------

def _literal(col: ibis.Value, value: Any) -> Any:
    """A YAML value as the column's type (a date written as text compares with a date column)."""
    if isinstance(value, str) and not col.type().is_string():
        return ibis.literal(value).cast(col.type())
    return value


_XLSFORM_TYPES = (("is_integer", "integer"), ("is_floating", "decimal"), ("is_decimal", "decimal"),
                  ("is_timestamp", "dateTime"), ("is_date", "date"), ("is_boolean", "boolean"))


def _xlsform_fields(schema: ibis.Schema) -> dict[str, str]:
    """The table's columns as XLSForm types, for the expression compiler."""
    out = {}
    for name, typ in schema.items():
        out[name] = next((x for test, x in _XLSFORM_TYPES if getattr(typ, test)()), "text")
    return out


def _expr_sql(expression: str, schema: ibis.Schema, dialect: str) -> str:
    """An XLSForm expression as a SQL boolean for the store's dialect (PostgreSQL through sqlglot)."""
    import sqlglot
    from sqlglot import exp

    from passage.forms.expr import ExpressionError, to_sql

    try:
        sql = f"coalesce(({to_sql(expression, _xlsform_fields(schema))}), false)"
    except ExpressionError as exc:
        raise UsageError(f"expression {expression!r}: {exc.message} (at position {exc.position})",
                         code="usage.measure") from None
    if dialect == "duckdb":
        return sql

    def split(node: exp.Expression) -> exp.Expression:  # DuckDB's string_split is string_to_array here
        if isinstance(node, exp.Split) and dialect == "postgres":  # (Spark's split: sqlglot writes it)
            return exp.Anonymous(this="string_to_array", expressions=[node.this, node.expression])
        if isinstance(node, exp.RegexpFullMatch):  # regex() matches the whole text: ~ against the anchored pattern
            anchored = exp.Concat(expressions=[exp.Literal.string("^(?:"), node.expression, exp.Literal.string(")$")])
            return exp.RegexpLike(this=node.this, expression=exp.Paren(this=anchored))
        return node

    return sqlglot.parse_one(sql, read="duckdb").transform(split).sql(dialect=dialect)


def _expressions(m: Measure) -> list[str]:
    conds = [*m.where, *(m.share.numerator + m.share.denominator if m.share else [])]
    found: list[str] = []

    def visit(c: Condition) -> None:
        if c.expr is not None and c.expr not in found:
            found.append(c.expr)
        for sub in c.any_ or []:
            visit(sub)

    for c in conds:
        visit(c)
    return found


def _with_expressions(store: Store, t: ibis.Table, expressions: list[str]) -> tuple[ibis.Table, dict[str, str]]:
    """The table with one boolean column per XLSForm expression (`_expr_0`, ...), computed in SQL."""
    if not expressions:
        return t, {}
    dialect = {"duckdb": "duckdb", "spark": "pyspark"}.get(store.dialect, "postgres")
    names = {e: f"_expr_{i}" for i, e in enumerate(expressions)}
    cols = ", ".join(f'{_expr_sql(e, t.schema(), dialect)} AS "{n}"' for e, n in names.items())
    inner = ibis.to_sql(t, dialect=dialect)
    schema = ibis.schema({**dict(t.schema().items()), **{n: dt.boolean for n in names.values()}})
    return store.ibis().sql(f"SELECT *, {cols} FROM ({inner}) AS _m", schema=schema, dialect=dialect), names


def _condition(t: ibis.Table, c: Condition, exprs: dict[str, str]) -> Any:
    if c.expr is not None:
        return t[exprs[c.expr]]
    if c.any_ is not None:
        out = None
        for sub in c.any_:
            cond = _condition(t, sub, exprs)
            out = cond if out is None else out | cond
        return out
    if c.field not in t.columns:
        raise UsageError(f"no field {c.field!r} to filter on (have: {', '.join(t.columns)})", code="usage.measure")
    col = t[c.field]
    if "equals" in c.model_fields_set:
        return col.isnull() if c.equals is None else col == _literal(col, c.equals)
    if c.in_ is not None:
        return col.isin([_literal(col, v) for v in c.in_])
    if c.range is not None:
        lo, hi = c.range
        cond = ibis.literal(True)
        if lo is not None:
            cond &= col >= _literal(col, lo)
        if hi is not None:
            cond &= col <= _literal(col, hi)
        return cond
    return col.isnull() if c.is_null else col.notnull()


def _all(t: ibis.Table, conds: list[Condition], exprs: dict[str, str]) -> Any:
    out = ibis.literal(True)
    for c in conds:
        out &= _condition(t, c, exprs)
    return out


def _ancestors(store: Store, level: int) -> ibis.Table:
    """code -> its place (or ancestor) at `level`: the places table joined to itself up the parents."""
    places = store.ibis().table("places")
    steps = []
    for i in range(PLACE_DEPTH + 1):
        q = places.view()  # a fresh copy each step: Ibis cannot tell two uses of one table apart
        steps.append(q.select(**{f"c{i}": q.code, f"l{i}": q.level, f"p{i}": q.parent_code}))
    chain = steps[0]
    for i in range(1, len(steps)):
        chain = chain.left_join(steps[i], chain[f"p{i - 1}"] == steps[i][f"c{i}"])
    anc = ibis.cases(*[(chain[f"l{i}"] == level, chain[f"c{i}"]) for i in range(len(steps))],
                     else_=ibis.null("string"))
    return chain.select(code=chain.c0, anc=anc).filter(lambda x: x.anc.notnull())


def _grouped(store: Store, t: ibis.Table, m: Measure) -> ibis.Table:
    """The table with a column for each grouping that is not a plain field."""
    for g in m.by:
        if isinstance(g, str):
            if g not in t.columns:
                raise UsageError(f"measure {m.name}: no field {g!r} to group by (have: {', '.join(t.columns)})",
                                 code="usage.measure")
            continue
        if g.place_level is not None:
            anc = _ancestors(store, g.place_level).view()
            t = t.left_join(anc, t._place_code == anc.code).select(
                *[t[c] for c in t.columns], **{g.name: anc.anc})
        else:
            if g.field not in t.columns:
                raise UsageError(f"measure {m.name}: no field {g.field!r} to group by", code="usage.measure")
            col = t[g.field]
            if not (col.type().is_date() or col.type().is_timestamp()):
                raise UsageError(f"measure {m.name}: {g.field} is not a date, it has no {g.grain}",
                                 code="usage.measure")
            t = t.mutate(**{g.name: col.cast("date").truncate(GRAINS[g.grain])})
    return t


def _apply_filters(t: ibis.Table, filters: dict[str, Any] | None) -> ibis.Table:
    for col, val in (filters or {}).items():
        if val is not None:
            t = t.filter(t[col].isin(list(val)) if isinstance(val, (list, tuple)) else t[col] == val)
    return t


def _rows(store: Store, m: Measure, filters: dict[str, Any] | None, table: ibis.Table | None
          ) -> tuple[ibis.Table, dict[str, str]]:
    """The records a measure aggregates: its form's current records (or `table`), grouped and filtered."""
    if table is None:
        if m.form is None:
            raise UsageError(f"measure {m.name} names no form: give the table it runs over", code="usage.measure")
        table = store.ibis().table(m.form)
    t = _grouped(store, table, m)
    t, exprs = _with_expressions(store, t, _expressions(m))
    if m.where:
        t = t.filter(_all(t, m.where, exprs))
    return _apply_filters(t, filters), exprs


def _aggregates(t: ibis.Table, m: Measure, exprs: dict[str, str]) -> dict[str, Any]:
    kind = m.kind
    if kind == "share":
        assert m.share is not None
        den = _all(t, m.share.denominator, exprs)
        num = den & _all(t, m.share.numerator, exprs)
        return {"numerator": t.count(where=num), "denominator": t.count(where=den)}
    if kind == "count" and not m.fields:
        return {"value": t.count()}
    names = m.value_columns
    for f in m.fields:
        if f not in t.columns:
            raise UsageError(f"measure {m.name}: no field {f!r} (have: {', '.join(t.columns)})", code="usage.measure")
    op: Callable[[Any], Any] = {"sum": lambda c: c.sum(), "count": lambda c: c.count(),
                                "count_distinct": lambda c: c.nunique(),
                                "mean": lambda c: c.cast("float64").mean(),  # PostgreSQL: avg(int) is numeric
                                "min": lambda c: c.min(), "max": lambda c: c.max()}[kind]
    return {n: op(t[f]) for n, f in zip(names, m.fields)}


def _with_share(t: ibis.Table) -> ibis.Table:
    return t.mutate(value=t.numerator.cast("float64") / t.denominator.nullif(0).cast("float64")).select(
        *[c for c in t.columns if c not in ("numerator", "denominator")], "value", "numerator", "denominator")


def expression(store: Store, m: Measure, filters: dict[str, Any] | None = None,
               table: ibis.Table | None = None, as_of: str | None = None) -> ibis.Table:
    """The measure as an Ibis expression (not yet executed).

    `table` replaces the form's current records, e.g. with what a reader may see (`passage.access.readable`);
    `filters` ({field: value or [values]}) narrow the records before they are aggregated. `as_of` (a key of a
    measure with `latest`, e.g. its date) gives the measure as it stood at each value of that key: the latest
    row per place among those at or before it. A chart over time then ends on the figure the measure gives."""
    if m.derived is not None:
        return derived_expression(store, m, filters=filters)
    if as_of is not None and (m.latest is None or as_of not in m.keys):
        raise UsageError(f"measure {m.name}: as_of names a key of a measure with latest (keys: "
                         f"{', '.join(m.keys)})", code="usage.measure")
    t, exprs = _rows(store, m, filters, table)
    aggs = _aggregates(t, m, exprs)
    agg = t.group_by(m.keys).aggregate(**aggs) if m.keys else t.aggregate(**aggs)
    if m.kind == "share":
        agg = _with_share(agg)
    if m.change:  # before latest: the latest row keeps its change against the round before
        w = ibis.window(group_by=m.change.per, order_by=m.change.order)
        agg = agg.mutate(previous=agg.value.lag().over(w))
        agg = agg.mutate(change=agg.value - agg.previous,
                         change_pct=((agg.value - agg.previous) * 100.0 / agg.previous.nullif(0)).round(2))
    if m.latest:
        per = list(m.latest.per)
        if as_of is not None:
            points = agg.select(_as_of=agg[as_of]).distinct()
            agg = agg.cross_join(points).filter(lambda x: x[as_of] <= x._as_of)
            per.append("_as_of")
        w = ibis.window(group_by=per, order_by=[ibis.desc(c) for c in m.latest.order])
        agg = agg.mutate(_rank=ibis.row_number().over(w)).filter(lambda x: x._rank == 0).drop("_rank")
        if as_of is not None:
            agg = agg.drop(as_of).rename({as_of: "_as_of"})
    if m.rollup is not None:
        rollup = [*m.rollup, as_of] if as_of is not None and as_of not in m.rollup else list(m.rollup)
        summed = ["numerator", "denominator"] if m.kind == "share" else list(m.value_columns)
        if m.change and m.kind != "share":
            summed.append("change")  # over the places reported in two rounds; `previous` follows from it
        agg = agg.group_by(rollup).aggregate(**{n: agg[n].sum() for n in summed}) if rollup else \
            agg.aggregate(**{n: agg[n].sum() for n in summed})
        if m.kind == "share":
            agg = _with_share(agg)
        if m.change and m.kind != "share":
            agg = agg.mutate(previous=agg.value - agg.change.fill_null(0))
            agg = agg.mutate(change=agg.value - agg.previous,
                             change_pct=(agg.change * 100.0 / agg.previous.nullif(0)).round(2))
        return agg.order_by(rollup) if rollup else agg
    return agg.order_by(m.keys) if m.keys else agg


def compute(store: Store, measure: Measure | str, filters: dict[str, Any] | None = None,
            table: ibis.Table | None = None, as_of: str | None = None) -> Any:
    """The measure's rows as a pyarrow Table (`as_of`: see `expression`)."""
    m = get_measure(measure, store) if isinstance(measure, str) else measure
    return expression(store, m, filters, table, as_of).to_pyarrow()


# ---- derived measures: arithmetic over other measures -------------------------------------------------------

_FORMULA_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call, ast.Add,
                  ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)
Leaf = tuple[str, str, int]  # (measure, period key or "", steps back)


def _formula(text: str) -> tuple[ast.expr, list[Leaf]]:
    """A formula parsed with `ast` (never evaluated by Python) and the measures it reads, in order.

    Measure names, numbers, + - * / and before(measure, key[, steps]): the measure's value `steps` periods
    (default 1) before, read on each row's period; `key` is an integer key (a year, a round number)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot read the formula {text!r}: {exc.msg}") from None
    leaves: list[Leaf] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            args = node.args
            if not (isinstance(node.func, ast.Name) and node.func.id == "before"):
                raise ValueError(f"unknown function in {text!r}: a formula knows only before(measure, key[, steps])")
            if (node.keywords or len(args) not in (2, 3) or not all(isinstance(a, ast.Name) for a in args[:2])
                    or (len(args) == 3 and not (isinstance(args[2], ast.Constant) and type(args[2].value) is int
                                                and args[2].value > 0))):
                raise ValueError(f"before() in {text!r} is before(measure, key) or before(measure, key, steps)")
            leaf = (args[0].id, args[1].id, args[2].value if len(args) == 3 else 1)  # type: ignore[attr-defined]
        elif not isinstance(node, _FORMULA_NODES):
            raise ValueError(  # noqa: TRY004  (pydantic reports a ValueError at the key)
                f"{type(node).__name__} is not allowed in a formula ({text!r}): it holds measure "
                             "names, numbers, + - * / and before(measure, key)")
        elif isinstance(node, ast.Constant) and type(node.value) not in (int, float):
            raise ValueError(f"{node.value!r} in {text!r}: a formula's constants are numbers")
        elif isinstance(node, ast.Name):
            leaf = (node.id, "", 0)
        else:
            for child in ast.iter_child_nodes(node):
                visit(child)
            return
        if leaf not in leaves:
            leaves.append(leaf)

    visit(tree)
    return tree.body, leaves


def formula_names(text: str) -> list[str]:
    """The measures a formula reads (a plain measure name reads itself); ValueError when it is not a formula."""
    return list(dict.fromkeys(name for name, _, _ in _formula(text)[1]))


def _check_derived(m: Measure) -> None:
    if m.form or m.where or m.by or m.latest or m.change or m.rollup is not None:
        raise ValueError("a derived measure takes its rows from the measures it names: no form, where, by, latest, "
                         "change or rollup beside `derived`")
    if m.name in formula_names(m.derived or ""):
        raise ValueError(f"a derived measure cannot read itself ({m.name})")


def _arithmetic(node: ast.expr, t: ibis.Table, columns: dict[Leaf, str]) -> Any:
    if isinstance(node, ast.Constant):
        return ibis.literal(node.value)
    if isinstance(node, ast.Name):
        return t[columns[(node.id, "", 0)]]
    if isinstance(node, ast.Call):
        args = node.args
        return t[columns[(args[0].id, args[1].id, args[2].value if len(args) == 3 else 1)]]  # type: ignore[attr-defined]
    if isinstance(node, ast.UnaryOp):
        value = _arithmetic(node.operand, t, columns)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.BinOp)
    a, b = _arithmetic(node.left, t, columns), _arithmetic(node.right, t, columns)
    if isinstance(node.op, ast.Add):
        return a + b
    if isinstance(node.op, ast.Sub):
        return a - b
    if isinstance(node.op, ast.Mult):
        return a * b
    return a.cast("float64") / b.cast("float64").nullif(0)  # x / 0 has no value (the row is skipped)


def _part(store: Store | None, m: Measure, measures: dict[str, Measure], tables: dict[str, ibis.Table] | None,
          filters: dict[str, Any] | None, seen: tuple[str, ...]) -> ibis.Table:
    """One measure a formula reads: over the table `tables` gives for its form, else its form's records."""
    if m.derived is not None:
        return derived_expression(store, m, measures=measures, tables=tables, filters=filters, _seen=seen)
    table = (tables or {}).get(m.form or "")
    if table is None and store is None:
        raise NotFound(f"measure {m.name}: no table {m.form!r} given")
    return expression(store, m, filters, table)  # type: ignore[arg-type]  # a given table needs no store


def derived_expression(store: Store | None, m: Measure, *, measures: dict[str, Measure] | None = None,
                       tables: dict[str, ibis.Table] | None = None, filters: dict[str, Any] | None = None,
                       _seen: tuple[str, ...] = ()) -> ibis.Table:
    """A derived measure as an Ibis expression: the measures it names, joined on the keys they share (a row
    needs every one of them), and its formula over their values.

    `measures` resolves the names (default: every pack's); `tables` gives a form's rows by name (memtables of
    a report's printed tables: a store is then not needed)."""
    known = measures if measures is not None else all_measures()
    if m.name in _seen:
        raise UsageError(f"measure {m.name}: its formula reads itself through {' -> '.join(_seen)}",
                         code="usage.measure")
    tree, leaves = _formula(m.derived or "")
    joined: ibis.Table | None = None
    keys: list[str] = []
    columns: dict[Leaf, str] = {}
    for i, (name, key, steps) in enumerate(leaves):
        if name not in known:
            raise UsageError(f"measure {m.name}: no measure {name!r} to read", code="usage.measure")
        t = _part(store, known[name], known, tables, filters, (*_seen, m.name))
        if "value" not in t.columns:
            raise UsageError(f"measure {m.name}: {name} has no single value (it gives {', '.join(t.columns)})",
                             code="usage.measure")
        part_keys = [c for c in t.columns if c not in VALUE_NAMES]
        if key:
            if key not in part_keys or not t[key].type().is_integer():
                raise UsageError(f"measure {m.name}: before({name}, {key}) needs an integer key {key!r} of {name} "
                                 f"(keys: {', '.join(part_keys) or 'none'})", code="usage.measure")
            t = t.mutate(**{key: t[key] + steps})  # the value of `steps` periods before, on this period's row
        columns[(name, key, steps)] = f"_v{i}"
        t = t.select(*part_keys, **{f"_v{i}": t.value})
        if joined is None:
            joined, keys = t, part_keys
            continue
        shared = [k for k in keys if k in part_keys]
        joined = joined.inner_join(t, shared) if shared else joined.cross_join(t)
        keys += [k for k in part_keys if k not in keys]
    if joined is None:  # a formula of constants
        joined = ibis.memtable(pa.table({"_one": [1]}))
    out = joined.select(*keys, value=_arithmetic(tree, joined, columns))
    return out.order_by(keys) if keys else out


def rows_of(store: Store | None, measures: dict[str, Measure] | None = None,
            tables: dict[str, ibis.Table] | None = None, filters: dict[str, Any] | None = None) -> Side:
    """`compare`'s sides: a measure's rows by its name, or a formula's (a derived measure written in place)."""
    known = measures if measures is not None else all_measures()

    def rows(spec: str) -> list[dict[str, Any]]:
        m = known.get(spec) or Measure(name=spec, derived=spec)
        t = derived_expression(store, m, measures=known, tables=tables, filters=filters) if m.derived is not None \
            else _part(store, m, known, tables, filters, ())
        return t.to_pyarrow().to_pylist()

    return rows


def derived_provenance(store: Store, m: Measure, row: dict[str, Any], filters: dict[str, Any] | None = None,
                       measures: dict[str, Measure] | None = None) -> Provenance:
    """The records behind a derived row: those of each measure it reads, at that measure's keys (the period
    before for before())."""
    known = measures if measures is not None else all_measures()
    out = Provenance()
    for name, key, steps in _formula(m.derived or "")[1]:
        part = known[name]
        part_keys = [c for c in _part(store, part, known, None, filters, ()).columns if c not in VALUE_NAMES]
        sub = {k: row[k] for k in part_keys if k in row}
        if key and sub.get(key) is not None:
            sub[key] -= steps
        found = derived_provenance(store, part, sub, filters, known) if part.derived is not None \
            else provenance(store, part, sub, filters)
        out.record_ids = sorted({*out.record_ids, *found.record_ids})
        out.sources = sorted([*out.sources, *(s for s in found.sources if s not in out.sources)],
                             key=lambda s: s.import_id)  # as provenance lists them: by import (stable within one)
    return out


# ---- provenance --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A file behind a figure: the import that loaded it, its name and its archived hash."""
    import_id: int
    file: str
    sha256: str

    @property
    def text(self) -> str:
        return f"{self.file} (sha256 {self.sha256[:12]}, import {self.import_id})"


@dataclass
class Provenance:
    record_ids: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


def _key_rows(store: Store, m: Measure, row: dict[str, Any], filters: dict[str, Any] | None,
              table: ibis.Table | None) -> tuple[ibis.Table, ibis.Table | None]:
    """The records an output row counts, and (after latest or rollup) the key rows it was made of."""
    t, exprs = _rows(store, m, filters, table)
    if m.kind == "share":
        assert m.share is not None
        t = t.filter(_all(t, m.share.denominator, exprs), _all(t, m.share.numerator, exprs))
    out_keys = m.rollup if m.rollup is not None else m.keys
    unknown = [k for k in row if k not in out_keys]
    if unknown or set(out_keys) - set(row):
        raise UsageError(f"measure {m.name}: a row is given by {', '.join(out_keys) or 'nothing'} "
                         f"(got {', '.join(row) or 'nothing'})", code="usage.measure")
    if not (m.latest or m.rollup is not None):
        return (t.filter(*[t[k].identical_to(_literal(t[k], v)) for k, v in row.items()]) if row else t), None
    # After latest or a rollup, a row stands for some rows of the aggregate: find their keys first.
    kept = expression(store, m.model_copy(update={"rollup": None, "change": None}), filters, table)
    kept = kept.filter(*[kept[k].identical_to(_literal(kept[k], v)) for k, v in row.items()]).select(*m.keys)
    return t, kept


def provenance(store: Store, measure: Measure | str, row: dict[str, Any] | None = None,
               filters: dict[str, Any] | None = None, table: ibis.Table | None = None) -> Provenance:
    """The records behind one output row (given by its key columns; none for a measure without keys) and
    the files they were imported from. A share's records are those of its numerator."""
    m = get_measure(measure) if isinstance(measure, str) else measure
    if m.derived is not None:
        return derived_provenance(store, m, row or {}, filters)
    t, kept = _key_rows(store, m, row or {}, filters, table)
    if kept is not None:
        keys = m.keys
        t = t.semi_join(kept, [t[k].identical_to(kept[k]) for k in keys]) if keys else t
    found = t.select("_record_id", "_import_id").distinct().to_pyarrow().to_pylist()
    ids = sorted({r["_record_id"] for r in found})
    imports = sorted({r["_import_id"] for r in found if r["_import_id"] is not None})
    return Provenance(ids, sources(store, imports))


def sources(store: Store, import_ids: list[int]) -> list[Source]:
    """The files of some imports, in the order each import read them."""
    if not import_ids:
        return []
    marks = ", ".join("?" for _ in import_ids)
    rows = store.query(
        f"SELECT f.import_id, coalesce(x.name, f.sha256), f.sha256 FROM import_files f "
        f"LEFT JOIN files x ON x.sha256 = f.sha256 WHERE f.import_id IN ({marks}) "
        "ORDER BY f.import_id, f.position", [int(i) for i in import_ids])
    return [Source(int(i), name, sha) for i, name, sha in rows]


# ---- comparisons -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ComparisonResult:
    id: str
    description: str
    left: float
    operator: str
    right: float
    severity: str
    ok: bool
    where: dict[str, Any] = field(default_factory=dict)  # the shared keys of the row compared
    tolerance: float = 0.0


@dataclass(frozen=True)
class Skipped:
    id: str
    where: dict[str, Any]
    reason: str


Side = Callable[[str], list[dict[str, Any]]]


def compare(comparison: Comparison, rows_of: Side, skipped: list[Skipped] | None = None) -> list[ComparisonResult]:
    """Compare two sides row by row on the keys they share; `rows_of(name)` gives a measure's rows
    (`compute(...).to_pylist()`, or rows of a table the caller computed). A row only one side has, or
    without a value, is skipped (listed in `skipped` when a list is passed), never failed."""
    c = comparison

    def side(spec: str | float) -> tuple[list[str], list[dict[str, Any]]] | float:
        if not isinstance(spec, str):
            return float(spec)
        rows = rows_of(spec)
        keys = [k for k in (rows[0] if rows else {}) if k not in VALUE_NAMES]
        return keys, rows

    left, right = side(c.left), side(c.right)
    sides = [s for s in (left, right) if not isinstance(s, float)]
    shared = [k for k in (sides[0][0] if sides else []) if all(k in s[0] for s in sides)]

    def by_key(s: tuple[list[str], list[dict[str, Any]]] | float) -> dict[tuple, Any] | float:
        """A side's values per shared key (rows that differ only in other keys are summed)."""
        if isinstance(s, float):
            return s
        out: dict[tuple, Any] = {}
        for r in s[1]:
            key = tuple(r.get(k) for k in shared)
            if r.get("value") is not None:
                out[key] = (out.get(key) or 0) + r["value"]
            else:
                out.setdefault(key, None)
        return out

    lv, rv = by_key(left), by_key(right)
    chosen = [s for name, s in (("left", lv), ("right", rv)) if c.over in (None, name) and isinstance(s, dict)]
    keys = list(dict.fromkeys(k for s in chosen for k in s))
    out = []
    for key in keys or [()]:
        where = dict(zip(shared, key))
        a = lv if isinstance(lv, float) else lv.get(key)
        b = rv if isinstance(rv, float) else rv.get(key)
        if a is None or b is None:
            if skipped is not None:
                skipped.append(Skipped(c.id, where, f"no {'left' if a is None else 'right'} value"))
            continue
        tol = c.allowance(float(b))
        out.append(ComparisonResult(c.id, c.description, a, c.operator, b, c.severity,
                                    OPERATORS[c.operator](float(a), float(b), tol + 1e-9), where, tol))
    return out

