"""Web glue the library has no use for: uploads to temp files, results cached per reader class, JSON shapes.

Rights, parsing and SQL live in the library verbs (`passage.access`, `releases`, `records`, `query`,
`documents`, `publish.tables`, `places`, `forms`); routes call them with `ctx.principal`, and the
functions here only add what a web request needs around such a call.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import UploadFile

from passage import documents, explore, query, releases
from passage.access import STORE, require
from passage.errors import NotFound, UsageError
from passage.indicators import all_indicators
from passage.ingest import import_files
from passage.ingest.pipeline import ImportResult, importers
from passage.places.gazetteer import find_places
from passage.publish import formats
from passage.publish.tables import download_country, readable_names, readable_table
from passage.store.schema import generation
from passage.web.context import Ctx
from passage.web.rejected import accepted

EXPORT_FORMATS = {"csv": ("text/csv", "csv"), "hxl": ("text/csv", "hxl.csv"),
                  "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
                  "parquet": ("application/vnd.apache.parquet", "parquet"), "json": ("application/json", "json")}


# ---- uploads --------------------------------------------------------------------------------------------

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


def install_form_upload(ctx: Ctx, upload: UploadFile) -> dict:
    """A new XLSForm (version) uploaded by an admin."""
    from passage import auth
    from passage.forms import compile_xlsform, install_form

    require(ctx.principal, "administer", STORE)
    with tempfile.TemporaryDirectory() as d:
        limit = ctx.store.settings.limits.upload_bytes.forms
        form = compile_xlsform(_save_upload(upload, Path(d), limit), max_bytes=limit)
        installed = install_form(ctx.store, form)
    auth.audit(ctx.store, ctx.user, "form.install", target=f"{form.form_id}@{form.version}", ip=ctx.ip,
               detail={"installed": installed})
    return {"form_id": form.form_id, "version": form.version, "installed": installed}


def import_upload(ctx: Ctx, kind: str, form_id: str | None, upload: UploadFile, update: bool,
                  on_error: str | None = None, sheet: str | None = None) -> ImportResult:
    if kind not in importers():
        raise UsageError(f"unknown import kind {kind!r} (have: {', '.join(sorted(importers()))})", code="usage.kind")
    with tempfile.TemporaryDirectory() as d:
        path = _save_upload(upload, Path(d), ctx.store.settings.limits.upload_bytes.records)
        return import_files(ctx.store, kind, [path], form_id=form_id or None, principal=ctx.principal,
                            update=update, on_error=on_error or None, options={"sheet": sheet} if sheet else {})


def add_document_upload(ctx: Ctx, upload: UploadFile, **meta: Any) -> int:
    require(ctx.principal, "add-document", documents.about(ctx.store, meta.get("places") or []))
    with tempfile.TemporaryDirectory() as d:
        path = _save_upload(upload, Path(d), ctx.store.settings.limits.upload_bytes.documents)
        return accepted(documents.add_document(ctx.store, path, principal=ctx.principal, **meta)).value


def edit_record(ctx: Ctx, form_id: str, record_id: str, changes: dict[str, Any]) -> int:
    """A record edit from the portal or the API: the library's checked edit (`passage.edits`), of records
    of a dataset only (the portal shows no others)."""
    from passage import edits

    if releases.dataset_for_form(ctx.store, form_id) is None:
        raise NotFound(f"no dataset holds form {form_id!r}")
    return edits.edit_record(ctx.store, form_id, record_id, changes, principal=ctx.principal, via="web")


# ---- cached per reader class ----------------------------------------------------------------------------

def dataset_facts(ctx: Ctx, ds: releases.Dataset) -> dict:
    return ctx.cached(("facts", ds.name), lambda: query.dataset_facts(ctx.store, ctx.principal, ds))


def headlines(ctx: Ctx) -> list[dict]:
    """The home page's headline figures: each pack's, over what the reader may see."""
    from passage.plugins import call

    return ctx.cached(("headline",), lambda: call("headline", store=ctx.store, principal=ctx.principal))


def countries(ctx: Ctx, ds: releases.Dataset) -> list[dict]:
    return ctx.cached(("countries", ds.name), lambda: query.countries(ctx.store, ctx.principal, ds)
                      if ctx.store.table_exists(ds.form) else [])


def country_map(ctx: Ctx, ds: releases.Dataset, iso3: str, level: int, indicator: str | None) -> dict:
    return ctx.cached(("map", ds.name, iso3, level, indicator),
                      lambda: query.country_map(ctx.store, ctx.principal, ds, iso3, level, indicator,
                                                slices=ctx.slices(ds)))


def export_file(ctx: Ctx, table: str, fmt: str, country: str | None, bom: bool = False,
                view: list[tuple[str, str]] | None = None) -> tuple[BinaryIO, int, str, str]:
    """A published table as this reader may see it: (open file, size, media type, file name). Files are
    written once per table, format, country, view, reader class and data generation, and kept within the
    portal's export cache budget (`passage.web.export_cache`). CSV and HXL are neutralised for spreadsheets;
    `bom` (the "for Excel" links) starts them with a UTF-8 byte order mark. `view`: a records page's query
    (`passage.explore`), whose filters narrow the rows ("download this view"). An XLSX of a dataset's table
    ends with a metadata sheet (`explore.metadata_rows`)."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"format must be one of {', '.join(EXPORT_FORMATS)}", code="usage.format")
    if bom and fmt not in ("csv", "hxl"):
        raise UsageError("bom is for csv and hxl", code="usage.bom")
    if table not in {n for n, _ in readable_names(ctx.store, ctx.principal)}:
        raise NotFound(f"nothing published as {table!r}")
    country = download_country(ctx.store, table, ctx.principal, country)
    media, ext = EXPORT_FORMATS[fmt]
    ds = table_dataset(ctx, table)
    chosen = explore.parse_view(ctx.store, ds, view, ctx.principal) if ds is not None and view else None
    if view and ds is None:
        raise UsageError(f"{table!r} is no dataset's table: it takes no filters", code="usage.filter")
    where = explore.where(ctx.store, ctx.principal, ds, chosen) if chosen is not None and chosen.filters else None
    key = chosen.key() if where is not None else ""
    if chosen is not None and chosen.record:  # the dataset's own filters: the same rows as the page shows
        record = explore.View(record=chosen.record)
        narrow = where
        where = (lambda t: narrow(query.narrow(t, ds, record.record_filter())) if narrow else
                 query.narrow(t, ds, record.record_filter()))
        key = chosen.key()

    portal = ctx.request.app.state.portal

    def write(path: Path) -> None:
        published, _ = portal.tables.get(ctx.store, (table, country, key, ctx.cache_key()),
                                         lambda: readable_table(ctx.store, table, ctx.principal, country=country,
                                                                **({"where": where} if where else {})))
        meta = None
        if fmt == "xlsx" and ds is not None:
            from passage.web import i18n

            told = chosen or explore.View()
            if country:  # narrowed by readable_table itself: said in the sheet all the same
                told = dataclasses.replace(told, record=(("country", country), *told.record))
            meta = explore.metadata_rows(ds, published, told, generated_at=_utcnow(),
                                         labels=explore.column_labels(ctx.store, ds, table, i18n.current.get()))
        formats.write(published, fmt, path, neutralise_formulas=True, bom=bom,
                      **({"metadata": meta} if meta is not None else {}))

    lang = i18n_lang() if fmt == "xlsx" else ""
    fh, size = portal.exports.open(
        generation(ctx.store), (table, fmt, country, bom, key, lang, ctx.cache_key()), f".{ext}", write)
    return fh, size, media, f"{table}{'_' + country if country else ''}{'_view' if key else ''}.{ext}"


def i18n_lang() -> str:
    from passage.web import i18n

    return i18n.current.get()


def _utcnow():
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)


def table_dataset(ctx: Ctx, table: str) -> releases.Dataset | None:
    """The dataset (readable by this reader) a published table belongs to, if any."""
    for d in releases.readable_datasets(ctx.store, ctx.principal):
        if table in d.tables:
            return d
    return None


# ---- exploring records (`passage.explore`) ----------------------------------------------------------------

def records_view(ctx: Ctx, ds: releases.Dataset, params: list[tuple[str, str]]) -> explore.Result:
    """A records page: its view parsed from the query and run over what this reader may see, kept per
    reader class until the data changes."""
    lang = i18n_lang()
    view = explore.parse_view(ctx.store, ds, params, ctx.principal, lang=lang)
    return ctx.cached(("explore", ds.name, lang, tuple(view.params())),
                      lambda: explore.run(ctx.store, ctx.principal, ds, view, lang=lang))


def dataset_page(ctx: Ctx, ds: releases.Dataset) -> dict[str, Any]:
    """What a dataset's page adds to its metadata: a preview (first rows), when it last changed, its
    countries with their rounds, and the size of each download (files written once, then cached)."""
    lang = i18n_lang()

    def compute() -> dict[str, Any]:
        has = ctx.store.table_exists(ds.form)
        preview = explore.run(ctx.store, ctx.principal, ds, explore.View(facets=(), facets_given=True, size=5),
                              lang=lang) if has else None
        return {"preview": preview, "coverage": explore.coverage(ctx.store, ctx.principal, ds),
                "last_updated": explore.last_updated(ctx.store, ctx.principal, ds)}

    out = dict(ctx.cached(("dataset-page", ds.name, lang), compute))
    sizes: dict[str, dict[str, int | None]] = {}
    for t in ds.tables:
        sizes[t] = {}
        for fmt in EXPORT_FORMATS:
            try:
                fh, size, _m, _n = export_file(ctx, t, fmt, None)
                fh.close()
            except (NotFound, UsageError):
                size = None
            sizes[t][fmt] = size
    out["sizes"] = sizes
    return out


# ---- JSON shapes ----------------------------------------------------------------------------------------

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


def indicator_list(ctx: Ctx | None = None) -> list[dict]:
    """The packs' indicators, and those of users' forms whose dataset the reader may read."""
    found = all_indicators()
    if ctx is not None:
        mine = {n for d in releases.readable_datasets(ctx.store, ctx.principal) if not d.pack for n in d.indicators}
        found = {**{n: i for n, i in all_indicators(ctx.store).items() if n in mine}, **found}
    return [{"name": i.name, "title": i.title, "description": i.description, "unit": i.unit, "form": i.form,
             "by": i.keys, "values": i.value_columns} for i in found.values()]


def export_list(ctx: Ctx) -> list[dict]:
    return [{"name": n, "title": t} for n, t in readable_names(ctx.store, ctx.principal)]


def import_result_json(r: ImportResult) -> dict:
    counts = {c: n for c, n in sorted(r.report.counts.items()) if n}
    return {"import_id": r.import_id, "status": r.status, "ok": r.ok, "rows_read": r.rows_read,
            "inserted": r.inserted, "updated": r.updated, "unchanged": r.unchanged, "skipped": r.skipped,
            "loaded": r.loaded, "quarantined": r.quarantined,
            "summary": r.counts_text() if r.status == "committed" else r.report.summary(),
            "previous_import": r.previous_import,
            "report": {"ok": r.report.ok, "errors": r.report.error_count(), "warnings": r.report.warning_count(),
                       "counts": counts, "messages": {c: r.report.messages(c) for c in counts},
                       "findings": [f.as_dict() for f in r.report.findings]}}


def document_json(doc: documents.Document) -> dict:
    d = asdict(doc)
    d.pop("body", None)
    d["file"] = f"/api/v1/documents/{doc.doc_id}/file"
    return d


def hit_json(hit: documents.DocumentHit) -> dict:
    return {**document_json(hit.document), "score": hit.score, "snippet": hit.snippet}


# ---- the reader's documents, and the home page's search ------------------------------------------------

def search_documents(ctx: Ctx, q, place, language, kind, tag, date_from, date_to, limit, offset):
    return documents.search_documents(ctx.store, q or None, places=[place] if place else None, language=language,
                                      kind=kind, tag=tag, date_from=date_from, date_to=date_to,
                                      visible=documents.readable_by(ctx.store, ctx.principal), limit=limit,
                                      offset=offset)


def search_all(ctx: Ctx, q: str) -> dict:
    """The home page's search: places, datasets and documents at once."""
    q = q.strip()
    places, _ = find_places(ctx.store, q=q, limit=20) if q else ([], None)
    low = q.lower()
    ds = [d for d in releases.readable_datasets(ctx.store, ctx.principal)
          if low in json.dumps([d.title, d.metadata.get("notes"), d.metadata.get("tags")]).lower()] if q else []
    total, hits = search_documents(ctx, q, None, None, None, None, None, None, 20, 0) if q else (0, [])
    return {"q": q, "places": places, "datasets": ds, "documents": hits, "documents_total": total,
            "map_dataset": releases.map_dataset(ctx.store).name}
