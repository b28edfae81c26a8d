"""The questionnaire's figures: "N offices (x %)" with the denominator said, sums with their breakdowns,
participation, and the pack's indicators with earlier years beside them.

Which answers count: the current version of each office's record for the year whose questionnaire is in
one of the pack's `counted` states (submitted, approved, locked); drafts do not count. Denominators:

* `all` — every office whose questionnaire counts that year (the offices that reported);
* `answered` — those of them that answered the question (a skipped or not-applicable question is left out).

By region: a country office counts in its regional office's region, a regional office in its own.
Every figure carries the record ids it was computed from (`<office>|<year>`) and a portal link listing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from passage.errors import NotFound, UsageError
from passage.packs.institutional.form import FORM_ID, load_questionnaire
from passage.packs.institutional.offices import KIND, KIND_OF_LEVEL
from passage.store import Store

DENOMINATORS = ("all", "answered")


def percent(share: float | None) -> int | None:
    """A share as a whole percentage, halves rounded up (77 for 0.7692, 60 for 0.6036)."""
    if share is None:
        return None
    return int(Decimal(str(share * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _grouped(n: float) -> str:
    return f"{n:,}"


@dataclass
class Share:
    group: str | None  # region (its regional office's code), or None for all offices
    count: int
    denominator: int
    share: float | None  # 0..1; None when the denominator is 0
    record_ids: list[str] = field(default_factory=list)  # the offices counted: `<office>|<year>`
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
class IndicatorValue:
    name: str
    title: str
    kind: str  # share | count | sum | breakdown
    year: int
    value: int | None
    denominator: int | None  # offices the share is over (share), offices that reported (count, sum)
    denominator_kind: str | None
    share: float | None
    text: str
    record_ids: list[str]
    question: str | None = None
    choice: str | None = None
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # breakdown: part -> value, share
    prior: dict[int, int | None] = field(default_factory=dict)  # earlier years with answers: year -> value
    by_region: list[Share] = field(default_factory=list)

    @property
    def percent(self) -> int | None:
        return percent(self.share)

    @property
    def change(self) -> int | None:
        """Against the year before, when it was asked then."""
        before = self.prior.get(self.year - 1)
        return None if before is None or self.value is None else self.value - before

    @property
    def trace(self) -> str:
        return f"/questionnaire/{self.year}/figures/{self.name}"


# ---- the rows figures are made of --------------------------------------------------------------------------

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


def counted_answers(store: Store, year: int, fields: list[str] | None = None) -> list[dict[str, Any]]:
    """The answers that count for a year: one dict per office, with `_record_id`, `office`, `region`."""
    qn = load_questionnaire()
    known = {f.name for f in qn.form.fields}
    fields = [f for f in (fields or [q.name for q in qn.questions]) if f in known]
    counted = list(qn.spec.get("counted", ["submitted", "approved", "locked"]))
    if not store.table_exists(f"rec_{FORM_ID}"):
        return []
    cols = "".join(f', r."{f}"' for f in fields)
    marks = ", ".join("?" for _ in counted)
    names, rows = store.columns(
        f"SELECT r._record_id, r.office{cols} FROM {FORM_ID} r JOIN questionnaire_states s "
        f"ON s.office_code = r.office AND s.year = r.year WHERE r.year = ? AND s.state IN ({marks}) "
        "ORDER BY r.office", [int(year), *counted])
    offices = _offices(store)
    out = []
    for row in rows:
        rec = dict(zip(names, row))
        office = offices.get(rec["office"])
        if office is None:
            continue
        rec["region"] = office["region"]
        out.append(rec)
    return out


def _matches(question_type: str, answer: Any, value: str | None) -> bool:
    if answer is None or answer == "":
        return False
    if value is None:
        return True
    if question_type == "select_multiple":
        return value in str(answer).split()
    return str(answer) == str(value)


def _shares(rows: list[dict[str, Any]], question: str, qtype: str, value: str | None, denominator: str,
            group: str | None, name: str | None, year: int) -> Share:
    base = rows if denominator == "all" else [r for r in rows if r.get(question) not in (None, "")]
    hits = [r for r in base if _matches(qtype, r.get(question), value)]
    return Share(group, len(hits), len(base), (len(hits) / len(base)) if base else None,
                 [r["_record_id"] for r in hits], name, question, value, denominator, year)


def office_share(store: Store, year: int, question: str, value: str | None = None, *, denominator: str = "all",
                 by: str | None = None, rows: list[dict[str, Any]] | None = None) -> list[Share]:
    """Offices giving `value` to `question` (any answer when None; a choice of a select_multiple counts
    when it is among those picked) over the denominator: one Share, or one per region with `by="region"`."""
    if denominator not in DENOMINATORS:
        raise UsageError(f"denominator must be one of {', '.join(DENOMINATORS)}")
    if by not in (None, "region"):
        raise UsageError("by must be None or 'region'")
    qtype = load_questionnaire().question(question).type
    rows = counted_answers(store, year, [question]) if rows is None else rows
    if by is None:
        return [_shares(rows, question, qtype, value, denominator, None, None, year)]
    names = _region_names(_offices(store))
    regions = sorted({r["region"] for r in rows} | {c for c in names if c}, key=lambda c: (c is None, c or ""))
    return [_shares([r for r in rows if r["region"] == g], question, qtype, value, denominator, g, names.get(g), year)
            for g in regions]


def breakdown_sum(store: Store, year: int, field_parts: list[str], total: str | None = None, *,
                  rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Parts of a count summed over the offices that report, each with its share of their sum.

    With `total` (the form's total field), its sum is returned beside the parts' as `reported_total`,
    and `consistent` says whether the two agree."""
    qn = load_questionnaire()
    for name in [*field_parts, *([total] if total else [])]:
        if qn.question(name).type not in ("integer", "decimal"):
            raise UsageError(f"{name} is not a count")
    rows = counted_answers(store, year, [*field_parts, *([total] if total else [])]) if rows is None else rows
    used = [r for r in rows if any(r.get(p) is not None for p in field_parts)]
    sums = {p: sum(r.get(p) or 0 for r in used) for p in field_parts}
    grand = sum(sums.values())
    out: dict[str, Any] = {
        "year": int(year),
        "total": grand,
        "parts": {p: {"value": v, "share": (v / grand) if grand else None, "percent": percent(v / grand) if grand
                      else None} for p, v in sums.items()},
        "offices": sum(1 for r in used if any((r.get(p) or 0) > 0 for p in field_parts)),
        "record_ids": [r["_record_id"] for r in used],
    }
    if total:
        out["reported_total"] = sum(r.get(total) or 0 for r in used)
        out["consistent"] = out["reported_total"] == grand
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


# ---- the pack's indicators ------------------------------------------------------------------------------------

def indicator_specs() -> dict[str, dict[str, Any]]:
    return {spec["name"]: spec for spec in load_questionnaire().spec.get("indicators", [])}


def _fields_of(spec: dict[str, Any]) -> list[str]:
    return [*spec.get("parts", []), *([spec["total"]] if spec.get("total") else []),
            *([spec["question"]] if spec.get("question") else [])]


def _compute(store: Store, spec: dict[str, Any], year: int, rows: list[dict[str, Any]]) -> IndicatorValue | None:
    """One indicator over one year's counted answers; None when nobody answered its question(s)."""
    kind = spec["kind"]
    fields = _fields_of(spec)
    if not any(r.get(f) not in (None, "") for r in rows for f in fields):
        return None
    base = {"name": spec["name"], "title": spec.get("title", spec["name"]), "kind": kind, "year": int(year)}
    if kind in ("share", "count"):
        denominator = spec.get("denominator", "all")
        total = office_share(store, year, spec["question"], spec.get("value"), denominator=denominator, rows=rows)[0]
        regions = office_share(store, year, spec["question"], spec.get("value"), denominator=denominator,
                               by="region", rows=rows)
        fmt = {"count": total.count, "denominator": total.denominator, "percent": total.percent,
               "value": _grouped(total.count)}
        return IndicatorValue(**base, value=total.count, denominator=total.denominator, denominator_kind=denominator,
                              share=total.share, text=spec.get("text", "{count} offices").format(**fmt),
                              record_ids=total.record_ids, question=spec["question"], choice=spec.get("value"),
                              by_region=regions)
    if kind == "sum":
        question = spec["question"]
        used = [r for r in rows if r.get(question) is not None]
        value = sum(r[question] for r in used)
        offices = [r for r in used if r[question] > 0]
        fmt = {"count": len(offices), "denominator": len(rows), "percent": None, "value": _grouped(value)}
        return IndicatorValue(**base, value=value, denominator=len(rows), denominator_kind="all", share=None,
                              text=spec.get("text", "{value}").format(**fmt),
                              record_ids=[r["_record_id"] for r in offices], question=question)
    if kind == "breakdown":
        b = breakdown_sum(store, year, spec["parts"], spec.get("total"), rows=rows)
        fmt = {"count": b["offices"], "denominator": len(rows), "value": _grouped(b["total"]), "percent": None}
        fmt.update({f"percent_{p}": v["percent"] for p, v in b["parts"].items()})
        fmt.update({f"value_{p}": _grouped(v["value"]) for p, v in b["parts"].items()})
        return IndicatorValue(**base, value=b["total"], denominator=len(rows), denominator_kind="all", share=None,
                              text=spec.get("text", "{value}").format(**fmt), record_ids=b["record_ids"],
                              parts=b["parts"])
    raise UsageError(f"indicator {spec['name']}: unknown kind {kind!r}")


def _years(store: Store, before: int) -> list[int]:
    if not store.table_exists(f"rec_{FORM_ID}"):
        return []
    return [int(y) for (y,) in store.query("SELECT DISTINCT year FROM questionnaire_states WHERE year < ? "
                                           "ORDER BY year DESC", [int(before)])]


def indicator_values(store: Store, year: int, names: list[str] | None = None) -> dict[str, IndicatorValue]:
    """The pack's questionnaire indicators for a year, by name, each with its earlier years' values (`prior`)
    where those questionnaires asked it; an indicator nobody answered that year is left out."""
    specs = indicator_specs()
    if names:
        unknown = set(names) - set(specs)
        if unknown:
            raise NotFound(f"no questionnaire indicator {', '.join(sorted(unknown))} (have: {', '.join(specs)})")
        specs = {n: specs[n] for n in names}
    needed = sorted({f for s in specs.values() for f in _fields_of(s)})
    rows = counted_answers(store, year, needed)
    earlier = {y: counted_answers(store, y, needed) for y in _years(store, year)}
    out = {}
    for name, spec in specs.items():
        value = _compute(store, spec, year, rows)
        if value is None:
            continue
        for y, old_rows in earlier.items():
            old = _compute(store, spec, y, old_rows) if old_rows else None
            if old is not None:
                value.prior[y] = old.value
        out[name] = value
    return out
