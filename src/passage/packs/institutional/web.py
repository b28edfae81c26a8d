"""Portal pages of the yearly office questionnaire: the participation dashboard, an office's questionnaire
(filled in by its editors, validated by the same checks as any import, autosaved as a draft), its workflow
buttons, approvers' work queue ("my tasks", with bulk approve and lock), and the figures with the offices
behind each one; and the API under /api/v1/questionnaire (states and figures per year, JSON or CSV).

Signed-in users read everything here (pages and API alike); who may change what is
`passage.packs.institutional.workflow`'s rule.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from passage.errors import NotFound, PassageError, UsageError
from passage.packs import institutional as qs
from passage.packs.institutional import workflow
from passage.packs.institutional.form import load_questionnaire, relevance
from passage.packs.institutional.offices import get_office, list_offices
from passage.web.api import JSON_OR_CSV, respond
from passage.web.pages import Context, render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/questionnaire", tags=["questionnaire"])
Year = Annotated[int, Path(ge=1990, le=2200)]
OfficeCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{2,20}$")]
Region = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{2,20}$", description="A regional office's code")]
Fmt = Annotated[Literal["json", "csv"], Query(description="Response format")]
BULK = ("approve", "lock")


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


@router.get("/questionnaire/tasks", response_class=HTMLResponse)
def my_tasks(ctx: Context, year: Annotated[int | None, Query(ge=1990, le=2200)] = None):
    """The questionnaires waiting for this user's approval or lock (their region's; headquarters: all)."""
    ctx.require_user()
    return _tasks_page(ctx, year or _default_year(ctx))


@router.post("/questionnaire/tasks", response_class=HTMLResponse)
async def my_tasks_act(ctx: Context):
    """Bulk approve or lock: the ticked offices, each a transition of its own (authorised and audited as one)."""
    ctx.require_user()
    form = await ctx.request.form()
    ctx.check_csrf(_field(form, "csrf_token"))
    action, year = _field(form, "action"), _field(form, "year")
    if action not in BULK:
        raise UsageError(f"unknown action {action!r}; one of {', '.join(BULK)}", code="usage.action")
    if not year.isdigit() or not 1990 <= int(year) <= 2200:
        raise UsageError(f"not a year: {year!r}", code="usage.year")
    offices = [v for v in form.getlist("office") if isinstance(v, str)]
    try:
        outcomes = workflow.act_many(ctx.store, action, offices, int(year), ctx.principal, ip=ctx.ip)
    except UsageError as exc:  # nothing ticked: the page again, saying so
        return _tasks_page(ctx, int(year), error=exc, status=exc.http_status)
    return _tasks_page(ctx, int(year), action=action, outcomes=outcomes)


def _field(form, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _tasks_page(ctx, year: int, status: int = 200, **data):
    years = [int(y) for (y,) in ctx.store.query("SELECT DISTINCT year FROM questionnaire_states ORDER BY year DESC")]
    tasks = workflow.tasks(ctx.store, ctx.principal, year)
    return render(ctx, "questionnaire_tasks.html", status=status, year=year, years=years or [year], tasks=tasks,
                  bulk={a for t in tasks for a in t.actions},
                  approves=workflow.approves(ctx.store, ctx.principal), **data)


@router.get("/reports/annual")
def latest_report(ctx: Context):
    """The menu's Reports link: the annual report of the latest questionnaire year."""
    ctx.require_user()
    return RedirectResponse(f"/reports/annual/{_default_year(ctx)}", status_code=303)


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


def _missing(ctx, qn, office_code: str, year: int) -> list[dict[str, str]]:
    """Mandatory questions still unanswered, by label in the reader's language (each links to its question)."""
    return [{"name": name, "label": qn.question(name).text(ctx.lang)}
            for name in workflow.missing_answers(ctx.store, office_code, year, qn)]


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
                  missing=_missing(ctx, qn, office.code, year) if now == "draft" else [],
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
    return _answers_of(form), form


def _answers_of(form) -> dict[str, Any]:
    qn = load_questionnaire()
    out: dict[str, Any] = {}
    for q in qn.questions:
        got = [v for v in form.getlist(f"q_{q.name}") if isinstance(v, str)]
        out[q.name] = got if q.type == "select_multiple" else (got[0] if got else None)
    return out


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


@router.post("/questionnaire/{year}/{office}/autosave")
async def office_autosave(ctx: Context, year: Year, office: OfficeCode):
    """The page's autosave (JSON): the draft saved as the Save button saves it, the CSRF token in the
    `X-CSRF-Token` header. 200 {saved, version, missing}; 422 {saved: false, errors} when an answer breaks a
    rule (nothing saved; the page keeps what was typed); 409 once the questionnaire is no longer a draft."""
    ctx.require_user()
    answers, form = await _answers(ctx)
    ctx.check_csrf(ctx.request.headers.get("x-csrf-token") or _field(form, "csrf_token"))
    code = office.upper()
    try:
        result = qs.save_answers(ctx.store, code, year, answers, ctx.principal)
    except PassageError as exc:
        return JSONResponse({"saved": False, "error": {"code": exc.code, "message": str(exc)}},
                            status_code=exc.http_status)
    if not result.ok:
        errors = [{"question": f.column, "code": f.code, "message": f.message} for f in result.report.errors]
        return JSONResponse({"saved": False, "errors": errors}, status_code=422)
    qn = load_questionnaire()
    answers_now = workflow.current_answers(ctx.store, code, year) or {}
    return JSONResponse({"saved": True, "version": answers_now.get("_version"),
                         "missing": _missing(ctx, qn, code, year)})


@router.post("/questionnaire/{year}/{office}/{action}")
async def office_action(ctx: Context, year: Year, office: OfficeCode,
                        action: Annotated[str, Path(pattern="^(submit|approve|lock|reopen)$")]):
    """A workflow button. Submit sends the page's answers with it (`answers=1`): they are saved first, in the
    same request, so nothing typed since the last save is lost; refused answers are shown as typed, unsubmitted."""
    ctx.require_user()
    form = await ctx.request.form()
    ctx.check_csrf(_field(form, "csrf_token"))
    reason = _field(form, "reason")[:1000]
    code = office.upper()
    try:
        if action == "submit" and form.get("answers"):
            answers = _answers_of(form)
            result, _state = workflow.submit_answers(ctx.store, code, year, answers, ctx.principal, ip=ctx.ip)
            if not result.ok:
                return _page(ctx, code, year, values=answers, result=result, status=422)
        else:
            workflow.act(ctx.store, action, code, year, ctx.principal, reason=reason or None, ip=ctx.ip)
    except workflow.WorkflowError as exc:
        return _page(ctx, code, year, error=exc, status=exc.http_status)
    return RedirectResponse(f"/questionnaire/{year}/{quote(code)}?done={action}", status_code=303)


# ---- API ------------------------------------------------------------------------------------------------

@api.get("/{year}/status", responses=JSON_OR_CSV)
def api_status(ctx: Context, request: Request, year: Year, region: Region = None, format: Fmt = "json"):
    """Every office's questionnaire state for a year (draft, submitted, approved, locked, not_started), with the
    record version it applies to and its last change; `region` keeps one regional office's offices. Signed-in
    users (a session or a bearer token), as the questionnaire pages."""
    ctx.require_user()
    rows = workflow.status_rows(ctx.store, year, region)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    return respond(request, {"year": year, "region": region.upper() if region else None, "counts": counts,
                             "data": rows}, rows=rows, fmt=format, filename=f"questionnaire_status_{year}")


@api.get("/{year}/figures", responses=JSON_OR_CSV)
def api_figures(ctx: Context, request: Request, year: Year, format: Fmt = "json"):
    """The questionnaire's figures for a year ("130 offices (77 %)"): each with its numerator (offices counted,
    for a share), denominator (offices it is over, or offices that reported a sum) and the denominator's kind,
    the year before, by region, and the portal link to the records behind it. Signed-in users only."""
    ctx.require_user()
    values = ctx.cached(("questionnaire-figures", year), lambda: qs.indicator_values(ctx.store, year))
    data = [_figure_json(v) for v in values.values()]
    flat = [{k: v for k, v in d.items() if k not in ("by_region", "parts", "prior")} for d in data]
    return respond(request, {"year": year, "data": data}, rows=flat, fmt=format,
                   filename=f"questionnaire_figures_{year}")


def _figure_json(v) -> dict[str, Any]:
    share = v.kind == "share"
    return {"name": v.name, "title": v.title, "kind": v.kind, "text": v.text, "value": v.value,
            "numerator": v.value if share else None, "denominator": v.denominator,
            "denominator_kind": v.denominator_kind, "share": None if v.share is None else round(v.share, 6),
            "percent": v.percent, "question": v.question, "choice": v.choice,
            "previous_year": v.prior.get(v.year - 1), "change": v.change, "records": v.record_count,
            "trace": v.trace, "prior": {str(y): n for y, n in v.prior.items()}, "parts": v.parts,
            "by_region": [{"region": s.group, "name": s.name, "numerator": s.count, "denominator": s.denominator,
                           "share": None if s.share is None else round(s.share, 6), "percent": s.percent,
                           "text": s.text, "trace": s.trace} for s in v.by_region]}
