"""The one import pipeline every importer goes through."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from passage import records
from passage.auth.audit import audit
from passage.checks import Context, q, run_checks, unique_key
from passage.errors import NotFound, UsageError
from passage.findings import Finding, Report
from passage.forms import Form, get_form
from passage.ingest.files import (
    SourceFile,
    combined_sha256,
    copy_to_archive,
    describe,
    disk_full,
    register,
)
from passage.places.pcodes import PcodeResolver
from passage.plugins import install_pack, pack_for_form
from passage.store import Store
from passage.store.schema import bump_generation, generation


class Importer(Protocol):
    kind: str
    form_id: str | None
    pack: str | None
    description: str

    def stage(self, eng: Any, files: list[SourceFile], table: str, report: Report) -> int: ...


@cache
def importers() -> dict[str, Callable[[], Importer]]:
    """Import kinds: the core's generic XLSForm export reader and every installed pack's importers."""
    from passage.ingest.xlsform_data import XlsformDataImporter
    from passage.plugins import merged

    return {"xlsform-data": XlsformDataImporter, **merged("importers")}


def get_importer(kind: str) -> Importer:
    found = importers()
    if kind not in found:
        raise UsageError(f"unknown import kind {kind!r} (have: {', '.join(sorted(found))})")
    return found[kind]()


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
    return datetime.now(UTC).replace(tzinfo=None)


def import_files(store: Store, kind: str, paths: list[Path], *, form_id: str | None = None, user: str | None = None,
                 update: bool = False, max_bytes: int | None = None,
                 progress: Callable[[str], None] | None = None, scopes: list[str] | None = None,
                 year: int | None = None) -> ImportResult:
    """Validate files and, only if they are clean, load them as one transaction.

    `scopes` (place codes: ISO3 countries or P-code prefixes) limits the rows an editor may import.
    `year` is the period of importers whose files may not say it (yearly lists).
    `max_bytes` is the largest file accepted (default: the store's `limits.upload_bytes.records`).
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
    max_bytes = store.settings.limits.upload_bytes.records if max_bytes is None else max_bytes
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
    hashes = {f.name: f.sha256 for f in files}
    # Re-importing a file is a no-op, whether it comes alone or beside new ones. An editor (scopes given)
    # hears so only once every row is known to lie in their places: "imported before" about a file of
    # other places would tell them that it is in the store. Those files are checked, then left out.
    known = _committed(store, kind, form_id, files)
    held = [f for f in files if f.sha256 in known] if scopes is not None else []
    skipped = [f.name for f in files if f.sha256 in known and f not in held]
    files = [f for f in files if f.sha256 not in known or f in held]
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
    mine = scopes is None  # every row is in the editor's places (known once the checks have run)
    final = stage  # after the checks: a view over the staging table with normalised codes and keys
    copier = ThreadPoolExecutor(1)  # the raw files are archived while they are parsed and checked
    logged = list(files)  # as the log row names them; a file found committed is left out of `files` later
    copies = copier.submit(lambda: [copy_to_archive(store.archive_dir, f) for f in logged])
    try:
        say("parsing")
        result.rows_read = importer.stage(eng, files, stage, report)
        if report.ok:
            say("validating")
            _ensure_form_columns(eng, stage, form)
            checked = generation(store)  # a change committed after this is checked again under the load lock
            # An editor's rows meet the store (keys, workflow states) only once they are all in the editor's
            # places: a finding on a row of another place would say what the store holds there.
            ctx = Context(eng, stage, form, config, report,
                          store_keys=records.current_keys(store, eng, form_id) if scopes is None else None,
                          extra={"resolver": PcodeResolver(store), "update": update, "store": store})
            run_checks(ctx)
            if scopes is not None and report.ok:
                _check_scope(eng, ctx.table, config, scopes, report)
                mine = report.ok
                if mine:
                    if held:
                        result.rows_read -= _leave_out(eng, ctx, [f.name for f in held])
                        result.skipped.extend(f.name for f in held)
                        files = [f for f in files if f not in held]
                    ctx.store_keys = records.current_keys(store, eng, form_id)
                    unique_key.store_duplicates(ctx)
            final = ctx.table
            if mine and hasattr(importer, "after_checks"):  # xlsform-data: repeat rows, record ids
                importer.after_checks(ctx, import_id)
        say("archiving")
        targets = copies.result()
        with store.load_lock(form_id):  # DuckDB: two registrations of one file at once would both insert it
            for f, target in zip(logged, targets):
                register(store, f, target)
        if not report.ok and ctx is not None and mine and files and \
                len(_committed(store, kind, form_id, files)) == len(files):
            # Checked while another import committed the very same file(s): the findings were about the
            # records it loaded (`duplicate-key-store`). This import is a no-op, as the next one would be.
            result.report = report = Report()
        if report.ok:
            say("loading")
            # One load at a time per form (per store on DuckDB), and what was checked before is checked
            # again under the lock: a file another import committed meanwhile is left out (all of them:
            # unchanged, as a file imported before); new records meet what was committed since the checks.
            with store.load_lock(form_id), store.transaction():
                late = _committed(store, kind, form_id, files)
                if late:
                    gone = [f.name for f in files if f.sha256 in late]
                    result.rows_read -= _leave_out(eng, ctx, gone)
                    result.skipped.extend(gone)
                    final, known = ctx.table, {**known, **late}
                    files = [f for f in files if f.sha256 not in late]
                if files and files != logged:
                    store.execute("UPDATE imports SET files = ?, sha256 = ? WHERE import_id = ?",
                                  [", ".join(f.name for f in files), combined_sha256(files), import_id])
                if not files:
                    result.status = "unchanged"
                    result.previous_import = max(known[hashes[n]] for n in result.skipped)
                elif not update and (late or generation(store) != checked):
                    ctx.store_keys = records.current_keys(store, eng, form_id)
                    unique_key.store_duplicates(ctx)
                if files and report.ok:
                    for pos, f in enumerate(files):
                        store.execute("INSERT INTO import_files VALUES (?, ?, ?)", [import_id, f.sha256, pos])
                    if getattr(importer, "extra_columns", None):  # xlsform-data: _uuid, _submission_time
                        records.ensure_columns(store, form_id, importer.extra_columns)
                    counts = records.load(store, eng, final, form, import_id=import_id, user=user,
                                          file_hashes=hashes, update=update)
                    for repeat, rstage, pstage in getattr(importer, "repeat_stages", []):  # xlsform-data repeats
                        records.load_repeat(store, eng, rstage, pstage, importer.form, repeat, import_id=import_id,
                                            user=user, file_hashes=hashes, update=update)
                    result.inserted, result.updated, result.unchanged = counts
                    result.status = "committed"
                _finish(store, result, user, message=f"the same file(s) were committed by import "
                        f"{result.previous_import}" if result.status == "unchanged" else None)
                if result.status == "committed":
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
        for name in reversed(ctx.extra.get("temp_views", []) if ctx else []):
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


def _committed(store: Store, kind: str, form_id: str, files: list[SourceFile]) -> dict[str, int]:
    """sha256 -> the last committed import of this kind and form that held that file."""
    if not files:
        return {}
    return dict(store.query(
        "SELECT f.sha256, max(i.import_id) FROM import_files f JOIN imports i ON i.import_id = f.import_id "
        f"WHERE i.kind = ? AND i.form_id = ? AND i.status = 'committed' AND f.sha256 IN "
        f"({', '.join('?' for _ in files)}) GROUP BY f.sha256", [kind, form_id, *(f.sha256 for f in files)]))


def _leave_out(eng: Any, ctx: Context, names: list[str]) -> int:
    """Leave the rows of these files out of the checked rows (a view); returns how many there were."""
    listed = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
    n = eng.execute(f"SELECT count(*) FROM {ctx.table} WHERE _file IN ({listed})").fetchall()[0][0]
    view = f"{ctx.table}_left{len(ctx.extra.get('temp_views', []))}"
    eng.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {ctx.table} WHERE _file NOT IN ({listed})")
    ctx.extra.setdefault("temp_views", []).append(view)
    ctx.table = view
    return n


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


def _finish(store: Store, r: ImportResult, user: str | None = None, message: str | None = None) -> None:
    rep = r.report
    audit(store, user, f"import.{r.status}", import_id=r.import_id,
          detail={"rows": r.rows_read, "inserted": r.inserted, "updated": r.updated, "errors": rep.error_count()})
    store.execute(
        "UPDATE imports SET status = ?, finished_at = ?, rows_read = ?, rows_inserted = ?, rows_updated = ?, "
        "rows_unchanged = ?, errors = ?, warnings = ?, message = ? WHERE import_id = ?",
        [r.status, _now(), r.rows_read, r.inserted, r.updated, r.unchanged, rep.error_count(),
         rep.warning_count(), message or rep.summary(), r.import_id],
    )


def import_log(store: Store, limit: int = 50) -> tuple[list[str], list[tuple]]:
    return store.columns(
        "SELECT import_id, started_at, kind, form_id, files, status, rows_read, rows_inserted, rows_updated, "
        "errors, warnings, user_name FROM imports ORDER BY import_id DESC LIMIT ?", [limit])
