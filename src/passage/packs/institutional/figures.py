"""The questionnaire's figures: "N offices (x %)" with the denominator said, sums with their breakdowns,
participation, and the pack's figures with earlier years beside them.

The figures are the pack's `measures:` (pack.yaml, in the measure language of passage.measures). This module
adds the pack's own business: which answers count, given to each measure as its table — the current version
of each office's record for the year whose questionnaire is in one of the pack's `counted` states (submitted,
approved, locked; drafts do not count) — how a figure is printed, and where its records are listed.
Denominators:

* `all` (`denominator: []`) — every office whose questionnaire counts that year (the offices that reported);
* `answered` (`denominator: [{field: q, is_null: false}]`) — those of them that answered the question (a
  skipped or not-applicable question is left out).

By region (`{place_level: 11}`): a country office counts in its regional office's region, a regional office
in its own. Every figure carries the record ids it was computed from (`<office>|<year>`, the measure's
provenance) and a portal link listing them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

import ibis

from passage.errors import NotFound, UsageError
from passage.measures import Condition, Measure, compute, parse_measures, provenance
from passage.packs.institutional.form import FORM_ID, PACK, load_questionnaire
from passage.packs.institutional.offices import KIND, KIND_OF_LEVEL, LEVELS
from passage.store import Store

DENOMINATORS = ("all", "answered")
BY_REGION = "region"  # a column of the answers that count
_SELECTED = re.compile(r"selected\(\$\{(\w+)\},\s*'([^']*)'\)")
_REFERENCE = re.compile(r"\$\{(\w+)\}")


def percent(share: float | None) -> int | None:
    """A share as a whole percentage, halves rounded up (77 for 0.7692, 60 for 0.6036)."""
    if share is None:
        return None
    return int(Decimal(str(share * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _grouped(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


@dataclass
class _Traced:
    """A figure whose records are looked up when first asked for (a page listing many figures needs none)."""

    records: Callable[[], list[str]] = field(default=list, repr=False, compare=False, kw_only=True)

    @cached_property
    def record_ids(self) -> list[str]:
        """The office records behind the figure: `<office>|<year>`."""
        return self.records()


@dataclass
class Share(_Traced):
    group: str | None  # region (its regional office's code), or None for all offices
    count: int
    denominator: int
    share: float | None  # 0..1; None when the denominator is 0
    name: str | None = None  # the region's name
    question: str = ""
    value: str | None = None
    denominator_kind: str = "all"
    year: int | None = None

    @property
    def percent(self) -> int | None:
        return percent(self.share)

    @property
    def text(self) -> str:
        pct = "–" if self.share is None else f"{self.percent} %"
        return f"{self.count} offices ({pct})"

    @property
    def trace(self) -> str:
        """A portal link listing the records behind the figure."""
        link = f"/questionnaire/{self.year}/trace?question={self.question}&denominator={self.denominator_kind}"
        link += f"&value={self.value}" if self.value is not None else ""
        return link + (f"&region={self.group}" if self.group else "")


@dataclass
class RegionParticipation:
    region: str | None
    name: str
    offices: int  # expected to answer
    submitted: int  # submitted, approved or locked
    approved: int  # approved or locked
    locked: int
    drafts: int
    not_started: int

    @property
    def rate(self) -> float | None:
        return self.submitted / self.offices if self.offices else None

    @property
    def percent(self) -> int | None:
        return percent(self.rate)


@dataclass
class Participation:
    year: int
    total: RegionParticipation
    regions: list[RegionParticipation]
    missing: list[dict[str, Any]]  # offices that have not submitted: code, name, region, state

    @property
    def rate(self) -> float | None:
        return self.total.rate

    @property
    def text(self) -> str:
        return f"{self.total.percent} %" if self.total.rate is not None else "–"


@dataclass
class IndicatorValue(_Traced):
    name: str
    title: str
    kind: str  # share (of offices; a count of offices is its numerator) | sum | breakdown (a sum of parts)
    year: int
    value: int | None
    denominator: int | None  # offices the share is over (share), offices that reported (sum, breakdown)
    denominator_kind: str | None
    share: float | None
    text: str
    measure: Measure
    question: str | None = None
    choice: str | None = None
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # breakdown: part -> value, share
    prior: dict[int, int | None] = field(default_factory=dict)  # earlier years with answers: year -> value
    by_region: list[Share] = field(default_factory=list)

    @property
    def percent(self) -> int | None:
        return percent(self.share)

    @property
    def record_count(self) -> int:
        """How many office records are behind the figure, without listing them (a share: its numerator)."""
        return self.value if self.kind == "share" and self.value is not None else len(self.record_ids)

    @property
    def definition(self) -> str:
        """The measure in one line, e.g. "share of records with collected_data = 'yes' among all records"."""
        return self.measure.describe()

    @property
    def change(self) -> int | None:
        """Against the year before, when it was asked then."""
        before = self.prior.get(self.year - 1)
        return None if before is None or self.value is None else self.value - before

    @property
    def trace(self) -> str:
        return f"/questionnaire/{self.year}/figures/{self.name}"


# ---- the answers that count --------------------------------------------------------------------------------

def _offices(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.query("SELECT code, name, level, parent_code, valid_from FROM places WHERE kind = ?", [KIND])
    out = {}
    for code, name, level, parent, valid_from in rows:
        kind = KIND_OF_LEVEL.get(level, "country")
        region = code if kind == "regional" else (parent if kind == "country" else None)
        out[code] = {"code": code, "name": name, "kind": kind, "region": region, "valid_from": valid_from}
    return out


def _region_names(offices: dict[str, dict[str, Any]]) -> dict[str | None, str]:
    names: dict[str | None, str] = {o["code"]: o["name"] for o in offices.values() if o["kind"] == "regional"}
    names[None] = "Headquarters"
    return names


@dataclass(frozen=True)
class _Sources:
    """The tables the answers that count are drawn from, looked up once for many figures."""

    records: ibis.Table
    states: ibis.Table  # the questionnaires in a `counted` state
    offices: ibis.Table  # code -> region: a regional office's own code, a country office's parent, none for HQ

    @classmethod
    def of(cls, store: Store) -> _Sources | None:
        if not store.table_exists(f"rec_{FORM_ID}"):
            return None
        counted = list(load_questionnaire().spec.get("counted", ["submitted", "approved", "locked"]))
        con = store.ibis()
        states, places = con.table("questionnaire_states"), con.table("places")
        offices = places.filter(places.kind == KIND)
        region = ibis.cases((offices.level == LEVELS["regional"], offices.code),
                            (offices.level == LEVELS["country"], offices.parent_code), else_=ibis.null("string"))
        return cls(con.table(FORM_ID), states.filter(states.state.isin(counted)),
                   offices.select(code=offices.code, region=region))

    def answers(self, year: int | None = None, questions: list[str] | None = None) -> ibis.Table:
        rec = self.records
        if questions is not None:
            rec = rec.select("_record_id", "_import_id", "_place_code", "office", "year",
                             *[q for q in dict.fromkeys(questions) if q not in ("office", "year")])
        t = rec.semi_join(self.states, [rec.office == self.states.office_code, rec.year == self.states.year])
        t = t.inner_join(self.offices, t.office == self.offices.code).select(*rec.columns, "region")
        return t if year is None else t.filter(t.year == int(year))


def answers(store: Store, year: int | None = None, questions: list[str] | None = None) -> ibis.Table | None:
    """The answers that count, of one year or of every year: the table each figure's measure runs over
    (records of offices the store knows, whose questionnaire is in a `counted` state), with the office's
    `region`; None before any questionnaire was imported. `questions` keeps only those columns besides the
    record's own (Ibis compiles a narrow table much faster)."""
    sources = _Sources.of(store)
    return None if sources is None else sources.answers(year, questions)


def _measure(spec: dict[str, Any]) -> Measure:
    return parse_measures([{"form": FORM_ID, **spec}], PACK, "questionnaire figure")[0]


def _regrouped(m: Measure, by: list[Any]) -> Measure:
    """The same measure grouped by other keys (by year, by region), checked again."""
    return _measure({**m.model_dump(by_alias=True, exclude_unset=True), "by": by})


# ---- "N offices (x %)" ------------------------------------------------------------------------------------------

def _share_measure(question: str, value: str | None, denominator: str) -> Measure:
    """Offices giving `value` to `question` (any answer when None; a choice of a select_multiple counts
    when it is among those picked) over the denominator."""
    q = load_questionnaire().question(question)
    if value is None:
        hit: dict[str, Any] = {"field": question, "is_null": False}
    elif q.type == "select_multiple":
        if value not in dict(q.choices):
            raise UsageError(f"{question} has no choice {value!r} (have: {', '.join(dict(q.choices))})")
        hit = {"expr": f"selected(${{{question}}}, '{value}')"}
    else:
        hit = {"field": question, "equals": value}
    return _measure({"name": f"{question}_offices", "share": {
        "numerator": [hit], "denominator": [] if denominator == "all" else [{"field": question, "is_null": False}]}})


def _asked(c: Condition) -> tuple[str | None, str | None]:
    """The question and choice a condition tests: (gender_areas, violence) for selected(${gender_areas}, 'violence')."""
    if c.expr is not None:
        hit = _SELECTED.fullmatch(c.expr.strip())
        ref = _REFERENCE.search(c.expr)
        return (hit[1], hit[2]) if hit else (ref[1] if ref else None, None)
    if c.field is not None:
        return c.field, (str(c.equals) if "equals" in c.model_fields_set and c.equals is not None else None)
    return None, None


def _questions(m: Measure) -> list[str]:
    """The questions a figure reads (when nobody answered them, the figure is left out)."""
    found = list(m.fields)

    def visit(c: Condition) -> None:
        if c.any_ is not None:
            for sub in c.any_:
                visit(sub)
        elif c.expr is not None:
            found.extend(_REFERENCE.findall(c.expr))
        elif c.field is not None:
            found.append(c.field)

    for c in [*m.where, *(m.share.numerator + m.share.denominator if m.share else [])]:
        visit(c)
    return list(dict.fromkeys(found))


def _shares(store: Store, m: Measure, year: int, rows: list[dict[str, Any]], by_region: bool) -> list[Share]:
    """Shares from a share measure's rows of one year: one in all, or one per region (every regional office,
    and headquarters when it answered)."""
    assert m.share is not None
    question, value = _asked(m.share.numerator[0])
    kind = "all" if not m.share.denominator else "answered"

    def one(group: str | None, name: str | None, got: list[dict[str, Any]]) -> Share:
        num, den = sum(r["numerator"] for r in got), sum(r["denominator"] for r in got)
        measure, row = (_regrouped(m, [BY_REGION]), {"region": group}) if by_region else (_regrouped(m, []), {})
        return Share(group, num, den, num / den if den else None, name, question or "", value, kind, int(year),
                     records=lambda: provenance(store, measure, row, table=answers(store, year, _questions(m)))
                     .record_ids)

    if not by_region:
        return [one(None, None, rows)]
    names = _region_names(_offices(store))
    regions = sorted({r["region"] for r in rows} | {c for c in names if c}, key=lambda c: (c is None, c or ""))
    return [one(g, names.get(g), [r for r in rows if r["region"] == g]) for g in regions]


def office_share(store: Store, year: int, question: str, value: str | None = None, *, denominator: str = "all",
                 by: str | None = None) -> list[Share]:
    """Offices giving `value` to `question` (any answer when None; a choice of a select_multiple counts
    when it is among those picked) over the denominator: one Share, or one per region with `by="region"`."""
    if denominator not in DENOMINATORS:
        raise UsageError(f"denominator must be one of {', '.join(DENOMINATORS)}")
    if by not in (None, "region"):
        raise UsageError("by must be None or 'region'")
    m = _share_measure(question, value, denominator)
    table = answers(store, year, _questions(m))
    rows = [] if table is None else compute(store, _regrouped(m, [BY_REGION]), table=table).to_pylist()
    return _shares(store, m, year, rows, by == "region")


# ---- sums and their parts ---------------------------------------------------------------------------------------

def _parts(sums: dict[str, int]) -> dict[str, dict[str, Any]]:
    grand = sum(sums.values())
    return {p: {"value": v, "share": (v / grand) if grand else None, "percent": percent(v / grand) if grand else None}
            for p, v in sums.items()}


def _sums(m: Measure, row: dict[str, Any]) -> dict[str, int]:
    """A sum measure's row as field -> sum (a single field's sum is its `value`)."""
    return {f: row.get(col) or 0 for f, col in zip(m.fields, m.value_columns)}


def breakdown_sum(store: Store, year: int, field_parts: list[str], total: str | None = None) -> dict[str, Any]:
    """Parts of a count summed over the offices that report them, each with its share of their sum.

    With `total` (the form's total field), its sum is returned beside the parts' as `reported_total`,
    and `consistent` says whether the two agree."""
    qn = load_questionnaire()
    for name in [*field_parts, *([total] if total else [])]:
        if qn.question(name).type not in ("integer", "decimal"):
            raise UsageError(f"{name} is not a count")
    m = _measure({"name": "breakdown", "sum": list(dict.fromkeys([*field_parts, *([total] if total else [])])),
                  "where": [{"any": [{"field": p, "is_null": False} for p in field_parts]}]})
    table = answers(store, year, _questions(m))
    rows = [] if table is None else compute(store, m, table=table).to_pylist()
    sums = _sums(m, rows[0] if rows else {})
    ids = [] if table is None else provenance(store, m, table=table).record_ids
    parts = {p: sums[p] for p in field_parts}
    out: dict[str, Any] = {"year": int(year), "total": sum(parts.values()), "parts": _parts(parts),
                           "offices": len(ids), "record_ids": ids}
    if total:
        out["reported_total"] = sums[total]
        out["consistent"] = out["reported_total"] == out["total"]
    return out


def participation(store: Store, year: int) -> Participation:
    """Offices expected to answer (the pack's `respondents` kinds, open by that year) against those that
    submitted, by region; and who has not."""
    from passage.packs.institutional.workflow import NOT_STARTED, states

    qn = load_questionnaire()
    kinds = set(qn.spec.get("respondents", ["regional", "country"]))
    offices = _offices(store)
    names = _region_names(offices)
    now = states(store, year)
    expected = [o for o in offices.values() if o["kind"] in kinds
                and (o["valid_from"] is None or o["valid_from"].year <= int(year))]

    def tally(group: list[dict[str, Any]], region: str | None, name: str) -> RegionParticipation:
        got = [now.get(o["code"], NOT_STARTED) for o in group]
        return RegionParticipation(region, name, len(group),
                                   sum(s in ("submitted", "approved", "locked") for s in got),
                                   sum(s in ("approved", "locked") for s in got), sum(s == "locked" for s in got),
                                   sum(s == "draft" for s in got), sum(s == NOT_STARTED for s in got))

    regions = sorted({o["region"] for o in expected}, key=lambda c: (c is None, c or ""))
    missing = [{"code": o["code"], "name": o["name"], "region": o["region"], "region_name": names.get(o["region"]),
                "state": now.get(o["code"], NOT_STARTED)}
               for o in sorted(expected, key=lambda o: (o["region"] or "", o["code"]))
               if now.get(o["code"], NOT_STARTED) in ("draft", NOT_STARTED)]
    return Participation(int(year), tally(expected, None, "All offices"),
                         [tally([o for o in expected if o["region"] == r], r, names.get(r, r or "")) for r in regions],
                         missing)


# ---- the pack's figures ---------------------------------------------------------------------------------------

def figure_measures() -> dict[str, Measure]:
    """The pack's questionnaire figures: its measures over the questionnaire, in pack.yaml's order."""
    from passage.plugins import load_pack

    spec = load_pack(PACK).spec.get("measures") or []
    return {m.name: m for m in parse_measures(spec, PACK, f"pack {PACK} measures") if m.form == FORM_ID}


def _reported(table: ibis.Table, questions: list[str]) -> dict[int, tuple[int, set[str]]]:
    """Per year: the offices whose answers count, and the questions at least one of them answered."""
    agg = table.group_by("year").aggregate(_reported=table.count(), **{q: table[q].count() for q in questions})
    return {int(r["year"]): (r["_reported"], {q for q in questions if r[q]}) for r in agg.to_pyarrow().to_pylist()}


def _figure(store: Store, sources: _Sources, m: Measure, year: int, rows: list[dict[str, Any]], reported: int) -> IndicatorValue:
    """One figure of one year from its measure's rows of that year (by region for a share)."""
    base = {"name": m.name, "title": m.title or m.name, "year": int(year), "measure": m}
    if m.kind == "share":
        regions = _shares(store, m, year, rows, True)
        total = _shares(store, m, year, rows, False)[0]
        fmt = {"value": total.share, "numerator": _grouped(total.count), "denominator": _grouped(total.denominator),
               "percent": total.percent}
        return IndicatorValue(**base, kind="share", value=total.count, denominator=total.denominator,
                              denominator_kind=total.denominator_kind, share=total.share,
                              text=(m.text or "{numerator} offices").format(**fmt), question=total.question,
                              choice=total.value, by_region=regions, records=lambda: total.record_ids)
    ids = provenance(store, m, table=sources.answers(year, _questions(m))).record_ids
    sums = _sums(m, rows[0] if rows else {})
    if len(m.fields) == 1:
        value = sums[m.fields[0]]
        fmt = {"value": _grouped(value), "offices": _grouped(len(ids)), "denominator": _grouped(reported)}
        return IndicatorValue(**base, kind="sum", value=value, denominator=reported, denominator_kind="all",
                              share=None, text=(m.text or "{value}").format(**fmt), question=m.fields[0],
                              records=lambda: ids)
    parts = _parts(sums)
    value = sum(sums.values())
    fmt = {"total": _grouped(value), "offices": _grouped(len(ids)), "denominator": _grouped(reported),
           **{f"percent_{p}": v["percent"] for p, v in parts.items()}, **{p: _grouped(v) for p, v in sums.items()}}
    return IndicatorValue(**base, kind="breakdown", value=value, denominator=reported, denominator_kind="all",
                          share=None, text=(m.text or "{total}").format(**fmt), parts=parts, records=lambda: ids)


def _value(m: Measure, rows: list[dict[str, Any]]) -> int:
    """A figure's number from its rows: offices counted (share) or the sum of its fields."""
    if m.kind == "share":
        return sum(r["numerator"] for r in rows)
    return sum(sum(_sums(m, r).values()) for r in rows)


def indicator_values(store: Store, year: int, names: list[str] | None = None) -> dict[str, IndicatorValue]:
    """The pack's questionnaire figures for a year, by name, each with its earlier years' values (`prior`)
    where those questionnaires asked it; a figure nobody answered that year is left out."""
    measures = figure_measures()
    if names:
        unknown = set(names) - set(measures)
        if unknown:
            raise NotFound(f"no questionnaire figure {', '.join(sorted(unknown))} (have: {', '.join(measures)})")
        measures = {n: measures[n] for n in names}
    sources = _Sources.of(store)
    if sources is None:
        return {}
    table = sources.answers()
    reported = _reported(table, sorted({q for m in measures.values() for q in _questions(m)}))
    if int(year) not in reported:
        return {}
    out = {}
    for name, m in measures.items():
        asked = [y for y, (_, answered) in sorted(reported.items(), reverse=True)
                 if y <= int(year) and answered & set(_questions(m))]
        if int(year) not in asked:
            continue
        # one query for every year (and region, for a share): the figure, its regions and its earlier years
        grouped = _regrouped(m, ["year", BY_REGION] if m.kind == "share" else ["year"])
        narrow = sources.answers(None, _questions(m))
        rows = compute(store, grouped, table=narrow.filter(narrow.year.isin(asked))).to_pylist()
        of_year = {y: [r for r in rows if r["year"] == y] for y in asked}
        value = _figure(store, sources, m, year, of_year[int(year)], reported[int(year)][0])
        value.prior = {y: _value(m, of_year[y]) for y in asked if y != int(year)}
        out[name] = value
    return out
