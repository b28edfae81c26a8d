"""Portal pages and API for reports: the annual report as a page, its PDF (built in the background), its figures.

The report is rendered by `passage.packs.institutional.report.annual` exactly as `passage report annual` renders it
(charts are inline SVG, so no script runs), over what the reader may read, in the interface's language, and cached
per reader class until the store changes. The PDF is printed by `pdf_jobs.PdfBuilds` on a thread of its own: the
first request answers 202 ("being prepared") and starts the build, later ones report its progress, and the finished
PDF is served at once until the store changes. `GET /api/v1/reports/annual/{year}/figures` gives every figure the
page cites, with its note and provenance, to the same readers and in the same scope as the page.
"""

from __future__ import annotations

import weakref
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from passage.store.schema import generation
from passage.web.api import ERRORS, respond
from passage.web.context import Ctx, resolve
from passage.web.pages import render

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/reports", tags=["reports"])
router = APIRouter()
Context = Annotated[Ctx, Depends(resolve)]
Year = Annotated[int, Path(ge=1900, le=2200, description="The reporting year, e.g. 2020")]
POLL_SECONDS = 3  # how often the "being prepared" page reloads itself (and the Retry-After it sends)

_builds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # portal -> PdfBuilds


def builds(ctx: Ctx):
    """The portal's background PDF builds (made on first use)."""
    from passage.packs.institutional.report.pdf_jobs import PdfBuilds

    portal = ctx.request.app.state.portal
    found = _builds.get(portal)
    if found is None:
        found = _builds.setdefault(portal, PdfBuilds())
    return found


def _report(ctx: Ctx, year: int):
    from passage.packs.institutional.report.annual import build

    lang = ctx.lang
    return ctx.cached(("annual-report", year, lang),
                      lambda: build(ctx.store, year, principal=ctx.principal, lang=lang))


def _pdf_key(ctx: Ctx, year: int) -> tuple:
    return (generation(ctx.store), year, ctx.lang, ctx.cache_key())


def _pdf_job(ctx: Ctx, year: int, start: bool):
    """This reader's PDF job for the year at the store's current generation: started when `start` and none runs."""
    key = _pdf_key(ctx, year)
    if not start:
        return builds(ctx).get(key)
    portal, principal, lang = ctx.request.app.state.portal, ctx.principal, ctx.lang

    def html() -> str:  # on the build's thread: the report from the portal's cache, or built there
        from passage.packs.institutional.report.annual import build

        store = portal.store()
        report, _gen = portal.cache.get(store, ("annual-report", year, lang, key[3]),
                                        lambda: build(store, year, principal=principal, lang=lang))
        return report.html

    return builds(ctx).request(key, html)


# ---- pages ---------------------------------------------------------------------------------------------------

@pages.get("/reports/annual/{year}", response_class=HTMLResponse)
def annual(ctx: Context, year: Year):
    """The year's annual report, every figure with its note; signed-in readers only (it shows internal data)."""
    from passage.packs.institutional.report.annual import split_html

    ctx.require_user()
    report = _report(ctx, year)
    css, body = split_html(report.html)
    return render(ctx, "report_annual.html", year=year, report_css=css, report_body=body, report=report,
                  pdf=_pdf_job(ctx, year, start=False))


def _pdf_answer(ctx: Ctx, year: int, html: bool) -> Response:
    ctx.require_user()
    job = _pdf_job(ctx, year, start=True)
    if job.state == "ready":
        return Response(job.data, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="annual-report-{year}.pdf"',
            "Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie, Accept-Language"})
    b = builds(ctx)
    status = job.status() | {"year": year, "language": ctx.lang,
                             "url": f"/api/v1/reports/annual/{year}/report.pdf",
                             "estimate_seconds": None if b.last_seconds is None else round(b.last_seconds, 1)}
    if job.state == "queued":
        status["builds_ahead"] = b.ahead_of(job)
    failed = job.state == "failed"
    code = 500 if failed else 202
    headers = {"Cache-Control": "no-store"} | ({} if failed else {"Retry-After": str(POLL_SECONDS)})
    if html:
        page = render(ctx, "report_pdf_status.html", status=code, year=year, job=status, poll=POLL_SECONDS)
        page.headers.update(headers)
        return page
    body = {"status": "failed" if failed else "preparing", **status}
    if failed:
        body = {"error": {"code": "report.pdf_failed", "message": f"the PDF could not be built: {job.error}"},
                **status}
    return JSONResponse(body, status_code=code, headers=headers)


@pages.get("/reports/annual/{year}/report.pdf")
def annual_pdf(ctx: Context, request: Request, year: Year):
    """The report as a PDF once built; meanwhile 202 and a page saying it is being prepared (reloading itself),
    or JSON `{"status": "preparing", ...}` for clients that do not ask for HTML."""
    return _pdf_answer(ctx, year, html="text/html" in request.headers.get("accept", ""))


# ---- API -----------------------------------------------------------------------------------------------------

class Provenance(BaseModel):
    record_count: int | None
    records: list[str]
    commands: list[str]
    sources: list[str]


class FigureOut(BaseModel):
    name: str
    value: Any
    text: str
    label: str
    unit: str
    group: str
    prior: Any
    note: int
    note_text: str
    definition: str
    denominator: str
    provenance: Provenance


class FiguresOut(BaseModel):
    year: int
    language: str
    generation: int
    figures: list[FigureOut]
    failures: list[dict[str, str]]
    no_data: dict[str, str]


PDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    200: {"description": "The PDF", "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
    202: {"description": "Being prepared: `{\"status\": \"preparing\", \"state\", \"stage\", \"elapsed_seconds\", "
                         "...}`; ask again after `Retry-After` seconds"},
    500: {"description": "The build failed (`report.pdf_failed`); asking again starts a new build"},
    503: {"description": "Too many PDFs are waiting to be built (`report.pdf_busy`): ask again later"},
}


@api.get("/annual/{year}/figures", response_model=FiguresOut, responses=ERRORS)
def api_figures(ctx: Context, request: Request, year: Year):
    """Every figure the year's annual report cites, in the order of its notes: the value, the text the page prints,
    its label, the note's number and text, and its provenance (records, commands, imported files, record count).
    Scoped like the page: signed-in readers, each counting only what they may read; worded in the interface's
    language (`Accept-Language` or the language cookie)."""
    ctx.require_user()
    report = _report(ctx, year)
    return respond(request, figures_payload(report, generation(ctx.store)))


@api.get("/annual/{year}/report.pdf", responses=PDF_RESPONSES, response_class=Response)
def api_pdf(ctx: Context, request: Request, year: Year):
    """The year's annual report as a PDF. The first request starts a build in the background and answers 202 with
    its progress; ask again (after `Retry-After`) until the PDF comes (200). One build per year, language, reader
    class and store generation: concurrent requests share it, and a change to the data starts a new one."""
    return _pdf_answer(ctx, year, html=False)


def figures_payload(report: Any, gen: int) -> dict[str, Any]:
    """The report's cited figures with their notes' text as the page prints it (read back from its HTML)."""
    from lxml import html as lhtml

    doc = lhtml.fromstring(report.html)
    note_text = {li.get("id"): " ".join(li.text_content().split()) for li in doc.xpath("//li[@id]")}
    out = []
    for n in report.notes:
        if n.kind != "figure":
            continue
        f = n.figure
        out.append({"name": f.name, "value": f.value, "text": f.text, "label": f.title, "unit": f.unit,
                    "group": f.group, "prior": f.prior, "note": n.number,
                    "note_text": note_text.get(f"note-{n.number}", ""), "definition": f.definition,
                    "denominator": f.denominator,
                    "provenance": {"record_count": f.record_count, "records": f.records, "commands": f.commands,
                                   "sources": f.sources}})
    return {"year": report.year, "language": report.lang, "generation": gen, "figures": out,
            "failures": [{"rule": x.rule, "severity": x.severity, "text": x.text} for x in report.failures],
            "no_data": {g: gap.text for g, gap in report.data.gaps.items()}}


router.include_router(pages)
router.include_router(api)
