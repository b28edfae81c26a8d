"""The portal's review queue: rows an import kept aside with their errors (`passage.ingest.quarantine`).

Editors see the held rows of their places (and those they imported), correct one in a form, checked as an import
checks it, and release it as a record version, or drop it. Every change is a POST with the CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from passage.access import STORE, require
from passage.errors import EditRejected
from passage.forms import get_form
from passage.ingest import quarantine as qn
from passage.web.context import Ctx, resolve

router = APIRouter(include_in_schema=False)
Context = Annotated[Ctx, Depends(resolve)]


def _render(ctx: Ctx, name: str, status: int = 200, **data):
    from passage.web.pages import render

    return render(ctx, name, status=status, **data)


@router.get("/quarantine", response_class=HTMLResponse)
def queue(ctx: Context, import_id: Annotated[int | None, Query()] = None,
          form_id: Annotated[str | None, Query(max_length=80)] = None):
    require(ctx.principal, "read-import-log", STORE)  # editors and admins
    held = qn.list_held(ctx.store, ctx.principal, import_id=import_id, form_id=form_id)
    return _render(ctx, "quarantine.html", groups=qn.summary(ctx.store, ctx.principal), held=held,
                   import_id=import_id, done=ctx.request.query_params.get("done"))


def _row_page(ctx: Ctx, held: qn.HeldRow, status: int = 200, report=None, values=None):
    form = get_form(ctx.store, held.form_id)
    findings = list(report.findings) if report is not None else held.findings
    problems: dict[str, list] = {}
    for f in findings:
        problems.setdefault(f.column if f.column in held.fields else "", []).append(f)
    return _render(ctx, "quarantine_row.html", status=status, held=held, fields=form.top_fields(),
                   values=values or held.values, problems=problems, findings=findings,
                   checked=report is not None)


@router.get("/quarantine/{quarantine_id}", response_class=HTMLResponse)
def row(ctx: Context, quarantine_id: int):
    require(ctx.principal, "read-import-log", STORE)
    return _row_page(ctx, qn.get_held(ctx.store, quarantine_id, ctx.principal))


@router.post("/quarantine/{quarantine_id}/fix", response_class=HTMLResponse)
async def fix(ctx: Context, request: Request, quarantine_id: int):
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    held = qn.get_held(ctx.store, quarantine_id, ctx.principal)
    changes = {name: str(form.get(f"f_{name}") or "") for name in held.fields if f"f_{name}" in form}
    changes = {k: v for k, v in changes.items() if v != (held.values.get(k) or "")}
    held, report = qn.fix(ctx.store, quarantine_id, changes, principal=ctx.principal)
    return _row_page(ctx, held, status=200 if report.ok else 422, report=report)


@router.post("/quarantine/{quarantine_id}/release", response_class=HTMLResponse)
async def release(ctx: Context, request: Request, quarantine_id: int):
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    try:
        record_id = qn.release(ctx.store, quarantine_id, principal=ctx.principal)
    except EditRejected as refused:
        return _row_page(ctx, qn.get_held(ctx.store, quarantine_id, ctx.principal), status=422,
                         report=refused.report)
    return RedirectResponse(f"/quarantine?done=released&record={record_id}", status_code=303)


@router.post("/quarantine/{quarantine_id}/drop", response_class=HTMLResponse)
async def drop(ctx: Context, request: Request, quarantine_id: int):
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    qn.drop(ctx.store, quarantine_id, principal=ctx.principal, reason=str(form.get("reason") or "") or None)
    return RedirectResponse("/quarantine?done=dropped", status_code=303)
