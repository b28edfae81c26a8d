"""The figures a report may quote, each computed from the store and carrying its own trace.

A `Figure` is one number as the report prints it ("130 offices (77 %)", "USD 2,182.7 million")
together with what a reader needs to check it: the indicator's name and definition, its
denominator, where its records are (portal URLs, `passage ...` commands) and which imported
files it comes from. Templates never hold numbers; they ask for figures by name.

The questionnaire and staff figures come through small adapters over `passage.packs.institutional`
and `passage.packs.staff`; when either is missing, or holds nothing for the year, its figures are
simply absent and the report says "no data for YEAR" where they would be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from passage.errors import PassageError
from passage.store import Store


@dataclass
class Figure:
    name: str  # the indicator's name, e.g. "offices_collect_data"
    value: Any  # the number (None when the data holds none)
    text: str  # the value as the report prints it
    title: str
    definition: str = ""
    denominator: str = ""
    unit: str = ""
    records: list[str] = field(default_factory=list)  # portal URLs of the records behind it
    commands: list[str] = field(default_factory=list)  # `passage ...` commands that list or recompute it
    sources: list[str] = field(default_factory=list)  # imported files (name, sha256, import id)
    group: str = ""  # which part of the data it belongs to: dtm, finance, staff, questionnaire, participation
    prior: Any = None  # last year's value, when there is one
    record_count: int | None = None  # how many records it was computed from, when it comes from records


def _noop(message: str) -> str:
    """Marks a reason for the catalogue (the report translates it when it prints it)."""
    return message


@dataclass
class Gap:
    """A part of the data a section needs and the store does not (yet) hold: `reason % params` in English,
    `reason` being the catalogue's message."""
    group: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.reason % self.params if self.params else self.reason


# Figures this module computes (present when their data is); questionnaire figures are named in the pack.
BUILTIN = {
    "idps_total", "idps_countries",
    "revenue", "expenditure", "revenue_change", "expenditure_change",
    "staff_total", "staff_professional", "staff_general_service", "staff_professional_share",
    "women_professional_share", "women_senior_share", "nationalities_total", "staff_growth",
    "participation_rate", "offices_total", "offices_submitted",
}


def known_names() -> set[str]:
    """Every figure name a template may ask for, whether or not the store holds its data this year."""
    from passage.plugins import load_pack

    spec = load_pack("institutional").spec
    return set(BUILTIN) | {i["name"] for i in (spec.get("questionnaire") or {}).get("indicators", []) if "name" in i}


def fmt_number(v: Any, decimals: int = 0) -> str:
    if v is None:
        return ""
    return f"{v:,.{decimals}f}"


def fmt_value(v: Any) -> Any:
    """A bare number grouped by thousands, with its decimal when it has one; anything else as it is."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def fmt_percent(share: float | None) -> str:
    """A share 0..1 as the report prints it, halves rounded up: "77 %"."""
    if share is None:
        return ""
    return f"{int(Decimal(str(share * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))} %"


def _import_sources(store: Store, sql: str, params: list[Any]) -> list[str]:
    """`file (sha256 abcdef123456, import N)` for the imports behind some records; `sql` selects import ids."""
    rows = store.query(
        f"SELECT DISTINCT i.import_id, i.files, i.sha256 FROM imports i WHERE i.import_id IN ({sql}) "
        "ORDER BY i.import_id", params)
    return [f"{files} (sha256 {sha[:12]}, import {iid})" for iid, files, sha in rows]


def _readable_sources(store: Store, table: Any) -> list[str]:
    """`_import_sources` of the records in an Ibis table (a reader's view): only imports they may see."""
    ids = sorted(i for i in table.select("_import_id").distinct().to_pyarrow().column(0).to_pylist() if i is not None)
    if not ids:
        return []
    return _import_sources(store, ", ".join("?" for _ in ids), ids)


# ---- DTM: IDPs over time ----------------------------------------------------------------------------------

def dtm_readable(store: Store, principal: Any = None) -> Any:
    """The DTM records this reader may see (`passage.access.readable`); None when the store holds none.

    Every DTM number of the report starts here, so a reader's report never counts what they may not read.
    No principal means the store's operator (the command line without --user), who reads everything."""
    from passage.access import readable
    from passage.auth.principal import Principal
    from passage.releases import dataset_for_form

    ds = dataset_for_form(store, "dtm_idps")
    if ds is None or not store.table_exists("rec_dtm_idps"):
        return None
    return readable(store, principal or Principal(None, "admin"), ds)


def idps_rows(store: Store, table: Any = None) -> list[dict[str, Any]]:
    """The `idps` indicator at admin 0 over `table` (what a reader may see: `dtm_readable`): one row per
    country, operation, assessment type, round and date."""
    if table is None:
        return []
    from passage.indicators import compute

    rows = compute(store, "idps", {"admin_level": 0}, table=table).to_pylist()
    for r in rows:
        d = r["reporting_date"]
        r["reporting_date"] = d.date() if hasattr(d, "date") else d
    return rows


def idps_series(rows: list[dict[str, Any]], year: int, years: int = 5) -> list[dict[str, Any]]:
    """IDPs per country and reporting date over the `years` up to the end of `year` (for the chart)."""
    first, last = date(year - years + 1, 1, 1), date(year, 12, 31)
    out: dict[tuple[str, date], dict[str, Any]] = {}
    for r in rows:
        d = r["reporting_date"]
        if first <= d <= last:
            cur = out.setdefault((r["admin0_pcode"], d), {"country": r["admin0_pcode"], "date": d, "idps": 0})
            cur["idps"] += int(r["value"] or 0)
    return sorted(out.values(), key=lambda r: (r["country"], r["date"]))


def dtm_figures(store: Store, year: int, rows: list[dict[str, Any]], table: Any = None,
                country_name: Callable[[str], str] = str) -> dict[str, Figure]:
    """IDPs at the latest round of each operation up to the end of the year (the `idps_latest` logic at admin 0);
    `country_name` names a country by its ISO3 code in the definition (the code itself by default)."""
    from passage.indicators import get_indicator

    end = date(year, 12, 31)
    latest: dict[tuple, tuple] = {}
    for r in rows:
        if r["reporting_date"] > end:
            continue
        key = (r["admin0_pcode"], r["operation"], r["assessment_type"])
        rank = (r["round_number"], r["reporting_date"])
        if key not in latest or rank > latest[key][0]:
            latest[key] = (rank, int(r["value"] or 0))
    if not latest:
        return {}
    total = sum(v for _, v in latest.values())
    countries = sorted({k[0] for k in latest})
    ind = get_indicator("idps")
    considered = table.filter(table.admin_level == 0, table.reporting_date <= end) if table is not None else None
    sources = _readable_sources(store, considered) if considered is not None else []
    count = int(considered.count().to_pyarrow().as_py()) if considered is not None else None
    common = {"records": ["/datasets/dtm_idps/records?level=0"], "sources": sources, "group": "dtm",
              "record_count": count,
              "commands": ["passage indicators show idps", "passage export hapi-idps --format csv"]}
    return {
        "idps_total": Figure(
            "idps_total", total, fmt_number(total), f"{ind.title}, latest round by {year}",
            definition=f"{ind.description} Admin 0 figures of each operation's latest round reported by "
                       f"31 December {year}, summed over operations and countries (indicator idps).",
            denominator="", unit=ind.unit, **common),
        "idps_countries": Figure(
            "idps_countries", len(countries), fmt_number(len(countries)), "Countries with DTM mobility tracking",
            definition=f"Countries with at least one admin 0 IDP figure reported by 31 December {year}: "
                       f"{', '.join(country_name(c) for c in countries)}.", unit="countries", **common),
    }


# ---- finance ---------------------------------------------------------------------------------------------

def finance_rows(store: Store) -> list[dict[str, Any]]:
    """Revenue and expenditure by year from the `finance` form's current records."""
    if not store.table_exists("rec_finance"):
        return []
    rows = store.query("SELECT year, revenue_usd_million, expenditure_usd_million, source, note, _record_id, "
                       "_import_id FROM finance ORDER BY year")
    return [{"year": int(y), "revenue": None if rv is None else float(rv),
             "expenditure": None if ex is None else float(ex), "source": src, "note": note, "record_id": rid,
             "import_id": iid}
            for y, rv, ex, src, note, rid, iid in rows]


def finance_figures(store: Store, year: int) -> dict[str, Figure]:
    by_year = {r["year"]: r for r in finance_rows(store)}
    cur, prev = by_year.get(year), by_year.get(year - 1)
    if cur is None:
        return {}
    out: dict[str, Figure] = {}
    for key, label in (("revenue", "Total combined revenue"), ("expenditure", "Total expenditure")):
        v = cur[key]
        if v is None:
            continue
        recs = [r for r in (cur, prev) if r is not None and r[key] is not None]
        trace = {
            "records": [f"/records/finance/{r['record_id']}" for r in recs],
            "commands": [f"passage records history finance {r['record_id']}" for r in recs],
            "sources": _import_sources(store, "SELECT _import_id FROM finance WHERE year IN (?, ?)", [year, year - 1])
            + [f"{r['year']}: {r['source']}" + (f" ({r['note']})" if r["note"] else "") for r in recs if r["source"]],
            "group": "finance", "record_count": len(recs)}
        out[key] = Figure(key, v, f"USD {fmt_number(v, 1)} million", f"{label}, {year}",
                          definition=f"{label} of the year in USD million, as entered in the finance form.",
                          unit="USD million", prior=prev[key] if prev else None, **trace)
        if prev and prev[key]:
            change = (v - prev[key]) / prev[key]
            out[f"{key}_change"] = Figure(
                f"{key}_change", round(change * 100, 1), fmt_percent(change), f"Change in {label.lower()}, "
                f"{year - 1} to {year}", definition=f"({label} {year} − {label} {year - 1}) ÷ {label} {year - 1}.",
                denominator=f"{label.lower()} {year - 1}: USD {fmt_number(prev[key], 1)} million",
                unit="percent", **trace)
    return out


# ---- staff (passage.packs.staff) -------------------------------------------------------------------------------

def staff_tables(store: Store, year: int) -> tuple[dict[str, Any] | None, Gap | None]:
    from passage.packs.staff import staff_tables as tables_of

    try:
        tables = tables_of(store, year)
    except PassageError as exc:  # no register for the year is a gap, not a failure
        return None, Gap("staff", str(exc))
    if not tables:
        return None, Gap("staff", _noop("no staff register for %(year)s"), {"year": year})
    return tables, None


def long_value(table: Any, year: int, measure: str, **where: str) -> float | None:
    """A value of a long-format table (`year, measure, value, ...` like the Annex I CSVs)."""
    cols = list(table.columns)
    ix = {c: i for i, c in enumerate(cols)}
    for row in table.rows:
        if str(row[ix["year"]]) == str(year) and row[ix["measure"]] == measure and all(
                str(row[ix[k]]) == str(v) for k, v in where.items()):
            v = row[ix["value"]]
            return None if v in (None, "") else float(v)
    return None


def staff_figures(tables: dict[str, Any] | None, year: int) -> dict[str, Figure]:
    if not tables:
        return {}
    out: dict[str, Figure] = {}

    def trace(name: str) -> dict[str, Any]:
        t = tables.get(name)
        return {"records": [], "commands": [f"passage report staff-tables --year {year} -o annex/",
                                            f"passage report check --year {year}"],
                "sources": [f"{name}: {t.source}"] if t is not None and getattr(t, "source", "") else [],
                "group": "staff"}

    def count(name: str, table: str, measure: str, title: str, definition: str) -> None:
        t = tables.get(table)
        v = long_value(t, year, measure) if t is not None else None
        if v is not None:
            out[name] = Figure(name, int(v), fmt_number(v), title, definition=definition, unit="staff",
                               prior=long_value(t, year - 1, measure), **trace(table))

    def share(name: str, table: str, part: str, whole: str, title: str, definition: str, whole_label: str) -> None:
        t = tables.get(table)
        p = long_value(t, year, part) if t is not None else None
        w = long_value(t, year, whole) if t is not None else None
        if p is not None and w:
            out[name] = Figure(name, round(p / w * 100, 1), fmt_percent(p / w), title, definition=definition,
                               denominator=f"{whole_label}: {fmt_number(w)}", unit="percent", **trace(table))

    count("staff_total", "annex1_table4", "total", f"Staff at the end of {year}",
          "International Professional plus General Service and National Officer staff (Annex I, Table 4).")
    count("staff_professional", "annex1_table4", "international_professional",
          f"International Professional staff, {year}", "Annex I, Table 4.")
    count("staff_general_service", "annex1_table4", "general_service_and_national_officers",
          f"General Service and National Officer staff, {year}", "Annex I, Table 4.")
    share("staff_professional_share", "annex1_table4", "international_professional", "total",
          "Share of international Professional staff", "International Professional ÷ all staff (Table 4).",
          "all staff")
    share("women_professional_share", "annex1_table1", "women", "total",
          "Women at the international Professional level", "Women ÷ all international Professional staff "
          "(Annex I, Table 1).", "international Professional staff")
    share("women_senior_share", "annex1_table3", "women", "total", "Women at P-5 and higher",
          "Women ÷ all staff at P-5 and higher (Annex I, Table 3).", "staff at P-5 and higher")
    count("nationalities_total", "nationalities", "total_nationalities", "Nationalities represented among staff",
          "Distinct nationalities of staff (the nationalities table).")
    t4 = tables.get("annex1_table4")
    if t4 is not None:
        now, before = long_value(t4, year, "total"), long_value(t4, year - 1, "total")
        if now is not None and before:
            change = (now - before) / before
            out["staff_growth"] = Figure(
                "staff_growth", round(change * 100, 1), fmt_percent(change), f"Change in staff, {year - 1} to {year}",
                definition=f"(Staff {year} − staff {year - 1}) ÷ staff {year - 1} (Annex I, Table 4).",
                denominator=f"staff {year - 1}: {fmt_number(before)}", unit="percent", **trace("annex1_table4"))
    return out


def gender_by_grade(tables: dict[str, Any] | None, year: int) -> list[dict[str, Any]]:
    """Men and women by Professional grade (Annex I, Table 2), for the gender-balance chart."""
    t = (tables or {}).get("annex1_table2")
    if t is None:
        return []
    ix = {c: i for i, c in enumerate(t.columns)}
    out = []
    for row in t.rows:
        if str(row[ix["year"]]) == str(year) and row[ix["measure"]] in ("men", "women"):
            out.append({"grade": row[ix["grade"]], "sex": row[ix["measure"]], "staff": int(float(row[ix["value"]]))})
    return out


def rule_results(tables: dict[str, Any] | None, figures: dict[str, Figure]) -> tuple[list[Any], Gap | None]:
    """`passage.packs.staff.rules.check` over the computed tables (and the report's figures, by name)."""
    from passage.packs.staff.rules import check

    if not tables:
        return [], None
    values = {(n, ""): f.value for n, f in figures.items() if isinstance(f.value, (int, float))}
    return list(check(tables, figures=values)), None


@dataclass
class Failure:
    """A failed consistency rule, as the report and the CLI print it."""
    rule: str
    description: str
    severity: str
    text: str
    where: str = ""


def failures(results: list[Any]) -> list[Failure]:
    """The failed ones of `passage.packs.staff.rules.check`'s results."""
    return [Failure(r.rule, r.description, r.severity, r.text, r.where) for r in results if not r.ok]


# ---- questionnaire (passage.packs.institutional) ---------------------------------------------------------------

_DENOMINATORS = {"all": "offices whose questionnaire counts (submitted, approved or locked)",
                 "answered": "offices that answered the question"}


def questionnaire_figures(store: Store, year: int) -> tuple[dict[str, Figure], Gap | None]:
    """The pack's questionnaire indicators (`passage.packs.institutional.indicator_values`) as figures."""
    from passage.packs.institutional import FORM_ID, indicator_values

    sources = (_import_sources(store, f"SELECT _import_id FROM {FORM_ID} WHERE year = ?", [year])
               if store.table_exists(f"rec_{FORM_ID}") else [])
    out: dict[str, Figure] = {}
    for name, v in indicator_values(store, year).items():
        if v.value is None:
            continue
        dkind = v.denominator_kind or "all"
        out[name] = Figure(
            name, v.value, v.text, v.title,
            definition=f"The {v.definition} (one record per office); {v.record_count} office records behind it.",
            denominator="" if v.denominator is None else f"{v.denominator} {_DENOMINATORS.get(dkind, dkind)}",
            unit="offices" if v.kind == "share" else "", records=[v.trace],
            commands=[f"passage questionnaire figures --year {year}"], sources=sources, group="questionnaire",
            prior=v.prior.get(year - 1), record_count=v.record_count)
    if not out:
        return {}, Gap("questionnaire", _noop("no questionnaire answers counted (submitted, approved or locked)"))
    return out, None


def participation(store: Store, year: int) -> tuple[list[dict[str, Any]], dict[str, Figure], Gap | None]:
    """Participation by region (for the chart) and overall (`passage.packs.institutional.participation`)."""
    from passage.packs.institutional import participation as participation_of

    p = participation_of(store, year)
    offices, submitted = p.total.offices, p.total.submitted
    if not offices or not submitted:
        return [], {}, Gap("participation", _noop("no questionnaire submitted"))
    rows = [{"region": r.name or r.region or "?", "offices": r.offices, "submitted": r.submitted,
             "rate": r.submitted / r.offices} for r in p.regions if r.offices]
    rate = submitted / offices
    missing = len(p.missing)
    trace = {"records": [f"/questionnaire?year={year}"],
             "commands": [f"passage questionnaire participation --year {year}"], "group": "participation"}
    figs = {
        "participation_rate": Figure(
            "participation_rate", round(rate * 100, 1), fmt_percent(rate), f"Questionnaire participation, {year}",
            definition="Offices that submitted the institutional questionnaire (submitted, approved or locked) "
                       f"÷ offices expected to answer; {missing} have not submitted.",
            denominator=f"offices expected to answer: {offices}", unit="percent", record_count=offices, **trace),
        "offices_total": Figure("offices_total", offices, fmt_number(offices), "Offices expected to answer",
                                definition="Regional and country offices open in the year.", unit="offices",
                                record_count=offices, **trace),
        "offices_submitted": Figure("offices_submitted", submitted, fmt_number(submitted),
                                    "Offices that submitted the questionnaire",
                                    definition="Questionnaires submitted, approved or locked.",
                                    denominator=f"offices expected to answer: {offices}", unit="offices",
                                    record_count=submitted, **trace),
    }
    return rows, figs, None
