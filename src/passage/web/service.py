"""What pages and API routes share: access checks around library calls, and JSON shapes.

Each function takes the request's `Ctx` (store handle, principal) and calls the library; routes
only parse parameters and render.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import UploadFile

from passage import documents, query, records, releases
from passage.access import can_edit, may_read_dataset, readable, readable_imports, require_edit
from passage.errors import Forbidden, NotFound, UsageError
from passage.forms import get_form
from passage.forms.registry import list_forms
from passage.indicators import all_indicators
from passage.ingest import import_files
from passage.ingest.pipeline import ImportResult, importers
from passage.publish import formats
from passage.publish.tables import get_table, list_tables
from passage.store import Store
from passage.store.schema import generation
from passage.web.context import Ctx
from passage.web.rejected import accepted

EXPORT_FORMATS = {"csv": ("text/csv", "csv"), "hxl": ("text/csv", "hxl.csv"),
                  "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
                  "parquet": ("application/vnd.apache.parquet", "parquet"), "json": ("application/json", "json")}


# ---- places and forms -----------------------------------------------------------------------------------

def places_page(store: Store, *, country: str | None, level: int | None, q: str | None, cursor: str | None,
                limit: int) -> tuple[list[dict], str | None]:
    where, params = ["1=1"], []
    if country:
        where.append("country_code = ?")
        params.append(country.upper())
    if level is not None:
        where.append("level = ?")
        params.append(level)
    if q:
        where.append("(lower(name) LIKE ? OR lower(code) LIKE ?)")
        params += [f"%{q.lower()}%", f"{q.lower()}%"]
    if cursor:
        where.append("code > ?")
        params.append(query.decode_cursor(cursor))
    names, rows = store.columns(
        "SELECT code, level, kind, name, parent_code, country_code FROM places WHERE " + " AND ".join(where)
        + " ORDER BY code LIMIT ?", [*params, limit + 1])
    out = [dict(zip(names, r)) for r in rows]
    more = len(out) > limit
    out = out[:limit]
    return out, (query.encode_cursor(out[-1]["code"]) if more else None)


def forms(store: Store) -> list[dict]:
    return [{"form_id": f, "version": v, "title": t, "pack": p, "installed_at": i} for f, v, t, p, i in list_forms(store)]


def form_detail(store: Store, form_id: str) -> dict:
    form = get_form(store, form_id)
    return {"form_id": form.form_id, "version": form.version, "title": form.title, "repeats": form.repeats,
            "fields": [{"name": f.name, "type": f.type, "label": f.label, "required": f.required,
                        "relevant": f.relevant, "constraint": f.constraint, "choices": f.choices,
                        "repeat": f.repeat, "sql_type": f.sql_type} for f in form.fields]}


def install_form_upload(ctx: Ctx, upload: UploadFile) -> dict:
    """A new XLSForm (version) uploaded by an admin."""
    from passage.forms import compile_xlsform, install_form

    ctx.require_role("admin")
    with tempfile.TemporaryDirectory() as d:
        limit = ctx.store.settings.limits.upload_bytes.forms
        form = compile_xlsform(_save_upload(upload, Path(d), limit), max_bytes=limit)
        installed = install_form(ctx.store, form)
    from passage import auth

    auth.audit(ctx.store, ctx.user, "form.install", target=f"{form.form_id}@{form.version}", ip=ctx.ip,
               detail={"installed": installed})
    return {"form_id": form.form_id, "version": form.version, "installed": installed}


# ---- datasets -------------------------------------------------------------------------------------------

def visible_datasets(ctx: Ctx) -> list[releases.Dataset]:
    return [d for d in releases.list_datasets(ctx.store) if may_read_dataset(ctx.principal, d)]


def dataset(ctx: Ctx, name: str) -> releases.Dataset:
    ds = releases.get_dataset(ctx.store, name)
    if not may_read_dataset(ctx.principal, ds):
        raise NotFound(f"no dataset {name!r}")  # a restricted dataset's existence is not disclosed
    return ds


def dataset_json(ctx: Ctx, ds: releases.Dataset, full: bool = False) -> dict:
    out = {"name": ds.name, "title": ds.title, "visibility": ds.visibility, "form": ds.form,
           **{k: ds.metadata.get(k) for k in ("notes", "source", "organisation", "maintainer", "update_frequency",
                                               "license", "methodology", "caveats", "tags")}}
    if full:
        out.update(dataset_facts(ctx, ds))
        out["downloads"] = {t: {f: f"/api/v1/exports/{t}?format={f}" for f in EXPORT_FORMATS} for t in ds.tables}
        out["indicators"] = ds.indicators
        out["releases"] = releases.releases(ctx.store, dataset=ds.name, limit=20)
    return out


def dataset_facts(ctx: Ctx, ds: releases.Dataset) -> dict:
    """HDX's computed fields: dataset date (range) and locations, over what this reader sees."""
    def compute() -> dict:
        if not ctx.store.table_exists(ds.form):
            return {"dataset_date": None, "locations": [], "records": 0}
        t = readable(ctx.store, ctx.principal, ds)
        date_col, country = ds.metadata["fields"]["date"], ds.metadata["fields"]["country"]
        agg = t.aggregate(n=t.count(), first=t[date_col].min(), last=t[date_col].max()).to_pyarrow().to_pylist()[0]
        locs = sorted(v for v in t.select(country).distinct().to_pyarrow().column(0).to_pylist() if v)
        return {"dataset_date": {"from": agg["first"], "to": agg["last"]} if agg["n"] else None,
                "locations": locs, "records": agg["n"]}
    return ctx.cached(("facts", ds.name), compute)


def dataset_of_indicator(ctx: Ctx, name: str) -> tuple[releases.Dataset, Any]:
    ind = all_indicators().get(name)
    if ind is None:
        raise NotFound(f"no indicator {name!r}")
    ds = releases.dataset_for_form(ctx.store, ind.form)
    if ds is None or not may_read_dataset(ctx.principal, ds):
        raise NotFound(f"no indicator {name!r}")
    return ds, ind


def indicator_list() -> list[dict]:
    return [{"name": i.name, "title": i.title, "description": i.description, "unit": i.unit, "form": i.form,
             "by": i.keys, "values": i.value_columns} for i in all_indicators().values()]


def record_history(ctx: Ctx, form_id: str, record_id: str) -> dict:
    ds = releases.dataset_for_form(ctx.store, form_id)
    if ds is None or not may_read_dataset(ctx.principal, ds):  # a restricted dataset's existence is not disclosed
        raise NotFound(f"no dataset holds form {form_id!r}")
    t = readable(ctx.store, ctx.principal, ds)
    rows = t.filter(t._record_id == record_id).to_pyarrow().to_pylist()
    if not rows:
        raise NotFound(f"no record {record_id!r}")
    current = rows[0]
    out = {"record_id": record_id, "form": form_id, "record": current, "versions": None}
    if can_edit(ctx.principal, current.get(ds.metadata["fields"]["country"]) or "", current.get("_place_code")):
        names, vrows = records.history(ctx.store, form_id, record_id)
        out["versions"] = [dict(zip(names, r)) for r in vrows]
        sha = {v["_source_sha256"] for v in out["versions"] if v["_source_sha256"]}
        if sha:
            n2, frows = ctx.store.columns(
                f"SELECT sha256, name, size, first_seen FROM files WHERE sha256 IN ({', '.join('?' for _ in sha)})",
                sorted(sha))
            out["files"] = [dict(zip(n2, r)) for r in frows]
    return out


def edit_record(ctx: Ctx, form_id: str, record_id: str, changes: dict[str, Any]) -> int:
    """A record edit from the portal or the API: the library's checked edit, as the caller (`passage.edits`)."""
    from passage import edits

    if releases.dataset_for_form(ctx.store, form_id) is None:
        raise NotFound(f"no dataset holds form {form_id!r}")
    return edits.edit_record(ctx.store, form_id, record_id, changes, principal=ctx.principal, user=ctx.user)


# ---- exports, releases ----------------------------------------------------------------------------------

def export_list(ctx: Ctx) -> list[dict]:
    allowed = {t for d in visible_datasets(ctx) for t in [*d.tables, *d.indicators]}
    return [{"name": n, "title": t} for n, t in list_tables() if n in allowed]


def export_country(ctx: Ctx, table: str, country: str | None) -> str | None:
    """`country` for a download: an ISO3 code of a country in the place table, or one this reader can see in
    the table's dataset (trackers' own codes such as RKS); anything else is a usage error."""
    if country is None:
        return None
    code = country.upper()
    if re.fullmatch(r"[A-Z]{3}", code):
        if ctx.store.scalar("SELECT count(*) FROM places WHERE code = ? AND level = 0", [code]):
            return code
        if any(code == c["code"] for d in visible_datasets(ctx) if table in (*d.tables, *d.indicators)
               for c in countries(ctx, d)):
            return code
    raise UsageError("country must be the ISO 3166 alpha-3 code of a known country (e.g. NGA)",
                     code="usage.country")


def export_file(ctx: Ctx, table: str, fmt: str, country: str | None) -> tuple[BinaryIO, int, str, str]:
    """A published table as this reader may see it: (open file, size, media type, file name). Files are
    written once per table, format, country, reader class and data generation, and kept within the portal's
    export cache budget (`passage.web.export_cache`). CSV and HXL are neutralised for spreadsheets."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"format must be one of {', '.join(EXPORT_FORMATS)}", code="usage.format")
    if table not in {e["name"] for e in export_list(ctx)}:
        raise NotFound(f"nothing published as {table!r}")
    country = export_country(ctx, table, country)
    media, ext = EXPORT_FORMATS[fmt]

    def write(path: Path) -> None:
        by_form = {d.form: d for d in releases.list_datasets(ctx.store)}
        f = query.RecordFilter(country=country)

        def source(form_id: str):
            return query.filtered(ctx.store, ctx.principal, by_form[form_id], f)

        published = get_table(ctx.store, table, source=source)
        formats.write(published, fmt, path, neutralise_formulas=True)

    fh, size = ctx.request.app.state.portal.exports.open(
        generation(ctx.store), (table, fmt, country, ctx.cache_key()), f".{ext}", write)
    return fh, size, media, f"{table}{'_' + country if country else ''}.{ext}"


def publish(ctx: Ctx, name: str, country: str, note: str | None) -> int:
    dataset(ctx, name)
    require_edit(ctx.principal, country)
    return releases.publish(ctx.store, name, country, user=ctx.user, note=note)


def headlines(ctx: Ctx) -> list[dict]:
    """The home page's headline figures: each pack's, over what the reader may see."""
    from passage.plugins import call

    return ctx.cached(("headline",), lambda: call("headline", store=ctx.store, principal=ctx.principal))


def countries(ctx: Ctx, ds: releases.Dataset) -> list[dict]:
    return ctx.cached(("countries", ds.name), lambda: query.countries(ctx.store, ctx.principal, ds)
                      if ctx.store.table_exists(ds.form) else [])


def country_map(ctx: Ctx, ds: releases.Dataset, iso3: str, level: int, indicator: str | None) -> dict:
    return ctx.cached(("map", ds.name, iso3, level, indicator),
                      lambda: query.country_map(ctx.store, ctx.principal, ds, iso3, level, indicator))


# ---- imports --------------------------------------------------------------------------------------------

def import_log(ctx: Ctx, limit: int) -> list[dict]:
    ctx.require_role("editor")
    return readable_imports(ctx.store, ctx.principal, limit)


def _save_upload(upload: UploadFile, directory: Path, limit: int) -> Path:
    """Copy an upload to disk, refusing it past `limit` bytes (its kind's `limits.upload_bytes`) before it is
    all written: the library checks the same limit again on the saved file."""
    name = Path(upload.filename or "upload").name or "upload"
    path = directory / name
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise UsageError(f"{name} is over the upload limit of {limit} bytes", code="file-too-large")
            out.write(chunk)
    return path


def import_upload(ctx: Ctx, kind: str, form_id: str | None, upload: UploadFile, update: bool) -> ImportResult:
    ctx.require_role("editor")
    if kind not in importers():
        raise UsageError(f"unknown import kind {kind!r} (have: {', '.join(sorted(importers()))})", code="usage.kind")
    scopes = None if ctx.principal.is_admin else sorted(ctx.principal.scopes)
    with tempfile.TemporaryDirectory() as d:
        path = _save_upload(upload, Path(d), ctx.store.settings.limits.upload_bytes.records)
        result = import_files(ctx.store, kind, [path], form_id=form_id or None, user=ctx.user, update=update,
                              scopes=scopes)
    return result


def import_result_json(r: ImportResult) -> dict:
    counts = {c: n for c, n in sorted(r.report.counts.items()) if n}
    return {"import_id": r.import_id, "status": r.status, "ok": r.ok, "rows_read": r.rows_read,
            "inserted": r.inserted, "updated": r.updated, "unchanged": r.unchanged, "skipped": r.skipped,
            "previous_import": r.previous_import,
            "report": {"ok": r.report.ok, "errors": r.report.error_count(), "warnings": r.report.warning_count(),
                       "counts": counts, "findings": [f.as_dict() for f in r.report.findings]}}


# ---- documents ------------------------------------------------------------------------------------------

def _doc_visible(ctx: Ctx):
    """Public documents for all; restricted ones for admins and users whose places cover one of the document's."""
    p = ctx.principal
    countries: dict[str, str] = {}

    def country_of(code: str) -> str:
        if code not in countries:
            countries[code] = ctx.store.scalar("SELECT country_code FROM places WHERE code = ?", [code]) or code
        return countries[code]

    def visible(doc: documents.Document) -> bool:
        if doc.visibility == "public" or p.is_admin:
            return True
        return not p.is_public and any(p.covers(country_of(code), code) for code in doc.places)
    return visible


def search_documents(ctx: Ctx, q, place, language, kind, tag, date_from, date_to, limit, offset):
    return documents.search_documents(ctx.store, q or None, places=[place] if place else None, language=language,
                                      kind=kind, tag=tag, date_from=date_from, date_to=date_to,
                                      visible=_doc_visible(ctx), limit=limit, offset=offset)


def document(ctx: Ctx, doc_id: int) -> documents.Document:
    doc = documents.get_document(ctx.store, doc_id)
    if not _doc_visible(ctx)(doc):
        raise NotFound(f"no document {doc_id}")
    return doc


def document_json(doc: documents.Document) -> dict:
    d = asdict(doc)
    d.pop("body", None)
    d["file"] = f"/api/v1/documents/{doc.doc_id}/file"
    return d


def hit_json(hit: documents.DocumentHit) -> dict:
    return {**document_json(hit.document), "score": hit.score, "snippet": hit.snippet}


def add_document_upload(ctx: Ctx, upload: UploadFile, **meta: Any) -> int:
    ctx.require_role("editor")
    places = meta.get("places") or []
    country = {code: ctx.store.scalar("SELECT country_code FROM places WHERE code = ?", [code]) or code
               for code in places}
    if not ctx.principal.is_admin and not (places and all(ctx.principal.covers(country[c], c) for c in places)):
        raise Forbidden("editors add documents about their own places only (give at least one)")
    with tempfile.TemporaryDirectory() as d:
        path = _save_upload(upload, Path(d), ctx.store.settings.limits.upload_bytes.documents)
        return accepted(documents.add_document(ctx.store, path, user=ctx.user, **meta)).value


def search_all(ctx: Ctx, q: str) -> dict:
    """The home page's search: places, datasets and documents at once."""
    q = q.strip()
    places, _ = places_page(ctx.store, country=None, level=None, q=q, cursor=None, limit=20) if q else ([], None)
    low = q.lower()
    ds = [d for d in visible_datasets(ctx)
          if low in json.dumps([d.title, d.metadata.get("notes"), d.metadata.get("tags")]).lower()] if q else []
    total, hits = search_documents(ctx, q, None, None, None, None, None, None, 20, 0) if q else (0, [])
    return {"q": q, "places": places, "datasets": ds, "documents": hits, "documents_total": total,
            "map_dataset": releases.map_dataset(ctx.store).name}
