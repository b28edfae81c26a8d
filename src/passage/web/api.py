"""`/api/v1`: the same data as the portal, as JSON or CSV, with cursor pagination and ETags.

Errors are `{"error": {"code", "message"}}` with the codes the CLI uses (see `passage.errors`).
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictFloat, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from passage import auth, documents, query, releases
from passage.access import readable_imports
from passage.errors import UsageError
from passage.forms.registry import form_fields, installed_forms
from passage.places.boundaries import boundaries_geojson
from passage.places.gazetteer import find_places
from passage.publish import formats
from passage.records import read_history
from passage.web import service
from passage.web.context import Ctx, aresolve
from passage.web.export_cache import download_response

router = APIRouter(prefix="/api/v1", tags=["api"])
Context = Annotated[Ctx, Depends(aresolve)]
Fmt = Annotated[Literal["json", "csv"], Query(description="Response format")]


class ErrorInfo(BaseModel):
    """What went wrong: a stable `code` (as the CLI prints it) and a message for people."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorInfo


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid parameters (`usage…` codes)"},
    401: {"model": ErrorBody, "description": "Not signed in or unknown token (`auth…` codes)"},
    403: {"model": ErrorBody, "description": "Not allowed for this role or place (`forbidden`, `csrf`)"},
    404: {"model": ErrorBody, "description": "No such item (`not_found`)"},
    "4XX": {"model": ErrorBody, "description": "Any other client error, in the same error model"},
}
CSV = {"text/csv": {"schema": {"type": "string"}}}
JSON_OR_CSV = {**ERRORS, 200: {"description": "JSON, or CSV with `format=csv`", "content": {"application/json": {},
                                                                                              **CSV}}}
FILE = {"schema": {"type": "string", "format": "binary"}}


def _iso_day(value: Any) -> Any:
    """Dates in queries are ISO days only, never numbers read as timestamps."""
    if value is not None and not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


Day = Annotated[date | None, BeforeValidator(_iso_day), Query(description="YYYY-MM-DD")]


def _json_default(v: Any) -> Any:
    if isinstance(v, (date,)):
        return v.isoformat()
    return str(v)


_WHOLE = contextvars.ContextVar("passage_whole_answer", default=False)  # set while an answer is made for the cache


def _has(request: Request, etag: str) -> bool:
    return etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]


def respond(request: Request, payload: Any, *, rows: pa.Table | list[dict] | None = None, fmt: str = "json",
            filename: str = "data") -> Response:
    """JSON or CSV with a strong ETag over the body; answers 304 when the client has it (routes kept by
    `kept_answer` decide that on the cached answer instead)."""
    if fmt == "csv":
        data = rows if rows is not None else payload
        if isinstance(data, pa.Table):
            data = data.to_pylist()
        out = io.StringIO()
        if data:  # neutralised for spreadsheets, as downloads are (passage.publish.formats)
            names = list(data[0])
            w = formats.csv_writer(out, neutralise_formulas=True)
            w.writerow(names)
            w.writerows([r.get(k) for k in names] for r in data)
        body, media = out.getvalue().encode(), "text/csv; charset=utf-8"
        headers = {"Content-Disposition": f'inline; filename="{filename}.csv"'}
    else:
        body = json.dumps(payload, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode()
        media, headers = "application/json", {}
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers.update({"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"})
    following = payload.get("links", {}).get("next") if isinstance(payload, dict) else None
    if following:  # CSV has no room for the cursor: clients follow the Link header
        headers["Link"] = f'<{following}>; rel="next"'
    if not _WHOLE.get() and _has(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


@dataclass(frozen=True)
class Answer:
    """An encoded answer as the cache keeps it: body, ETag, the other headers."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    etag: str

    @property
    def weight(self) -> float:
        return len(self.body) if self.status == 200 else float("inf")  # only whole answers are kept

    def response(self, request: Request) -> Response:
        if self.status == 200 and self.etag and _has(request, self.etag):
            return Response(status_code=304, headers={k.decode("latin-1"): v.decode("latin-1")
                                                      for k, v in self.headers if k not in _BODY_HEADERS})
        r = Response(self.body, status_code=self.status)
        r.raw_headers = list(self.headers)
        return r


_BODY_HEADERS = (b"content-length", b"content-type", b"content-disposition")


def kept_answer(endpoint: Callable[..., Response]) -> Callable[..., Response]:
    """A GET route whose encoded answer (body, ETag, headers) is kept per data generation x URL x reader class
    x language (`Portal.responses`), computed once while concurrent requests for it wait, and answered 304
    when the client already has it. Only for answers that depend on nothing but those: not for the caller's
    own account, tokens or history. Errors are raised, so never kept."""

    def answer(*args: Any, **kwargs: Any) -> Response:
        ctx: Ctx = kwargs["ctx"]
        request: Request = kwargs["request"]
        portal = request.app.state.portal

        def make() -> Answer:
            token = _WHOLE.set(True)
            try:
                r = endpoint(*args, **kwargs)
            finally:
                _WHOLE.reset(token)
            etag = r.headers.get("etag", "")
            return Answer(r.status_code, bytes(r.body), tuple(r.raw_headers), etag)

        kept = portal.responses.get_at(portal.generation.current(), (str(request.url), ctx.cache_key(), ctx.lang),
                                       make)
        return kept.response(request)

    @functools.wraps(endpoint)
    async def route(*args: Any, **kwargs: Any) -> Response:
        """A kept answer is sent from the event loop; anything else is made in a worker thread."""
        ctx: Ctx = kwargs["ctx"]
        request: Request = kwargs["request"]
        portal = request.app.state.portal
        gen = portal.generation.peek()
        if gen is not None:
            found, kept = portal.responses.peek(gen, (str(request.url), ctx.cache_key(), ctx.lang))
            if found:
                return kept.response(request)
        return await run_in_threadpool(answer, *args, **kwargs)

    return route


def _page(request: Request, data: list[dict], cursor: str | None) -> dict[str, Any]:
    nxt = str(request.url.include_query_params(cursor=cursor)) if cursor else None
    return {"data": data, "next_cursor": cursor, "links": {"next": nxt}}


# ---- health, who am I, tokens -------------------------------------------------------------------------


@router.get("/health", responses=ERRORS)
def health(request: Request):
    """For load balancers and monitors: the store answers, its generation, and whether the maps' indicators and
    charts are prepared for it (`ready`; until then a map request may compute its own answer; `prepared_for`:
    the generation each reader class's were last made for)."""
    portal = request.app.state.portal
    gen = portal.generation.current()
    slices = portal.slices
    return respond(request, {"status": "ok", "generation": gen,
                             "maps": {"prepared": slices.enabled, "prepared_for": dict(slices.built),
                                      "ready": slices.ready(gen)}})


@router.get("/me", responses=ERRORS)
def me(ctx: Context, request: Request):
    """The caller: user name, role and places (the public has role `public`)."""
    p = ctx.principal
    return respond(request, {"user": p.user_name, "role": p.role, "scopes": sorted(p.scopes)})


@router.get("/tokens", responses=ERRORS)
def list_tokens(ctx: Context, request: Request):
    """The caller's API tokens (never their secrets)."""
    ctx.require_user()
    return respond(request, {"data": auth.list_tokens(ctx.store, ctx.user)})


@router.post("/tokens", status_code=201, responses=ERRORS)
def create_token(ctx: Context, request: Request, name: Annotated[str, Form(min_length=1, max_length=80)],
                 days: Annotated[int | None, Form(ge=1, le=auth.tokens.MAX_DAYS,
                                                  description="Lifetime (default: the store's, 90 days)")] = None,
                 csrf_token: Annotated[str | None, Form()] = None):
    """Create a token; its secret is in this response only. Needs a signed-in session: a token cannot make one."""
    ctx.require_session()
    ctx.check_csrf(csrf_token or request.headers.get("x-csrf-token"))
    token_id, secret = auth.create_token(ctx.store, ctx.user, name, days=days, principal=ctx.principal)
    expires_at = next(t["expires_at"] for t in auth.list_tokens(ctx.store, ctx.user) if t["token_id"] == token_id)
    return JSONResponse({"token_id": token_id, "name": name, "token": secret, "expires_at": expires_at.isoformat()},
                        status_code=201)


@router.delete("/tokens/{token_id}", status_code=204, responses=ERRORS)
def revoke_token(ctx: Context, request: Request, token_id: str):
    ctx.require_user()
    ctx.check_csrf(request.headers.get("x-csrf-token"))
    auth.revoke_token(ctx.store, ctx.user, token_id, principal=ctx.principal)
    return Response(status_code=204)


# ---- places, forms ------------------------------------------------------------------------------------


@router.get("/places", responses=JSON_OR_CSV)
def places(ctx: Context, request: Request, country: str | None = None,
           level: Annotated[int | None, Query(ge=0, le=5)] = None, q: str | None = None,
           cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100, format: Fmt = "json"):
    """Countries and admin areas (OCHA P-codes), filtered by country, level or name."""
    rows, nxt = find_places(ctx.store, country=country, level=level, q=q, cursor=cursor, limit=limit)
    return respond(request, _page(request, rows, nxt), rows=rows, fmt=format, filename="places")


@router.get("/forms", responses=ERRORS)
def forms(ctx: Context, request: Request):
    """Installed forms and their versions."""
    return respond(request, {"data": installed_forms(ctx.store)})


@router.get("/forms/{form_id}", responses=ERRORS)
def form(ctx: Context, request: Request, form_id: str):
    """A form's fields (name, type, label, required, choices)."""
    return respond(request, form_fields(ctx.store, form_id))


# ---- datasets, records, indicators ----------------------------------------------------------------------


@router.get("/datasets", responses=ERRORS)
@kept_answer
def datasets(ctx: Context, request: Request):
    """Datasets with their HDX metadata and visibility (restricted ones only for readers allowed to see them)."""
    return respond(request, {"data": [service.dataset_json(ctx, d) for d in releases.readable_datasets(ctx.store, ctx.principal)]})


@router.get("/datasets/{name}", responses=ERRORS)
@kept_answer
def dataset(ctx: Context, request: Request, name: str):
    return respond(request, service.dataset_json(ctx, releases.read_dataset(ctx.store, name, ctx.principal), full=True))


def _filter(country: str | None, place: str | None, level: int | None, round: int | None,
            date_from: date | None, date_to: date | None) -> query.RecordFilter:
    if date_from and date_to and date_from > date_to:
        raise UsageError("date_from is after date_to", code="usage.dates")
    return query.RecordFilter(country=country, place=place, level=level, round=round, date_from=date_from,
                              date_to=date_to)


Country = Annotated[str | None, Query(pattern="^[A-Z]{3}$", description="ISO 3166 alpha-3")]
Place = Annotated[str | None, Query(pattern="^[A-Z]{2,3}[0-9A-Z]*$", max_length=20, description="P-code prefix")]
Level = Annotated[int | None, Query(ge=0, le=5)]
Round = Annotated[int | None, Query(ge=0, le=100000)]
ISO3 = Annotated[str, PathParam(pattern="^[A-Z]{3}$", description="ISO 3166 alpha-3")]
MapDataset = Annotated[str | None, Query(max_length=60, description="A dataset with a map (default: the country pages' dataset)")]


@router.get("/datasets/{name}/records", responses=JSON_OR_CSV)
@kept_answer
def records(ctx: Context, request: Request, name: str, country: Country = None, place: Place = None,
            level: Level = None, round: Round = None, date_from: Day = None, date_to: Day = None,
            cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100, format: Fmt = "json"):
    """Current records (as this caller may see them), ordered by record id; follow `next_cursor`."""
    ds = releases.read_dataset(ctx.store, name, ctx.principal)
    f = _filter(country, place, level, round, date_from, date_to)
    page, nxt = ctx.cached(("records", name, str(f), cursor, limit),
                           lambda: query.list_records(ctx.store, ctx.principal, ds, f, cursor=cursor, limit=limit))
    rows = page.to_pylist()
    return respond(request, _page(request, rows, nxt), rows=rows, fmt=format, filename=name)


@router.get("/records/{form_id}/{record_id}", responses=ERRORS)
def record_history(ctx: Context, request: Request, form_id: str, record_id: str):
    """Every version of a record with its provenance (import, file, row, user, time) — editors and admins."""
    return respond(request, read_history(ctx.store, form_id, record_id, ctx.principal))


class EditResult(BaseModel):
    form: str
    record_id: str
    version: int


FieldValue = StrictStr | StrictInt | StrictFloat | None


@router.patch("/records/{form_id}/{record_id}", responses={
    **ERRORS, 200: {"model": EditResult, "description": "The record's version after the edit"},
    409: {"model": ErrorBody, "description": "The record changed meanwhile (`record.conflict`): read it again"},
    422: {"model": ErrorBody, "description": "The edit failed the checks (`edit.rejected`); `error.report` "
                                              "holds the findings, located by column"}})
def record_edit(ctx: Context, request: Request, form_id: str, record_id: str,
                changes: Annotated[dict[str, FieldValue], Body(description="Field name -> new value (text or a "
                                                                          "number; null or \"\" clears it)")]):
    """Fix a record: a new version once it passes the checks an import of that row runs (types, constraints,
    choices, P-codes, keys, the editor's places for the old and the new version) — editors of its place, admins.
    Send the CSRF token (`X-CSRF-Token`) when signed in with a session cookie."""
    ctx.require_user()
    ctx.check_csrf(request.headers.get("x-csrf-token"))
    version = service.edit_record(ctx, form_id, record_id, changes)
    return JSONResponse({"form": form_id, "record_id": record_id, "version": version})


@router.get("/indicators", responses=ERRORS)
def indicators(ctx: Context, request: Request):
    """Indicator definitions."""
    return respond(request, {"data": service.indicator_list(ctx)})


@router.get("/indicators/{name}", responses=JSON_OR_CSV)
@kept_answer
def indicator(ctx: Context, request: Request, name: str, country: Country = None, place: Place = None,
              level: Level = None, round: Round = None, date_from: Day = None, date_to: Day = None,
              group: Annotated[str | None, Query(max_length=200, description="Comma-separated keys to roll up to")] = None,
              format: Fmt = "json"):
    """An indicator by place level × period × its disaggregation, over what the caller may read."""
    ds, _ = releases.indicator_dataset(ctx.store, name, ctx.principal)
    f = _filter(country, place, level, round, date_from, date_to)
    groups = [g.strip() for g in group.split(",") if g.strip()] if group else None
    rows = ctx.cached(("indicator", name, str(f), group),
                      lambda: query.indicator_rows(ctx.store, ctx.principal, ds, name, f, groups,
                                                   slices=ctx.slices(ds)).to_pylist())
    return respond(request, {"indicator": name, "data": rows}, rows=rows, fmt=format, filename=name)


@router.get("/countries", responses=ERRORS)
@kept_answer
def country_list(ctx: Context, request: Request, dataset: MapDataset = None):
    """Countries with records the caller may read."""
    ds = releases.read_dataset(ctx.store, dataset or releases.map_dataset(ctx.store).name, ctx.principal)
    return respond(request, {"data": service.countries(ctx, ds)})


@router.get("/countries/{iso3}/map", responses=JSON_OR_CSV)
@kept_answer
def country_map(ctx: Context, request: Request, iso3: ISO3,
                level: Annotated[int, Query(ge=1, le=3)] = 1, indicator: str | None = None,
                dataset: MapDataset = None, format: Fmt = "json"):
    """The country page's data: the indicator per place at one admin level (latest round per place)."""
    ds = releases.read_dataset(ctx.store, dataset or releases.map_dataset(ctx.store).name, ctx.principal)
    data = service.country_map(ctx, ds, iso3, level, indicator)
    return respond(request, data, rows=data["values"], fmt=format, filename=f"{iso3}_admin{level}")


@router.get("/countries/{iso3}/series", responses=JSON_OR_CSV)
@kept_answer
def country_series(ctx: Context, request: Request, iso3: ISO3, dataset: MapDataset = None, format: Fmt = "json"):
    """The indicator over rounds for the country page's chart."""
    ds = releases.read_dataset(ctx.store, dataset or releases.map_dataset(ctx.store).name, ctx.principal)
    rows = ctx.cached(("series", ds.name, iso3), lambda: ctx.prepared_series(ds, iso3)
                      or query.country_series(ctx.store, ctx.principal, ds, iso3))
    return respond(request, {"data": rows}, rows=rows, fmt=format, filename=f"{iso3}_series")


@router.get("/boundaries/{iso3}", responses=ERRORS)
@kept_answer
def boundaries(ctx: Context, request: Request, iso3: ISO3, level: Annotated[int, Query(ge=0, le=3)] = 1):
    """What the country map draws at one admin level, as GeoJSON: the imported shapes, else (admin 1) Natural
    Earth's bundled ones joined on P-codes, else points at the parent's centroid (`kind`: shapes or points).
    Features carry `code`, `name`, `level`; the collection its `source` and `without_shape`, the places the map
    cannot show."""
    data = ctx.cached(("boundaries", iso3, level), lambda: boundaries_geojson(ctx.store, iso3, level))
    return respond(request, data)


# ---- exports, releases ----------------------------------------------------------------------------------


@router.get("/exports", responses=ERRORS)
@kept_answer
def exports(ctx: Context, request: Request):
    """Tables that can be downloaded, and their formats."""
    return respond(request, {"data": service.export_list(ctx), "formats": list(service.EXPORT_FORMATS)})


@router.get("/exports/{table}", responses={**ERRORS, 200: {"description": "The table as a file", "content": {
    "text/csv": FILE, "application/json": FILE, "application/vnd.apache.parquet": FILE,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": FILE}}})
def export(ctx: Context, table: str,
           format: Annotated[Literal["csv", "xlsx", "hxl", "parquet", "json"], Query()] = "csv",
           country: Country = None,
           bom: Annotated[bool, Query(description="csv, hxl: start with a UTF-8 byte order mark, for Excel")] = False):
    """A published table as a file (CSV, XLSX, HXL CSV, Parquet, JSON), as this caller may see it."""
    return download_response(*service.export_file(ctx, table, format, country, bom))


@router.get("/releases", responses=ERRORS)
@kept_answer
def release_list(ctx: Context, request: Request, dataset: str | None = None, country: Country = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50):
    """Releases, newest first."""
    return respond(request, {"data": releases.releases(ctx.store, dataset=dataset, country_code=country, limit=limit)})


@router.post("/datasets/{name}/releases", status_code=201, responses=ERRORS)
def publish(ctx: Context, request: Request, name: str, country: Annotated[str, Form(pattern="^[A-Z]{3}$")],
            note: Annotated[str | None, Form(max_length=500)] = None, csrf_token: Annotated[str | None, Form()] = None):
    """Publish the dataset for one country as it stands now (editors for that country, admins)."""
    ctx.require_user()  # the anonymous are told to sign in, not about CSRF
    ctx.check_csrf(csrf_token or request.headers.get("x-csrf-token"))
    release_id = releases.publish(ctx.store, name, country, principal=ctx.principal, note=note)
    return JSONResponse({"release_id": release_id, "dataset": name, "country": country}, status_code=201)


# ---- imports --------------------------------------------------------------------------------------------


@router.get("/imports", responses=ERRORS)
def import_log(ctx: Context, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50):
    """The import log (editors and admins)."""
    return respond(request, {"data": readable_imports(ctx.store, ctx.principal, limit)})


@router.post("/imports", responses={**ERRORS, 422: {"description": "The file was rejected; the report says where"}})
def import_file(ctx: Context, request: Request, kind: Annotated[str, Form(min_length=1, max_length=40)],
                file: Annotated[UploadFile, File()], form: Annotated[str | None, Form(max_length=80)] = None,
                update: Annotated[bool, Form()] = False, csrf_token: Annotated[str | None, Form()] = None,
                on_error: Annotated[Literal["reject", "quarantine"] | None, Form()] = None,
                sheet: Annotated[str | None, Form(max_length=100)] = None):
    """Validate a file and commit it when clean (editors within their places, admins). `on_error=quarantine`
    keeps rows with errors aside (`quarantined` in the answer) and commits the others; `sheet` names the
    workbook sheet that holds the records (default: the first)."""
    ctx.require_user()
    ctx.check_csrf(csrf_token or request.headers.get("x-csrf-token"))
    result = service.import_upload(ctx, kind, form, file, update, on_error, sheet or None)
    return JSONResponse(service.import_result_json(result), status_code=200 if result.ok else 422)


# ---- documents ------------------------------------------------------------------------------------------


@router.get("/documents", responses=ERRORS)
def document_search(ctx: Context, request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
                    place: Annotated[str | None, Query(max_length=20)] = None,
                    language: Annotated[str | None, Query(max_length=3)] = None,
                    kind: Annotated[str | None, Query(max_length=20)] = None,
                    tag: Annotated[str | None, Query(max_length=60)] = None,
                    date_from: Day = None, date_to: Day = None,
                    limit: Annotated[int, Query(ge=1, le=100)] = 20, offset: Annotated[int, Query(ge=0)] = 0):
    """Reports, maps and snapshots: full-text search over titles and text, with filters."""
    total, hits = service.search_documents(ctx, q, place, language, kind, tag, date_from, date_to, limit, offset)
    return respond(request, {"total": total, "data": [service.hit_json(h) for h in hits]})


@router.get("/documents/{doc_id}", responses=ERRORS)
def document(ctx: Context, request: Request, doc_id: int):
    return respond(request, service.document_json(documents.read_document(ctx.store, doc_id, ctx.principal)))


@router.get("/documents/{doc_id}/file", responses={**ERRORS, 200: {"description": "The document's file",
                                                                   "content": {"*/*": FILE}}})
def document_file(ctx: Context, doc_id: int):
    doc = documents.read_document(ctx.store, doc_id, ctx.principal)
    return FileResponse(documents.document_file(ctx.store, doc), media_type=doc.media_type, filename=doc.file_name,
                        headers={"Content-Security-Policy": "sandbox"})
