"""Server-rendered pages: read, search, download, sign in, import, publish, fix.

Every route is a few lines over `service` and the library; templates are in `templates/`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from passage import auth, documents, query, records, releases
from passage.access import STORE, Place, allowed, readable_imports, require
from passage.errors import AuthError, EditRejected, PassageError, UsageError
from passage.forms.registry import form_fields, installed_forms
from passage.indicators import get_indicator
from passage.ingest.pipeline import importers
from passage.web import i18n, service
from passage.web.context import CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE, Ctx, new_csrf, resolve

router = APIRouter(include_in_schema=False)
Context = Annotated[Ctx, Depends(resolve)]



def _nav_current(links: list[dict[str, Any]]):
    """Whether a menu link is the page's: its prefix matches the path, and no other link's matches it more
    closely (a pack's task list under its own section is the current page, not the section too)."""
    def closeness(link: dict[str, Any], path: str) -> int:
        return max((len(p) for p in link.get("prefixes") or [link["href"]] if path.startswith(p)), default=-1)

    def current(link: dict[str, Any], path: str) -> bool:
        mine = closeness(link, path)
        return mine >= 0 and all(closeness(other, path) <= mine for other in links)
    return current


def _env() -> jinja2.Environment:
    from passage.plugins import collected, pack_dirs

    folders = [Path(__file__).parent / "templates"]
    folders += [d / "templates" for d in pack_dirs().values() if (d / "templates").is_dir()]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders),
                             autoescape=True, extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    i18n.install(env)
    env.filters.update(number=i18n.number, percent=i18n.percent, day=i18n.day, language_name=i18n.language_name,
                       urlquote=lambda s: quote(str(s), safe=""))
    env.globals.update(LANGUAGES=i18n.LANGUAGES, country_url=country_url, PACK_LINKS=collected("nav_links"),
                       nav_current=_nav_current(collected("nav_links")))
    return env


def country_url(dataset: str, code: str) -> str:
    """A dataset's page about one country: `country_page` in its pack.yaml entry, else the portal's country page."""
    spec = releases.pack_datasets().get(dataset)
    page = (spec[1].get("country_page") if spec else None) or "/countries/{code}"
    return page.replace("{code}", quote(str(code), safe=""))


templates = Jinja2Templates(env=_env())


def render(ctx: Ctx, name: str, status: int = 200, **data: Any) -> HTMLResponse:
    request = ctx.request
    data.update(ctx=ctx, principal=ctx.principal, csrf=ctx.csrf, lang=i18n.current.get(),
                path=request.url.path, full_path=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""))
    response = templates.TemplateResponse(request, name, data, status_code=status)
    if ctx.principal.is_public and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, ctx.csrf, httponly=True, samesite="strict", secure=_secure(request))
    return response


def _secure(request: Request) -> bool:
    setting = request.app.state.portal.secure_cookies
    return request.url.scheme == "https" if setting is None else setting


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def error_page(request: Request, exc: PassageError) -> HTMLResponse:
    try:
        ctx = resolve(request)
    except PassageError:
        ctx = Ctx(request, auth.PUBLIC, csrf="", lang=i18n.current.get())
    return render(ctx, "error.html", status=exc.http_status, error=exc)


def _ensure_csrf(ctx: Ctx) -> None:
    if not ctx.csrf:
        ctx.csrf = new_csrf()


# ---- reading ----------------------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def home(ctx: Context):
    return render(ctx, "home.html", headlines=service.headlines(ctx), releases=releases.releases(ctx.store, limit=8),
                  datasets=releases.readable_datasets(ctx.store, ctx.principal),
                  documents=service.search_documents(ctx, None, None, None, None, None, None, None, 5, 0)[1])


@router.get("/search", response_class=HTMLResponse)
def search(ctx: Context, q: Annotated[str, Query(max_length=200)] = ""):
    return render(ctx, "search.html", results=service.search_all(ctx, q))


@router.get("/countries", response_class=HTMLResponse)
def countries(ctx: Context):
    ds = releases.map_dataset(ctx.store)
    return render(ctx, "countries.html", countries=service.countries(ctx, ds), dataset=ds)


@router.get("/countries/{iso3}", response_class=HTMLResponse)
def country(ctx: Context, iso3: str, level: Annotated[int, Query(ge=1, le=3)] = 1,
            indicator: Annotated[str | None, Query(max_length=60)] = None):
    ds = releases.read_dataset(ctx.store, releases.map_dataset(ctx.store).name, ctx.principal)
    country_name = ctx.store.scalar("SELECT name FROM places WHERE code = ? AND level = 0", [iso3])
    if country_name is None:
        from passage.errors import NotFound

        raise NotFound(f"no country {iso3!r}")
    data = service.country_map(ctx, ds, iso3, level, indicator)
    from passage.places.boundaries import boundaries_geojson, map_levels

    numeric = _iso_numeric(iso3)
    layer = ctx.cached(("boundaries", iso3, level), lambda: boundaries_geojson(ctx.store, iso3, level))
    return render(ctx, "country.html", iso3=iso3, country_name=country_name, level=level,
                  boundary_source=layer["source"], layer_kind=layer["kind"], without_shape=layer["without_shape"],
                  data=data, dataset=ds, levels=map_levels(ctx.store, iso3), numeric=numeric,
                  indicator=get_indicator(data["indicator"]), map_indicators=ds.metadata["map"].get("choices") or [ds.metadata["map"]["indicator"]],
                  series_indicator=ds.metadata.get("series", {}).get("indicator", data["indicator"]),
                  releases=releases.releases(ctx.store, dataset=ds.name, country_code=iso3, limit=5),
                  can_publish=allowed(ctx.principal, "publish", Place(iso3)), formats=service.EXPORT_FORMATS)


def _iso_numeric(iso3: str) -> str:
    import pycountry

    c = pycountry.countries.get(alpha_3=iso3)
    return c.numeric if c else ""


@router.get("/datasets", response_class=HTMLResponse)
def datasets(ctx: Context):
    found = releases.readable_datasets(ctx.store, ctx.principal)
    return render(ctx, "datasets.html", datasets=found,
                  facts={d.name: service.dataset_facts(ctx, d) for d in found})


@router.get("/datasets/{name}", response_class=HTMLResponse)
def dataset(ctx: Context, name: str):
    ds = releases.read_dataset(ctx.store, name, ctx.principal)
    return render(ctx, "dataset.html", ds=ds, info=service.dataset_json(ctx, ds, full=True),
                  page=service.dataset_page(ctx, ds), formats=service.EXPORT_FORMATS,
                  base=str(ctx.request.base_url).rstrip("/"))


@router.get("/datasets/{name}/records", response_class=HTMLResponse)
def dataset_records(ctx: Context, name: str, country: str | None = None):
    """Records explored Datasette-style: filters, facets, sorting and columns live in the query string
    (`passage.explore`, `country` among them); the filter form's `_add_*` fields become one filter and a
    redirect."""
    ds = releases.read_dataset(ctx.store, name, ctx.principal)
    params = [(k, v) for k, v in ctx.request.query_params.multi_items() if k != "cursor"]
    from passage import explore

    folded = explore.fold_added(params)
    if folded is not None:
        return RedirectResponse(f"/datasets/{quote(name, safe='')}/records?{urlencode(folded)}", status_code=303)
    result = service.records_view(ctx, ds, params)
    files = ctx.cached(("files", ds.name, result.view.key()),
                       lambda: query.source_files(ctx.store, ctx.principal, ds, result.view.record_filter()))
    return render(ctx, "records.html", ds=ds, result=result, view=result.view, files=files,
                  formats=service.EXPORT_FORMATS, table=ds.tables[0] if ds.tables else None)


@router.get("/records/{form_id}/{record_id:path}", response_class=HTMLResponse)
def record(ctx: Context, form_id: str, record_id: str):
    return _record_page(ctx, form_id, record_id)


EDITABLE_TYPES = ("integer", "decimal", "text", "date", "select_one")  # fields the fix form offers


def _record_page(ctx: Ctx, form_id: str, record_id: str, *, submitted: dict[str, Any] | None = None,
                 rejected: Any = None) -> HTMLResponse:
    """The record page; after a refused edit, the values as submitted with each finding beside its field."""
    info = records.read_history(ctx.store, form_id, record_id, ctx.principal)
    ds = releases.dataset_for_form(ctx.store, form_id)
    editable = info["versions"] is not None
    from passage.forms import get_form

    fields = [f for f in get_form(ctx.store, form_id).top_fields() if f.type in EDITABLE_TYPES] if editable else []
    values = {f.name: (submitted or {}).get(f.name, info["record"].get(f.name)) for f in fields}
    problems: dict[str, list] = {}
    for finding in (rejected.errors if rejected is not None else []):
        problems.setdefault(finding.column if finding.column in values else "", []).append(finding)
    from passage import edits, explore

    lang = i18n.current.get()
    labels = {c.name: c for c in explore.columns(ctx.store, ds, lang, principal=ctx.principal)} if ds else {}
    history = edits.version_history(ctx.store, form_id, info["record_id"], info["versions"], info.get("files")) \
        if info["versions"] else []
    place = info["record"].get("_place_code")
    return render(ctx, "record.html", status=422 if rejected is not None else 200, info=info, ds=ds, fields=fields,
                  editable=editable, values=values, problems=problems, rejected=rejected, columns=labels,
                  history=history, place_name=explore.place_names(ctx.store, [place]).get(place) if place else None,
                  labels={f.name: explore.field_label(f, lang) for f in fields})


@router.post("/records/{form_id}/{record_id:path}", response_class=HTMLResponse)
async def record_edit(ctx: Context, form_id: str, record_id: str):
    """Fix a record: a new version once it passes the checks an import of it would (`passage.edits`)."""
    form = await ctx.request.form()
    ctx.check_csrf(form.get("csrf_token"))
    changes = {k[2:]: v for k, v in form.items() if k.startswith("f_")}
    try:
        service.edit_record(ctx, form_id, record_id, changes)
    except EditRejected as exc:
        return _record_page(ctx, form_id, record_id, submitted=changes, rejected=exc.report)
    return RedirectResponse(f"/records/{form_id}/{quote(record_id, safe='')}?saved=1", status_code=303)


@router.get("/download/{table}", response_class=Response)
def download(ctx: Context, table: str, format: str = "csv", country: str | None = None, bom: bool = False):
    """A published table; a records page's filters in the query make it "this view" (`passage.explore`)."""
    from passage.web.export_cache import download_response

    view = [(k, v) for k, v in ctx.request.query_params.multi_items() if k not in ("format", "country", "bom")]
    return download_response(*service.export_file(ctx, table, format, country or None, bom, view=view or None))


@router.post("/datasets/{name}/publish")
def publish(ctx: Context, name: str, country: Annotated[str, Form()], csrf_token: Annotated[str, Form()] = "",
            note: Annotated[str, Form()] = ""):
    ctx.check_csrf(csrf_token)
    releases.publish(ctx.store, name, country, principal=ctx.principal, note=note or None)
    return RedirectResponse(f"/countries/{country}?published=1", status_code=303)


# ---- documents ----------------------------------------------------------------------------------------------

@router.get("/documents", response_class=HTMLResponse)
def document_list(ctx: Context, q: Annotated[str, Query(max_length=200)] = "", place: str = "", language: str = "",
                  kind: str = "", tag: str = "", page: Annotated[int, Query(ge=1, le=1000)] = 1):
    total, hits = service.search_documents(ctx, q or None, place or None, language or None, kind or None,
                                           tag or None, None, None, 20, (page - 1) * 20)
    facets = documents.facets(ctx.store, visible=documents.readable_by(ctx.store, ctx.principal))
    return render(ctx, "documents.html", total=total, hits=hits, facets=facets, page=page,
                  filters={"q": q, "place": place, "language": language, "kind": kind, "tag": tag})


@router.get("/documents/new", response_class=HTMLResponse)
def document_new(ctx: Context):
    require(ctx.principal, "import", STORE)  # editors, who add documents about their places
    return render(ctx, "document_new.html", kinds=documents.KINDS)


@router.post("/documents/new", response_class=HTMLResponse)
def document_add(ctx: Context, file: Annotated[UploadFile, File()], title: Annotated[str, Form()],
                 csrf_token: Annotated[str, Form()] = "", places: Annotated[str, Form()] = "",
                 doc_date: Annotated[str, Form()] = "", language: Annotated[str, Form()] = "",
                 tags: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "report",
                 visibility: Annotated[str, Form()] = "public"):
    ctx.check_csrf(csrf_token)
    try:
        day = date.fromisoformat(doc_date) if doc_date else None
    except ValueError:
        raise UsageError(f"the date must be a day as YYYY-MM-DD, not {doc_date[:20]!r}", code="usage.date") from None
    doc_id = service.add_document_upload(
        ctx, file, title=title, places=[p.strip() for p in places.split(",") if p.strip()],
        doc_date=day, language=language or None,
        tags=[t.strip() for t in tags.split(",") if t.strip()], kind=kind, visibility=visibility)
    return RedirectResponse(f"/documents/{doc_id}", status_code=303)


@router.get("/documents/{doc_id}", response_class=HTMLResponse)
def document(ctx: Context, doc_id: int):
    return render(ctx, "document.html", doc=documents.read_document(ctx.store, doc_id, ctx.principal))


@router.get("/documents/{doc_id}/file")
def document_file(ctx: Context, doc_id: int):
    from fastapi.responses import FileResponse

    doc = documents.read_document(ctx.store, doc_id, ctx.principal)
    return FileResponse(documents.document_file(ctx.store, doc), media_type=doc.media_type, filename=doc.file_name,
                        headers={"Content-Security-Policy": "sandbox"})


# ---- officers: import, forms ------------------------------------------------------------------------------

@router.get("/import", response_class=HTMLResponse)
def import_page(ctx: Context):
    require(ctx.principal, "import", STORE)
    return render(ctx, "import.html", kinds=sorted(importers()), forms=installed_forms(ctx.store), result=None,
                  log=readable_imports(ctx.store, ctx.principal, 20))


@router.post("/import", response_class=HTMLResponse)
def import_upload(ctx: Context, file: Annotated[UploadFile, File()], kind: Annotated[str, Form()],
                  csrf_token: Annotated[str, Form()] = "", form: Annotated[str, Form()] = "",
                  update: Annotated[bool, Form()] = False, on_error: Annotated[str, Form()] = "",
                  sheet: Annotated[str, Form(max_length=100)] = ""):
    ctx.check_csrf(csrf_token)
    result = service.import_upload(ctx, kind, form or None, file, update, on_error or None, sheet.strip() or None)
    return render(ctx, "import.html", status=200 if result.ok else 422, kinds=sorted(importers()),
                  forms=installed_forms(ctx.store), result=service.import_result_json(result), file_name=file.filename,
                  log=readable_imports(ctx.store, ctx.principal, 20))


@router.get("/forms", response_class=HTMLResponse)
def forms(ctx: Context):
    return render(ctx, "forms.html", forms=installed_forms(ctx.store))


@router.post("/forms", response_class=HTMLResponse)
def form_upload(ctx: Context, file: Annotated[UploadFile, File()], csrf_token: Annotated[str, Form()] = ""):
    ctx.check_csrf(csrf_token)
    info = service.install_form_upload(ctx, file)
    return RedirectResponse(f"/forms/{info['form_id']}?installed={int(info['installed'])}", status_code=303)


@router.get("/forms/{form_id}", response_class=HTMLResponse)
def form(ctx: Context, form_id: str):
    return render(ctx, "form.html", form=form_fields(ctx.store, form_id))


# ---- accounts -----------------------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_page(ctx: Context, next: str = "/"):
    _ensure_csrf(ctx)
    return render(ctx, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(ctx: Context, user_name: Annotated[str, Form()], password: Annotated[str, Form()],
          csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"):
    ctx.check_csrf(csrf_token)
    try:
        principal = auth.authenticate(ctx.store, user_name.strip(), password, ip=ctx.ip)
    except AuthError as exc:
        status = 429 if exc.code == "auth.rate_limited" else 401
        response = render(ctx, "login.html", status=status, next=_safe_next(next), error=exc)
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token, _csrf = auth.create_session(ctx.store, principal.user_name, ip=ctx.ip)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(ctx.request),
                        max_age=auth.SESSION_HOURS * 3600)
    return response


@router.post("/logout")
def logout(ctx: Context, csrf_token: Annotated[str, Form()] = ""):
    ctx.check_csrf(csrf_token)
    if ctx.session:
        auth.end_session(ctx.store, ctx.session)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/language/{code}")
def language(code: str, next: str = "/"):
    response = RedirectResponse(_safe_next(next), status_code=303)
    if code in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response


@router.get("/account", response_class=HTMLResponse)
def account(ctx: Context, new_token: str | None = None):
    ctx.require_user()
    return render(ctx, "account.html", tokens=auth.list_tokens(ctx.store, ctx.user), new_token=None,
                  default_days=auth.default_token_days(ctx.store), max_days=auth.tokens.MAX_DAYS)


@router.post("/account/tokens", response_class=HTMLResponse)
def token_create(ctx: Context, name: Annotated[str, Form(min_length=1, max_length=80)],
                 days: Annotated[int | None, Form(ge=1, le=auth.tokens.MAX_DAYS)] = None,
                 csrf_token: Annotated[str, Form()] = ""):
    ctx.require_session()  # a token cannot mint tokens
    ctx.check_csrf(csrf_token)
    _id, secret = auth.create_token(ctx.store, ctx.user, name, days=days, principal=ctx.principal)
    return render(ctx, "account.html", tokens=auth.list_tokens(ctx.store, ctx.user), new_token=secret,
                  default_days=auth.default_token_days(ctx.store), max_days=auth.tokens.MAX_DAYS)


@router.post("/account/tokens/{token_id}/revoke")
def token_revoke(ctx: Context, token_id: str, csrf_token: Annotated[str, Form()] = ""):
    ctx.require_user()
    ctx.check_csrf(csrf_token)
    auth.revoke_token(ctx.store, ctx.user, token_id, principal=ctx.principal)
    return RedirectResponse("/account", status_code=303)
