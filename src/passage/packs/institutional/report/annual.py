"""The annual report: templates an organisation edits, filled with figures computed from the store.

    from passage.packs.institutional.report.annual import render_annual
    result = render_annual(store, 2020, html_path=Path("report.html"), pdf_path=Path("report.pdf"))

Templates (Jinja, in the institutional pack's `templates/`, any of them overridable by a folder of
the same names) hold the sections and the wording, never a number: a figure is written
`{{ fig("staff_total") }}`, which prints the value and a numbered note naming the indicator, its
definition, its denominator, where its records are and which imported files it comes from.
Charts (`{{ chart("idps", _("Title")) }}`) and annex tables (`annex_table("annex3_professional")`) carry notes
the same way. The consistency rules run before anything is rendered; their failures head the
report, and with `strict=True` an error-severity failure stops the render (`ReportBlocked`).

The wording is marked for translation (`{{ _("...") }}`, the portal's catalogue, babel.cfg): `lang="fr"` or
`"es"` renders it in that language, with country names from CLDR. Every element the report draws carries a
class starting with `rpt-` under the root `<article class="passage-report">`, and report.css styles only
those, so a page showing the report (the portal) and the report never restyle each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from passage.errors import PassageError, UsageError
from passage.packs.institutional.report import charts
from passage.packs.institutional.report import figures as F
from passage.store import Store

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAIN_TEMPLATE = "annual.html"
LANGUAGES = ("en", "fr", "es")


def _noop(message: str) -> str:
    return message


class ReportBlocked(PassageError):
    """`strict`: an error-severity consistency rule failed, so the report was not rendered."""

    code = "report.blocked"
    http_status = 409

    def __init__(self, failures: list[F.Failure]):
        self.failures = failures
        n = sum(1 for f in failures if f.severity == "error")
        super().__init__(f"{n} error-severity consistency rule(s) failed; report not rendered (strict)")


@dataclass
class Note:
    number: int
    figure: F.Figure
    kind: str  # figure, chart or table


@dataclass
class TableRef:
    """An annex table as a template loops over it, with the superscript that cites its note."""
    name: str
    columns: list[str]
    rows: list[tuple]
    ref: Markup


@dataclass
class Data:
    """Everything the templates may show for a year, computed once before rendering."""
    year: int
    figures: dict[str, F.Figure] = field(default_factory=dict)
    gaps: dict[str, F.Gap] = field(default_factory=dict)
    tables: dict[str, Any] | None = None
    idps: list[dict[str, Any]] = field(default_factory=list)
    finance: list[dict[str, Any]] = field(default_factory=list)
    gender: list[dict[str, Any]] = field(default_factory=list)
    participation: list[dict[str, Any]] = field(default_factory=list)
    rule_results: list[Any] = field(default_factory=list)
    failures: list[F.Failure] = field(default_factory=list)


@dataclass
class AnnualReport:
    year: int
    html: str
    notes: list[Note]
    data: Data
    html_path: Path | None = None
    pdf_path: Path | None = None
    pdf_pages: int | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds: collect, html, pdf
    lang: str = "en"

    @property
    def failures(self) -> list[F.Failure]:
        return self.data.failures

    @property
    def figure_count(self) -> int:
        return sum(1 for n in self.notes if n.kind == "figure")


def collect(store: Store, year: int, principal: Any = None, lang: str = "en") -> Data:
    """Every figure, series and table of the year, and the consistency rules' verdict over them.

    DTM figures count only what `principal` may read (everything for the store's operator, None); the institutional
    groups (finance, staff, questionnaire) are internal data that every signed-in reader of the report sees.
    Country names in the figures' definitions are in `lang`."""
    d = Data(year)

    def gap(g: F.Gap | None) -> None:
        if g is not None:
            d.gaps[g.group] = g

    dtm = F.dtm_readable(store, principal)
    idps = F.idps_rows(store, dtm)
    d.figures.update(F.dtm_figures(store, year, idps, dtm, country_name=lambda c: _country(c, lang)))
    d.idps = F.idps_series(idps, year)
    if not d.idps:
        gap(F.Gap("dtm", _noop("no DTM figures of IDPs reported by the end of the year")))
    d.finance = [r for r in F.finance_rows(store) if year - 9 <= r["year"] <= year]
    d.figures.update(F.finance_figures(store, year))
    if "revenue" not in d.figures and "expenditure" not in d.figures:
        gap(F.Gap("finance", _noop("no revenue or expenditure entered (passage report finance FILE)")))
    d.tables, g = F.staff_tables(store, year)
    gap(g)
    d.figures.update(F.staff_figures(d.tables, year))
    d.gender = F.gender_by_grade(d.tables, year)
    q, g = F.questionnaire_figures(store, year)
    gap(g)
    d.figures.update(q)
    d.participation, pfigs, g = F.participation(store, year)
    gap(g)
    d.figures.update(pfigs)
    d.rule_results, g = F.rule_results(d.tables, d.figures)
    gap(g)
    d.failures = F.failures(d.rule_results)
    return d


class _Render:
    """The functions templates call; numbers notes in the order the document cites them."""

    def __init__(self, data: Data, portal_url: str, lang: str = "en"):
        from passage.web.i18n import translations

        self.data, self.portal_url, self.lang = data, portal_url.rstrip("/"), lang
        self.catalogue = translations(lang)
        self.notes: list[Note] = []
        self.known = F.known_names()
        self._said: set[str | None] = set()  # groups whose "no data" note is already printed
        self._by_name: dict[str, Note] = {}

    def _(self, message: str, **params: Any) -> str:
        """`message` in the report's language, formatted with `params` (Python-side wording)."""
        text = self.catalogue.gettext(message)
        return text % params if params else text

    def reason(self, gap: F.Gap) -> str:
        return self._(gap.reason, **gap.params)

    def _note(self, fig: F.Figure, kind: str) -> Note:
        key = f"{kind}:{fig.name}"
        if key not in self._by_name:
            self._by_name[key] = Note(len(self.notes) + 1, fig, kind)
            self.notes.append(self._by_name[key])
        return self._by_name[key]

    def _ref(self, note: Note) -> Markup:
        return Markup('<sup class="rpt-ref"><a href="#note-{n}" aria-label="{label}">{n}</a></sup>').format(
            n=note.number, label=self._("note %(n)s", n=note.number))

    def no_data(self, group: str | None = None) -> Markup:
        self._said.add(group)
        gap = self.data.gaps.get(group or "")
        year = self.data.year
        text = (self._("No data for %(year)s: %(reason)s.", year=year, reason=self.reason(gap)) if gap
                else self._("No data for %(year)s.", year=year))
        return Markup('<p class="rpt-no-data">{text}</p>').format(text=text)

    def has(self, *names: str) -> bool:
        return all(n in self.data.figures for n in names)

    def fig(self, name: str, part: str = "text") -> Markup:
        if part not in ("text", "value", "prior"):
            raise UsageError(f"fig({name!r}, {part!r}): part must be text, value or prior")
        f = self.data.figures.get(name)
        if f is None and name not in self.known:
            raise UsageError(f"the template asks for an unknown figure {name!r} (see docs/reports.md for the names)")
        if f is None:
            return Markup('<span class="rpt-no-data" data-indicator="{name}">[{text}]</span>').format(
                name=name, text=self._("no data for %(year)s: %(name)s", year=self.data.year, name=name))
        raw = {"text": f.text, "value": f.value, "prior": f.prior}[part]
        shown = F.fmt_value(raw) if part != "text" else raw
        if shown is None:
            return Markup('<span class="rpt-no-data" data-indicator="{name}">[{text}]</span>').format(
                name=name, text=self._("no %(part)s value for %(year)s: %(name)s", part=part, year=self.data.year,
                                       name=name))
        note = self._note(f, "figure")
        return Markup('<span class="rpt-figure" data-indicator="{name}" data-note="note-{n}">'
                      '<span class="rpt-value">{shown}</span>{ref}</span>').format(
            name=name, n=note.number, shown=shown, ref=self._ref(note))

    def group(self, name: str) -> list[F.Figure]:
        return [f for f in self.data.figures.values() if f.group == name]

    def country(self, name_or_code: str) -> str:
        """A country (an ISO3 code, or its English name as the staff register writes it) in the report's language."""
        return _country(name_or_code, self.lang)

    def chart(self, name: str, title: str) -> Markup:
        made = CHARTS.get(name)
        if made is None:
            raise UsageError(f"no chart {name!r} (have: {', '.join(CHARTS)})")
        rows_of, spec_of, trace_of = made
        rows = rows_of(self.data)
        if not rows:
            return Markup("") if CHART_GROUPS[name] in self._said else self.no_data(CHART_GROUPS[name])
        if name == "idps":  # the legend names countries in the report's language
            rows = [{**r, "country": self.country(r["country"])} for r in rows]
        svg = charts.to_svg(spec_of(rows, self._), f"chart-{name}", title)
        note = self._note(trace_of(self.data, title), "chart")
        return Markup('<figure class="rpt-chart" id="chart-{name}" data-note="note-{n}">{svg}'
                      '<figcaption>{title}{ref}</figcaption></figure>').format(
            name=name, n=note.number, svg=Markup(svg), title=title, ref=self._ref(note))

    def annex_table(self, name: str, title: str) -> TableRef | None:
        t = (self.data.tables or {}).get(name)
        if t is None:
            return None
        year = self.data.year
        fig = F.Figure(name, None, "", title, definition=f"Computed from the staff register for {year}.",
                       commands=[f"passage report staff-tables --year {year} -o annex/"],
                       sources=[str(getattr(t, "source", ""))] if getattr(t, "source", "") else [], group="staff")
        columns = list(t.columns)
        rows = [tuple(r) for r in t.rows]
        if "country" in columns:  # nationalities, named in the report's language
            i = columns.index("country")
            rows = [(*r[:i], self.country(r[i]), *r[i + 1:]) for r in rows]
        return TableRef(name, columns, rows, self._ref(self._note(fig, "table")))

    @staticmethod
    def wide(t: TableRef, row: str, col: str, value: str = "value") -> tuple[list[str], list[list[Any]]]:
        """A long table (`year, measure, value`) as the report prints it: `row` down, `col` across."""
        ix = {c: i for i, c in enumerate(t.columns)}
        cols: list[str] = []
        rows: dict[str, dict[str, Any]] = {}
        for r in t.rows:
            c, k = str(r[ix[col]]), str(r[ix[row]])
            if c not in cols:
                cols.append(c)
            rows.setdefault(k, {})[c] = r[ix[value]]
        return cols, [[k, *(rows[k].get(c, "") for c in cols)] for k in rows]

    def page_counter(self) -> Markup:
        """The printed page footer as CSS `content`: "Page " counter(page) " of " counter(pages), in the report's
        language."""
        text = self._("Page %(page)s of %(pages)s", page="\x00page\x00", pages="\x00pages\x00")
        parts = []
        for i, piece in enumerate(text.split("\x00")):
            if i % 2:
                parts.append(f"counter({'pages' if piece == 'pages' else 'page'})")
            elif piece:
                parts.append('"' + piece.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ") + '"')
        return Markup(" ".join(parts))

    def link(self, path: str) -> Markup:
        return Markup('<a href="{href}">{path}</a>').format(href=self.portal_url + path, path=path)

    def globals(self) -> dict[str, Any]:
        d = self.data
        return {"year": d.year, "fig": self.fig, "has": self.has, "group": self.group, "chart": self.chart,
                "annex_table": self.annex_table, "wide": self.wide, "no_data": self.no_data, "link": self.link,
                "notes": lambda: list(self.notes), "failures": d.failures, "gaps": d.gaps, "reason": self.reason,
                "country": self.country, "lang": self.lang, "page_counter": self.page_counter, "checks_ran": "checks" not in d.gaps,
                "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


@cache
def _country_codes() -> dict[str, str]:
    """English country names as registers write them (official, common and short names) -> ISO 3166 alpha-2."""
    import pycountry

    out: dict[str, str] = {}
    for c in pycountry.countries:
        for n in (getattr(c, "official_name", None), getattr(c, "common_name", None), c.name):
            if n:
                out.setdefault(n.casefold(), c.alpha_2)
    return out


def _country(name_or_code: str, lang: str) -> str:
    """An ISO3 code or an English country name, in `lang` (CLDR's names); anything else as it is."""
    from passage.web.i18n import country_name

    text = str(name_or_code or "")
    if len(text) == 3 and text.isupper():
        return country_name(text, lang)
    code = _country_codes().get(text.casefold())
    if code is None or lang == "en":
        return text  # the register's own English name is kept in English
    return country_name(code, lang)


def _trace_chart(group: str, records: list[str], commands: list[str], definition: str):
    def trace(d: Data, title: str) -> F.Figure:
        related = [f for f in d.figures.values() if f.group == group]
        sources = list(dict.fromkeys(s for f in related for s in f.sources))
        return F.Figure(f"chart_{group}", None, "", title, definition=definition.format(year=d.year),
                        records=[r.format(year=d.year) for r in records],
                        commands=[c.format(year=d.year) for c in commands], sources=sources, group=group)
    return trace


# name -> (rows from the collected data, Vega-Lite spec, trace)
CHARTS = {
    "idps": (lambda d: d.idps, charts.idps_spec, _trace_chart(
        "dtm", ["/datasets/dtm_idps/records?level=0"], ["passage indicators show idps"],
        "Indicator idps at admin 0: IDPs present per country and reporting date (summed over operations, "
        "assessment types and displacement reasons), the five years up to {year}.")),
    "finance": (lambda d: d.finance, charts.finance_spec, _trace_chart(
        "finance", ["/forms/finance"], ["passage export finance --format csv"],
        "Revenue and expenditure in USD million by year, from the finance form's current records.")),
    "gender": (lambda d: d.gender, charts.gender_spec, _trace_chart(
        "staff", [], ["passage report staff-tables --year {year} -o annex/"],
        "Men and women at the international Professional level by grade at the end of {year} "
        "(Annex I, Table 2, computed from the staff register).")),
    "participation": (lambda d: d.participation, charts.participation_spec, _trace_chart(
        "participation", ["/questionnaire?year={year}"],
        ["passage questionnaire participation --year {year}"],
        "Offices that submitted the institutional questionnaire ÷ offices, by regional office.")),
}
CHART_GROUPS = {"idps": "dtm", "finance": "finance", "gender": "staff", "participation": "participation"}


def environment(template_dir: Path | None = None, lang: str = "en"):
    """Jinja with the pack's templates, any of them replaced by a file of the same name in `template_dir`;
    `{{ _("...") }}` and `ngettext` give the wording in `lang` (the portal's catalogue)."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    from passage.web.i18n import translations

    dirs = ([str(template_dir)] if template_dir else []) + [str(TEMPLATES)]
    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(dirs), autoescape=True, extensions=["jinja2.ext.i18n"],
                               undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    catalogue = translations(lang)
    env.install_gettext_callables(catalogue.gettext, catalogue.ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


def _language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise UsageError(f"no report language {lang!r} (have: {', '.join(LANGUAGES)})", code="usage.language")
    return lang


def build(store: Store, year: int, *, template_dir: Path | None = None, strict: bool = False,
          portal_url: str = "", principal: Any = None, lang: str = "en") -> AnnualReport:
    """The report as an HTML string (nothing written), over what `principal` may read (see `collect`), worded in
    `lang` (en, fr or es). Raises ReportBlocked under `strict`."""
    lang = _language(lang)
    t0 = time.perf_counter()
    data = collect(store, year, principal, lang)
    t1 = time.perf_counter()
    import jinja2

    if strict and any(f.severity == "error" for f in data.failures):
        raise ReportBlocked(data.failures)
    r = _Render(data, portal_url, lang)
    env = environment(template_dir, lang)
    env.globals.update(r.globals())
    try:
        html = env.get_template(MAIN_TEMPLATE).render()
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"template {exc.filename or exc.name}, line {exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise UsageError(f"template error: {exc}") from None
    t2 = time.perf_counter()
    return AnnualReport(year, html, r.notes, data, timings={"collect": t1 - t0, "html": t2 - t1}, lang=lang)


def pdf(html: str, base_dir: Path | None = None,
        progress: Callable[[str], None] | None = None) -> tuple[bytes, int]:
    """Print the HTML with WeasyPrint (its print CSS: page numbers, repeated table headers): (PDF bytes, pages).
    `progress` hears the stage as it starts: "layout" (most of the time), then "writing"."""
    from weasyprint import HTML

    say = progress or (lambda stage: None)
    say("layout")
    doc = HTML(string=html, base_url=str(base_dir or TEMPLATES)).render()
    say("writing")
    return doc.write_pdf(), len(doc.pages)


def split_html(html: str) -> tuple[str, str]:
    """(stylesheet, body) of a rendered report, for showing it inside another page (the portal)."""
    import re

    css = "\n".join(re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.DOTALL | re.IGNORECASE))
    body = re.search(r"<body[^>]*>(.*)</body>", html, flags=re.DOTALL | re.IGNORECASE)
    return css, body.group(1) if body else html


def render_annual(store: Store, year: int, *, html_path: Path, pdf_path: Path | None = None,
                  template_dir: Path | None = None, strict: bool = False, portal_url: str = "",
                  principal: Any = None, lang: str = "en") -> AnnualReport:
    """Write the year's report as HTML (and PDF) in `lang`. Raises ReportBlocked under `strict` before writing
    anything."""
    result = build(store, year, template_dir=template_dir, strict=strict, portal_url=portal_url,
                   principal=principal, lang=lang)
    html_path = Path(html_path)
    html_path.write_text(result.html, encoding="utf-8")
    result.html_path = html_path
    if pdf_path is not None:
        t = time.perf_counter()
        data, result.pdf_pages = pdf(result.html, template_dir)
        Path(pdf_path).write_bytes(data)
        result.pdf_path = Path(pdf_path)
        result.timings["pdf"] = time.perf_counter() - t
    return result
