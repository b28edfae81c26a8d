"""The one import pipeline every importer goes through."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Protocol

from passage import records
from passage.auth.audit import audit
from passage.checks import Context, q, run_checks
from passage.errors import NotFound, UsageError
from passage.findings import Finding, Report
from passage.forms import Form, get_form
from passage.ingest.files import (MAX_UPLOAD_BYTES, SourceFile, combined_sha256, copy_to_archive, describe,
                                  disk_full, register)
from passage.packs import install_pack, pack_for_form
from passage.places.pcodes import PcodeResolver
from passage.store import Store
from passage.store.schema import bump_generation


class Importer(Protocol):
    kind: str
    form_id: str | None
    pack: str | None
    description: str

    def stage(self, eng: Any, files: list[SourceFile], table: str, report: Report) -> int: ...


def _importers() -> dict[str, Callable[[], Importer]]:
    from passage.ingest.dtm import DtmImporter

    found: dict[str, Callable[[], Importer]] = {"dtm": DtmImporter}
    try:
        from passage.ingest.xlsform_data import XlsformDataImporter

        found["xlsform-data"] = XlsformDataImporter
    except ImportError:  # pragma: no cover - optional while it is being built
        pass
    from passage.ingest.acaps import AcapsImporter
    from passage.ingest.cobap import CobapImporter
    from passage.ingest.oxcgrt import OxcgrtImporter

    found.update({"oxcgrt": OxcgrtImporter, "cobap": CobapImporter, "acaps": AcapsImporter,
                  # COBAP files whose dates no value tells the order of (every part <= 12): the order given
                  "cobap-dmy": partial(CobapImporter, date_order="dmy"),
                  "cobap-mdy": partial(CobapImporter, date_order="mdy")})
    from passage.ingest.nationality_list import NationalityListImporter
    from passage.ingest.staff_register import StaffRegisterImporter

    found.update({"staff-register": StaffRegisterImporter, "nationality-list": NationalityListImporter})
    from passage.questionnaire.importer import QuestionnaireImporter

    found["questionnaire"] = QuestionnaireImporter
    return found


IMPORTERS = _importers()


def get_importer(kind: str) -> Importer:
    if kind not in IMPORTERS:
        raise UsageError(f"unknown import kind {kind!r} (have: {', '.join(sorted(IMPORTERS))})")
    return IMPORTERS[kind]()


@dataclass
class ImportResult:
    import_id: int | None
    status: str  # committed | rejected | unchanged
    report: Report
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    previous_import: int | None = None
    skipped: list[str] = field(default_factory=list)  # files committed by an earlier import, left out

    @property
    def ok(self) -> bool:
        return self.status in ("committed", "unchanged")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def import_files(store: Store, kind: str, paths: list[Path], *, form_id: str | None = None, user: str | None = None,
                 update: bool = False, max_bytes: int = MAX_UPLOAD_BYTES,
                 progress: Callable[[str], None] | None = None, scopes: list[str] | None = None,
                 year: int | None = None) -> ImportResult:
    """Validate files and, only if they are clean, load them as one transaction.

    `scopes` (place codes: ISO3 countries or P-code prefixes) limits the rows an editor may import.
    `year` is the period of importers whose files may not say it (staff-register, nationality-list).
    """
    say = progress or (lambda step: None)
    importer = get_importer(kind)
    if year is not None:
        if not hasattr(importer, "year"):
            raise UsageError(f"`{kind}` imports take no --year (their files carry their dates)")
        importer.year = year
    form_id = form_id or importer.form_id
    if form_id is None:
        raise UsageError(f"`{kind}` imports need --form ID")
    if importer.pack:
        install_pack(store, importer.pack)
    form = get_form(store, form_id)
    if hasattr(importer, "bind_form"):  # xlsform-data: reads exports by the form, adds Kobo metadata fields
        form = importer.bind_form(form, [Path(p) for p in paths])
    pack = pack_for_form(form_id)
    config = pack.record_config(form_id) if pack else {}
    if kind == "xlsform-data" and not config:
        config = {"key": ["_uuid"]} if any(f.name == "_uuid" for f in form.fields) else {}

    report = Report()
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.is_file():
            raise NotFound(f"no such file: {p}")
        if p.stat().st_size > max_bytes:
            report.add(Finding("file-too-large", f"{p.stat().st_size} bytes is over the limit of {max_bytes}", file=p.name))
    if not report.ok:  # too large to hash: logged without one
        import_id = store.scalar("SELECT nextval('import_ids')")
        result = ImportResult(import_id, "rejected", report)
        store.execute(
            "INSERT INTO imports (import_id, kind, form_id, files, sha256, user_name, started_at, status) "
            "VALUES (?, ?, ?, ?, '', ?, ?, 'running')",
            [import_id, kind, form_id, ", ".join(p.name for p in paths), user, _now()])
        _finish(store, result, user)
        return result
    say("hashing")
    files = [describe(p) for p in paths]
    # Re-importing a file is a no-op, whether it comes alone or beside new ones.
    known = dict(store.query(
        "SELECT f.sha256, max(i.import_id) FROM import_files f JOIN imports i ON i.import_id = f.import_id "
        f"WHERE i.kind = ? AND i.form_id = ? AND i.status = 'committed' AND f.sha256 IN "
        f"({', '.join('?' for _ in files)}) GROUP BY f.sha256", [kind, form_id, *(f.sha256 for f in files)]))
    skipped = [f.name for f in files if f.sha256 in known]
    files = [f for f in files if f.sha256 not in known]
    if not files:
        return ImportResult(None, "unchanged", report, previous_import=max(known.values()), skipped=skipped)
    sha = combined_sha256(files)

    import_id = store.scalar("SELECT nextval('import_ids')")
    store.execute(
        "INSERT INTO imports (import_id, kind, form_id, files, sha256, user_name, started_at, status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
        [import_id, kind, form_id, ", ".join(f.name for f in files), sha, user, _now()],
    )
    store.hold_import(import_id)
    eng = store.engine()
    stage = f"_stage_{import_id}"
    result = ImportResult(import_id, "rejected", report, skipped=skipped)
    ctx = None
    final = stage  # after the checks: a view over the staging table with normalised codes and keys
    copier = ThreadPoolExecutor(1)  # the raw files are archived while they are parsed and checked
    copies = copier.submit(lambda: [copy_to_archive(store.archive_dir, f) for f in files])
    try:
        say("parsing")
        result.rows_read = importer.stage(eng, files, stage, report)
        if report.ok:
            say("validating")
            _ensure_form_columns(eng, stage, form)
            ctx = Context(eng, stage, form, config, report,
                          store_keys=records.current_keys(store, eng, form_id),
                          extra={"resolver": PcodeResolver(store), "update": update, "store": store})
            run_checks(ctx)
            final = ctx.table
            if scopes is not None and report.ok:
                _check_scope(eng, final, config, scopes, report)
            if hasattr(importer, "after_checks"):  # xlsform-data: repeat rows, record ids
                importer.after_checks(ctx, import_id)
        say("archiving")
        for f, target in zip(files, copies.result()):
            register(store, f, target)
        if report.ok:
            say("loading")
            with store.transaction():
                for pos, f in enumerate(files):
                    store.execute("INSERT INTO import_files VALUES (?, ?, ?)", [import_id, f.sha256, pos])
                if getattr(importer, "extra_columns", None):  # xlsform-data: _uuid, _submission_time
                    records.ensure_columns(store, form_id, importer.extra_columns)
                counts = records.load(store, eng, final, form, import_id=import_id, user=user,
                                      file_hashes={f.name: f.sha256 for f in files}, update=update)
                for repeat, rstage, pstage in getattr(importer, "repeat_stages", []):  # xlsform-data repeats
                    records.load_repeat(store, eng, rstage, pstage, importer.form, repeat, import_id=import_id,
                                        user=user, file_hashes={f.name: f.sha256 for f in files}, update=update)
                result.inserted, result.updated, result.unchanged = counts
                result.status = "committed"
                _finish(store, result, user)
                bump_generation(store)
        else:
            _finish(store, result, user)
    except BaseException as exc:
        full = disk_full(exc)  # ENOSPC while archiving, staging or loading: one clear error (`store.disk_full`)
        store.execute("UPDATE imports SET status = 'failed', finished_at = ?, message = ? WHERE import_id = ?",
                      [_now(), f"{type(full or exc).__name__}: {full or exc}"[:500], import_id])
        if full is not None and full is not exc:
            raise full from exc
        raise
    finally:
        copier.shutdown(wait=True)
        for name in reversed((ctx.extra.get("temp_views", []) if ctx else [])):
            eng.execute(f"DROP VIEW IF EXISTS {name}")
        for name in (ctx.extra.get("temp_tables", []) if ctx else []):
            eng.execute(f"DROP TABLE IF EXISTS {name}")
        for suffix in ("", "_raw"):
            eng.execute(f"DROP TABLE IF EXISTS {stage}{suffix}")
        for _, rstage, _ in getattr(importer, "repeat_stages", []):  # xlsform-data repeat staging tables
            eng.execute(f"DROP TABLE IF EXISTS {rstage}")
        records.drop_current_keys(store, eng, form_id)
        store.release_import(import_id)
    return result


def _check_scope(eng: Any, table: str, config: dict[str, Any], scopes: list[str], report: Report) -> None:
    country = config.get("places", {}).get("country")
    conds, params = [], []
    for scope in scopes:
        if country and len(scope) == 3 and scope.isalpha():
            conds.append(f"{q(country)} = ?")
        else:
            conds.append("starts_with(coalesce(_place_code, ''), ?)")
        params.append(scope)
    outside = f"NOT ({' OR '.join(conds) or 'false'})"
    shown = f"coalesce(_place_code, {q(country)})" if country else "_place_code"
    rows = eng.execute(f"SELECT _file, _sheet, _row, {shown} FROM {table} WHERE {outside} ORDER BY _file, _row "
                       "LIMIT 100", params).fetchall()
    mine = ", ".join(scopes) or "none"
    for file, sheet, row, code in rows:
        report.add(Finding("out-of-scope", f"{code} is outside your places ({mine})", file=file, sheet=sheet,
                           row=row, column=country, value=code))


def _ensure_form_columns(eng: Any, stage: str, form: Form) -> None:
    have = {r[0] for r in eng.execute(f"DESCRIBE {stage}").fetchall()}
    for f in form.top_fields():
        if f.name not in have:
            eng.execute(f"ALTER TABLE {stage} ADD COLUMN {q(f.name)} VARCHAR")


def _finish(store: Store, r: ImportResult, user: str | None = None) -> None:
    rep = r.report
    audit(store, user, f"import.{r.status}", import_id=r.import_id,
          detail={"rows": r.rows_read, "inserted": r.inserted, "updated": r.updated, "errors": rep.error_count()})
    store.execute(
        "UPDATE imports SET status = ?, finished_at = ?, rows_read = ?, rows_inserted = ?, rows_updated = ?, "
        "rows_unchanged = ?, errors = ?, warnings = ?, message = ? WHERE import_id = ?",
        [r.status, _now(), r.rows_read, r.inserted, r.updated, r.unchanged, rep.error_count(),
         rep.warning_count(), rep.summary(), r.import_id],
    )


def import_log(store: Store, limit: int = 50) -> tuple[list[str], list[tuple]]:
    return store.columns(
        "SELECT import_id, started_at, kind, form_id, files, status, rows_read, rows_inserted, rows_updated, "
        "errors, warnings, user_name FROM imports ORDER BY import_id DESC LIMIT ?", [limit])
