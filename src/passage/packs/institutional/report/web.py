"""Portal pages for reports: the annual report as a page and as a PDF download.

The report is rendered by `passage.packs.institutional.report.annual` exactly as `passage report annual` renders it
(charts are inline SVG, so no script runs), over what the reader may read, and cached per reader class
until the store changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response

from passage.web.pages import Context, render

router = APIRouter(include_in_schema=False)
Year = Annotated[int, Path(ge=1900, le=2200)]


def _report(ctx, year: int):
    from passage.packs.institutional.report.annual import build

    return ctx.cached(("annual-report", year), lambda: build(ctx.store, year, principal=ctx.principal))


@router.get("/reports/annual/{year}", response_class=HTMLResponse)
def annual(ctx: Context, year: Year):
    """The year's annual report, every figure with its note; signed-in readers only (it shows internal data)."""
    from passage.packs.institutional.report.annual import split_html

    ctx.require_user()
    report = _report(ctx, year)
    css, body = split_html(report.html)
    return render(ctx, "report_annual.html", year=year, report_css=css, report_body=body, report=report)


@router.get("/reports/annual/{year}/report.pdf")
def annual_pdf(ctx: Context, year: Year):
    from passage.packs.institutional.report.annual import pdf

    ctx.require_user()
    html = _report(ctx, year).html
    data, _pages = ctx.cached(("annual-report-pdf", year), lambda: pdf(html))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="annual-report-{year}.pdf"'})
