"""Portal pages of the yearly office questionnaire: the participation dashboard, an office's questionnaire
(filled in by its editors, validated by the same checks as any import), its workflow buttons, and the
figures with the offices behind each one.

Signed-in users read everything here; who may change what is `passage.packs.institutional.workflow`'s rule.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from passage.errors import NotFound
from passage.packs import institutional as qs
from passage.packs.institutional import workflow
from passage.packs.institutional.form import load_questionnaire, relevance
from passage.packs.institutional.offices import get_office, list_offices
from passage.web.pages import Context, render

router = APIRouter(include_in_schema=False)
Year = Annotated[int, Path(ge=1990, le=2200)]
OfficeCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{2,20}$")]


def _noop(message: str) -> str:
    return message


# States and actions reach templates as data: marked here for the catalogue, shown with `_(value)`.
STATE_WORDS = (_noop("draft"), _noop("submitted"), _noop("approved"), _noop("locked"), _noop("not started"))  # shown with "_" as a space
ACTION_WORDS = (_noop("submit"), _noop("approve"), _noop("lock"), _noop("reopen"), _noop("record"))


def _default_year(ctx) -> int:
    latest = ctx.store.scalar("SELECT max(year) FROM questionnaire_states")
    return int(latest) if latest else date.today().year - 1


@router.get("/questionnaire", response_class=HTMLResponse)
def dashboard(ctx: Context, year: Annotated[int | None, Query(ge=1990, le=2200)] = None):
    """Participation by region, and the offices that have not submitted."""
    ctx.require_user()
    year = year or _default_year(ctx)
    part = qs.participation(ctx.store, year)
    years = [int(y) for (y,) in ctx.store.query("SELECT DISTINCT year FROM questionnaire_states ORDER BY year DESC")]
    return render(ctx, "questionnaire.html", year=year, part=part, years=years or [year])


@router.get("/questionnaire/{year}/figures", response_class=HTMLResponse)
def figures(ctx: Context, year: Year):
    ctx.require_user()
    values = ctx.cached(("questionnaire-figures", year), lambda: qs.indicator_values(ctx.store, year))
    return render(ctx, "questionnaire_figures.html", year=year, values=values)


@router.get("/questionnaire/{year}/figures/{name}", response_class=HTMLResponse)
def figure(ctx: Context, year: Year, name: Annotated[str, Path(pattern=r"^[a-z0-9_]{1,60}$")]):
    """One figure: its value, its regions, and every record it was computed from."""
    ctx.require_user()
    values = qs.indicator_values(ctx.store, year, [name])
    if name not in values:
        raise NotFound(f"no answers for {name} in {year}")
    value = values[name]
    return render(ctx, "questionnaire_trace.html", year=year, value=value, share=None,
                  offices=_offices_of(ctx, value.record_ids))


@router.get("/questionnaire/{year}/trace", response_class=HTMLResponse)
def trace(ctx: Context, year: Year, question: Annotated[str, Query(pattern=r"^[a-z0-9_]{1,60}$")],
          value: Annotated[str | None, Query(max_length=60)] = None,
          denominator: Annotated[str, Query(pattern="^(all|answered)$")] = "all",
          region: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{2,20}$")] = None):
    """The offices behind an "N offices (x %)" figure (the link every Share carries)."""
    ctx.require_user()
    shares = qs.office_share(ctx.store, year, question, value, denominator=denominator,
                             by="region" if region else None)
    share = next((s for s in shares if s.group == region), None) if region else shares[0]
    if share is None:
        raise NotFound(f"no region {region!r}")
    return render(ctx, "questionnaire_trace.html", year=year, value=None, share=share,
                  question=load_questionnaire().question(question), offices=_offices_of(ctx, share.record_ids))


def _offices_of(ctx, record_ids: list[str]) -> list[dict]:
    names = {o.code: o for o in list_offices(ctx.store)}
    out = []
    for rid in record_ids:
        code = rid.split("|")[0]
        o = names.get(code)
        out.append({"record_id": rid, "code": code, "name": o.name if o else code, "region": o.region if o else None})
    return out


def _page(ctx, office_code: str, year: int, *, values: dict | None = None, result=None, error=None,
          status: int = 200):
    office = get_office(ctx.store, office_code)
    qn = load_questionnaire()
    answers = workflow.current_answers(ctx.store, office.code, year)
    shown = values if values is not None else {q.name: (answers or {}).get(q.name) for q in qn.questions}
    now = workflow.state(ctx.store, office.code, year)
    editable = now in ("draft", workflow.NOT_STARTED) and workflow.can_answer(ctx.principal, office)
    findings: dict[str, list] = {}
    if result is not None:
        for f in result.report.findings:
            findings.setdefault(f.column or "", []).append(f)
    return render(ctx, "questionnaire_office.html", status=status, office=office, year=year, qn=qn,
                  values={k: _as_list(qn, k, v) for k, v in shown.items()}, answers=answers, state=now,
                  editable=editable, applies=relevance(qn, shown), findings=findings, result=result, error=error,
                  actions=workflow.allowed_actions(ctx.store, ctx.principal, office, year),
                  missing=workflow.missing_answers(ctx.store, office.code, year) if now == "draft" else [],
                  history=workflow.history(ctx.store, office.code, year))


def _as_list(qn, name: str, value):
    """select_multiple answers as lists (the template ticks each); others as they are."""
    try:
        kind = qn.question(name).type
    except NotFound:
        return value
    if kind == "select_multiple":
        return value if isinstance(value, list) else (str(value).split() if value else [])
    return value


async def _answers(ctx) -> tuple[dict, object]:
    form = await ctx.request.form()
    qn = load_questionnaire()
    out = {}
    for q in qn.questions:
        got = [v for v in form.getlist(f"q_{q.name}") if isinstance(v, str)]
        out[q.name] = got if q.type == "select_multiple" else (got[0] if got else None)
    return out, form


@router.get("/questionnaire/{year}/{office}", response_class=HTMLResponse)
def office_page(ctx: Context, year: Year, office: OfficeCode):
    ctx.require_user()
    return _page(ctx, office.upper(), year)


@router.post("/questionnaire/{year}/{office}", response_class=HTMLResponse)
async def office_save(ctx: Context, year: Year, office: OfficeCode):
    """Save the draft: a new record version, checked like any import; errors shown beside their questions."""
    ctx.require_user()
    answers, form = await _answers(ctx)
    ctx.check_csrf(form.get("csrf_token"))
    result = qs.save_answers(ctx.store, office.upper(), year, answers, ctx.principal)
    if not result.ok:
        return _page(ctx, office.upper(), year, values=answers, result=result, status=422)
    return RedirectResponse(f"/questionnaire/{year}/{quote(office.upper())}?saved=1", status_code=303)


@router.post("/questionnaire/{year}/{office}/relevant")
async def office_relevant(ctx: Context, year: Year, office: OfficeCode):
    """Which questions apply to the answers given so far (the page's script hides the others)."""
    ctx.require_user()
    answers, _form = await _answers(ctx)
    return JSONResponse({"relevant": relevance(load_questionnaire(), answers)})


@router.post("/questionnaire/{year}/{office}/{action}")
def office_action(ctx: Context, year: Year, office: OfficeCode,
                  action: Annotated[str, Path(pattern="^(submit|approve|lock|reopen)$")],
                  csrf_token: Annotated[str, Form()] = "", reason: Annotated[str, Form(max_length=1000)] = ""):
    ctx.require_user()
    ctx.check_csrf(csrf_token)
    try:
        workflow.act(ctx.store, action, office.upper(), year, ctx.principal, reason=reason or None, ip=ctx.ip)
    except workflow.WorkflowError as exc:
        return _page(ctx, office.upper(), year, error=exc, status=exc.http_status)
    return RedirectResponse(f"/questionnaire/{year}/{quote(office.upper())}?done={action}", status_code=303)
