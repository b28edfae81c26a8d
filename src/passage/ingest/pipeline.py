"""The one import pipeline every importer goes through.

`import_files` runs an `ImportJob` through its named steps, each a method:

    register -> stage -> check -> load -> finish     (close, always: the staging tables go)

register  hashes the files, leaves out those committed before and logs the import as running;
stage     has the importer parse the files into a staging table of text (`Importer.stage`);
check     runs the pipeline's checks, the editor's scope and the importer's own (`after_checks`);
load      archives the raw files and, if nothing is wrong, loads the records in one transaction, checking
          again under the form's load lock what another import may have committed meanwhile;
finish    writes the outcome to the import log and the audit log.

`on_error` says what row errors do (DHIS2's import `atomicMode`: ALL or OBJECT). `reject` (ALL): any error
rejects the whole import. `quarantine` (OBJECT): rows whose errors are located on them are set aside with their
findings (`passage.ingest.quarantine`) and the other rows load, both in the same transaction; a problem of the
file itself (a finding on no staged row: header, encoding, size, scope) still rejects it whole. A pack's
`on_error:` in pack.yaml is its importers' default; without one, `reject`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from passage import records
from passage.auth.audit import audit
from passage.checks import Context, places, q, run_checks, unique_key
from passage.errors import NotFound, UsageError
from passage.findings import ERROR, Finding, Report
from passage.forms import Form, get_form
from passage.ingest.files import (
    SourceFile,
    combined_sha256,
    copy_to_archive,
    describe,
    disk_full,
    register,
)
from passage.ingest.importer import Importer, name_file_columns
from passage.places.pcodes import PcodeResolver
from passage.plugins import install_pack, pack_for_form
from passage.store import Store
from passage.store.schema import bump_generation, generation


@cache
def importers() -> dict[str, Callable[[], Importer]]:
    """Import kinds: the core's generic XLSForm export reader and every installed pack's importers."""
    from passage.ingest.xlsform_data import XlsformDataImporter
    from passage.plugins import merged

    return {"xlsform-data": XlsformDataImporter, **merged("importers")}


def get_importer(kind: str, **options: Any) -> Importer:
    """A new importer of `kind` with its options (each importer's `Options` says which it takes)."""
    found = importers()
    if kind not in found:
        raise UsageError(f"unknown import kind {kind!r} (have: {', '.join(sorted(found))})")
    return found[kind](**options)


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
    quarantined: int = 0  # rows set aside with their errors (on_error="quarantine"), loaded by none

    @property
    def loaded(self) -> int:
        """Rows that went into records: new, updated or the same as before."""
        return self.inserted + self.updated + self.unchanged

    def counts_text(self) -> str:
        """The outcome in plain words: "1,755 loaded, 7 quarantined"."""
        return f"{self.loaded:,} loaded, {self.quarantined:,} quarantined"

    @property
    def ok(self) -> bool:
        return self.status in ("committed", "unchanged")


ON_ERROR = ("reject", "quarantine")


def default_on_error(importer: Importer, form_id: str) -> str:
    """What row errors do when the caller does not say: the `on_error:` of the importer's pack (or of the form's),
    else `reject`. The generic export reader of users' forms has no pack: it rejects, the safe choice."""
    pack = None
    if importer.pack:
        from passage.plugins import load_pack

        pack = load_pack(importer.pack)
    elif importer.form_id:
        pack = pack_for_form(form_id)
    return str((pack.spec.get("on_error") if pack else None) or "reject")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def import_files(store: Store, kind: str, paths: list[Path], *, form_id: str | None = None, user: str | None = None,
                 update: bool = False, max_bytes: int | None = None,
                 progress: Callable[[str], None] | None = None, scopes: list[str] | None = None,
                 options: dict[str, Any] | None = None, principal: Any = None,
                 on_error: str | None = None) -> ImportResult:
    """Validate files and, only if they are clean, load them as one transaction.

    `on_error`: `reject` (any error rejects the whole import) or `quarantine` (rows with errors are set aside,
    the others load); default: the pack's `on_error:`, else `reject`.

    `principal` is who imports (editors and admins, `passage.access`): their places become `scopes` and
    their name `user`. Without one the caller is the store's operator.

    `max_bytes` is the largest file accepted (default: the store's `limits.upload_bytes.records`).

    `scopes` (place codes: ISO3 countries or P-code prefixes) limits the rows an editor may import.
    `options` go to the importer (e.g. `{"year": 2021}` for yearly lists whose files may not say it).
    """
    if principal is not None:
        from passage.access import import_scopes

        scopes, user = import_scopes(principal), user or principal.user_name
    job = ImportJob.prepare(store, kind, [Path(p) for p in paths], form_id=form_id, user=user, update=update,
                            progress=progress, scopes=scopes, options=options or {}, on_error=on_error)
    done = job.register(store.settings.limits.upload_bytes.records if max_bytes is None else max_bytes)
    if done is not None:
        return done
    with job:
        job.stage()
        job.check()
        name_file_columns(job.report, job.importer.file_columns())  # a file's findings name its own columns
        job.load()
    return job.result


class ImportJob:
    """One import, step by step. It owns its staging tables: `close` (or leaving `with job:`) drops them,
    whatever happened, and logs an import that ended in an exception as failed."""

    def __init__(self, store: Store, importer: Importer, kind: str, form: Form, config: dict[str, Any],
                 paths: list[Path], *, user: str | None, update: bool, scopes: list[str] | None,
                 progress: Callable[[str], None] | None, on_error: str = "reject") -> None:
        if on_error not in ON_ERROR:
            raise UsageError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}", code="usage.option")
        self.on_error = on_error
        self.aside: dict[tuple[str, str | None, int], dict[str, Any]] = {}  # rows set aside, by place in the file
        self.stage_name: str | None = None  # the staging table's name, when not the import's own
        self.options: dict[str, Any] = {}  # the importer's options, kept with quarantined rows
        self._repeats: list[tuple[str, str, str]] = []  # the importer's repeat staging, as staged
        self._aside_tables: set[str] = set()
        self._early_views: list[str] = []
        self.store, self.importer, self.kind, self.form, self.config = store, importer, kind, form, config
        self.form_id = form.form_id
        self.paths, self.user, self.update, self.scopes = paths, user, update, scopes
        self.say = progress or (lambda step: None)
        self.report = Report()
        self.result = ImportResult(None, "rejected", self.report)
        self.import_id: int | None = None
        self.files: list[SourceFile] = []  # the files this import may still load
        self.logged: list[SourceFile] = []  # as the log row first named them
        self.held: list[SourceFile] = []  # an editor's files committed before: checked, then left out
        self.known: dict[str, int] = {}  # sha256 -> the committed import that holds the file
        self.hashes: dict[str, str] = {}  # file name -> sha256
        self.ctx: Context | None = None
        self.mine = scopes is None  # every row is in the editor's places (known once the checks have run)
        self.checked = 0  # the store's generation when the checks ran
        self.eng: Any = None
        self._copier: ThreadPoolExecutor | None = None
        self._copies: Any = None

    @classmethod
    def prepare(cls, store: Store, kind: str, paths: list[Path], *, form_id: str | None, user: str | None,
                update: bool, progress: Callable[[str], None] | None, scopes: list[str] | None,
                options: dict[str, Any], on_error: str | None = None) -> ImportJob:
        """The importer with its options, its form (installed with its pack) and the records' configuration."""
        importer = get_importer(kind, **options)
        form_id = form_id or importer.form_id
        if form_id is None:
            raise UsageError(f"`{kind}` imports need --form ID")
        if importer.pack:
            install_pack(store, importer.pack)
        form = importer.bind_form(get_form(store, form_id), paths)
        pack = pack_for_form(form_id)
        config = importer.record_config(form, pack.record_config(form_id) if pack else {})
        if pack is None:  # a user's form: its place fields link records to places
            from passage.forms.datasets import link_places

            form, config = link_places(store, form, config)
        job = cls(store, importer, kind, form, config, paths, user=user, update=update, scopes=scopes,
                  progress=progress, on_error=on_error or default_on_error(importer, form_id))
        job.options = options
        return job

    @property
    def stage_table(self) -> str:
        return self.stage_name or f"_stage_{self.import_id}"

    @property
    def quarantining(self) -> bool:
        return self.on_error == "quarantine"

    # ---- register ------------------------------------------------------------------------------------

    def register(self, max_bytes: int) -> ImportResult | None:
        """Size, hash and log the files; an ImportResult when the import ends here (too large, or every file
        committed before), else None and the import is logged as running."""
        store, report = self.store, self.report
        for p in self.paths:
            if not p.is_file():
                raise NotFound(f"no such file: {p}")
            if p.stat().st_size > max_bytes:
                report.add(Finding("file-too-large", f"{p.stat().st_size} bytes is over the limit of {max_bytes}",
                                   file=p.name))
        if not report.ok:  # too large to hash: logged without one
            self._log_running(", ".join(p.name for p in self.paths), "")
            self._finish()
            return self.result
        self.say("hashing")
        files = [describe(p) for p in self.paths]
        self.hashes = {f.name: f.sha256 for f in files}
        # Re-importing a file is a no-op, whether it comes alone or beside new ones. An editor (scopes given)
        # hears so only once every row is known to lie in their places: "imported before" about a file of
        # other places would tell them that it is in the store. Those files are checked, then left out.
        self.known = _committed(store, self.kind, self.form_id, files)
        self.held = [f for f in files if f.sha256 in self.known] if self.scopes is not None else []
        skipped = [f.name for f in files if f.sha256 in self.known and f not in self.held]
        self.files = [f for f in files if f.sha256 not in self.known or f in self.held]
        if not self.files:
            return ImportResult(None, "unchanged", report, previous_import=max(self.known.values()),
                                skipped=skipped)
        self.result.skipped = skipped
        self._log_running(", ".join(f.name for f in self.files), combined_sha256(self.files))
        store.hold_import(self.import_id)
        self.eng = store.engine()  # the staging engine: the store's own on DuckDB, a private one for PostgreSQL
        self.logged = list(self.files)
        self._copier = ThreadPoolExecutor(1)  # the raw files are archived while they are parsed and checked
        self._copies = self._copier.submit(lambda: [copy_to_archive(store.archive_dir, f) for f in self.logged])
        return None

    def _log_running(self, names: str, sha: str) -> None:
        self.import_id = self.result.import_id = self.store.scalar("SELECT nextval('import_ids')")
        self.store.execute(
            "INSERT INTO imports (import_id, kind, form_id, files, sha256, user_name, started_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
            [self.import_id, self.kind, self.form_id, names, sha, self.user, _now()])

    # ---- stage and check -------------------------------------------------------------------------------

    def stage(self) -> None:
        self.say("parsing")
        self.result.rows_read = self.importer.stage(self.eng, self.files, self.stage_table, self.report)
        self._repeats = list(self.importer.repeat_tables())

    def check(self) -> None:
        """The pipeline's checks; an editor's rows meet the store (keys, workflow states) only once they are all
        in the editor's places: a finding on a row of another place would say what the store holds there.

        Quarantining, each step reports into a report of its own; rows its errors are located on are set aside
        (`_set_aside`) and the next step sees the others only."""
        if not self.report.ok:
            if not self.quarantining:
                return
            staged, self.report = self.report, Report()
            if not self._set_aside(None, staged):
                return
        store, eng = self.store, self.eng
        self.say("validating")
        self.absent = _ensure_form_columns(eng, self.stage_table, self.form) | self.importer.absent_fields()
        self.checked = generation(store)  # a change committed after this is checked again under the load lock
        self.ctx = ctx = Context(eng, self._remaining(), self.form, self.config, self.report,
                                 store_keys=records.current_keys(store, eng, self.form_id) if self.scopes is None
                                 else None,
                                 extra={"resolver": PcodeResolver(store), "update": self.update, "store": store,
                                        "absent": self.absent, **self.importer.rule_context()})
        self._step(lambda: run_checks(ctx))
        if self.quarantining and self.report.ok and self.aside:
            # What run_checks leaves out while some rows have errors, run over the rows left: the places (their
            # normalised codes and `_place_code`, which the keys read), then the keys.
            if ctx.config.get("places") and "_place_code" not in ctx.columns():
                self._step(lambda: places.run(ctx))
            if self.report.ok and "_key" not in ctx.columns():
                self._step(lambda: unique_key.run(ctx))
        if self.scopes is not None and self.report.ok:
            _check_scope(eng, ctx.table, self.config, self.scopes, self.report)
            self.mine = self.report.ok
            if self.mine:
                if self.held:
                    self.result.rows_read -= _leave_out(eng, ctx, [f.name for f in self.held])
                    self.result.skipped.extend(f.name for f in self.held)
                    self.files = [f for f in self.files if f not in self.held]
                ctx.store_keys = records.current_keys(store, eng, self.form_id)
                self._step(lambda: unique_key.store_duplicates(ctx))
        if self.mine and self.quarantining and self.report.ok:
            if self._step(lambda: self.importer.after_checks(ctx, self.import_id)):
                self._step(lambda: self.importer.after_checks(ctx, self.import_id))  # over the rows left
        elif self.mine:
            self.importer.after_checks(ctx, self.import_id)

    # ---- quarantine: rows set aside with their errors ---------------------------------------------------------

    def _step(self, run: Callable[[], Any]) -> bool:
        """Run a check step; quarantining, into a report of its own whose located errors set their rows aside.
        Returns whether rows were set aside."""
        ctx = self.ctx
        if not self.quarantining or ctx is None:
            run()
            return False
        ctx.extra["kept_per_check"] = self.report.limit  # every bad row located, not only the first ones
        ctx.report = Report(limit=self.report.limit)
        try:
            run()
        finally:
            step, ctx.report = ctx.report, self.report
        return self._set_aside(ctx, step)

    def _set_aside(self, ctx: Context | None, step: Report) -> bool:
        """Set aside the rows `step`'s errors are located on, with their findings; the rest of `step` goes to the
        import's report. Nothing is set aside when an error is not on a staged row (a problem of the file), or
        when some errors could not all be located: the import is then rejected as a whole."""
        errors = [f for f in step.findings if f.severity == ERROR]
        kept: dict[str, int] = {}
        for f in step.findings:
            kept[f.code] = kept.get(f.code, 0) + 1
        if not errors or any(step.counts.get(f.code, 0) > kept[f.code] for f in errors) or \
                any(f.file is None or f.row is None for f in errors):
            self._keep(step, step.findings, kept)
            return False
        rows = self._locate(errors)
        if rows is None:
            self._keep(step, step.findings, kept)
            return False
        mine: list[Finding] = []
        for f in step.findings:  # a set-aside row's warnings go with it too
            loc = _location(f, self.aside)
            if loc is None:
                mine.append(f)
            else:
                self.aside[loc]["findings"].append(f)
        self._keep(step, mine, kept)
        eng = self.eng
        aside = f"{self.stage_table}_aside"
        if ctx is not None and aside not in ctx.extra.setdefault("temp_tables", []):
            ctx.extra["temp_tables"].append(aside)
        self._aside_tables.add(aside)
        eng.execute(f"CREATE TEMP TABLE IF NOT EXISTS {aside} (_file VARCHAR, _sheet VARCHAR, _row BIGINT)")
        eng.execute(f"DELETE FROM {aside}")
        eng.executemany(f"INSERT INTO {aside} VALUES (?, ?, ?)", [list(loc) for loc in self.aside])
        if ctx is not None:
            view = f"{self.stage_table}_kept{len(ctx.extra.setdefault('temp_views', []))}"
            eng.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {ctx.table} s WHERE NOT EXISTS "
                        f"(SELECT 1 FROM {aside} a WHERE a._file = s._file AND a._row = s._row "
                        "AND a._sheet IS NOT DISTINCT FROM s._sheet)")
            ctx.extra["temp_views"].append(view)
            before, ctx.table = ctx.table, view
            self._drop_children(ctx, before)
        return True

    def _keep(self, step: Report, findings: list[Finding], kept: dict[str, int]) -> None:
        """Findings of a step that stay with the import (its counts beyond those kept carried over)."""
        self.report.extend(findings)
        for code, n in step.counts.items():
            if n > kept.get(code, 0):
                self.report.count(code, self.report.counts.get(code, 0) + n - kept.get(code, 0))

    def _locate(self, errors: list[Finding]) -> list[tuple[str, str | None, int]] | None:
        """The staged rows the errors are on, captured (their text and their repeat rows) into `aside`; None when
        one of them is on no staged row of the records."""
        eng, stage = self.eng, self.stage_table
        if not eng.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [stage]).fetchall()[0][0]:
            return None  # the importer staged nothing: its errors are about the file
        errs = f"{stage}_errs"
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {errs} (file VARCHAR, sheet VARCHAR, row BIGINT)")
        try:
            eng.executemany(f"INSERT INTO {errs} VALUES (?, ?, ?)",
                            sorted({(f.file, f.sheet, f.row) for f in errors}, key=str))
            match = "s._file = e.file AND s._row = e.row AND (e.sheet IS NULL OR s._sheet IS NOT DISTINCT FROM e.sheet)"
            if eng.execute(f"SELECT count(*) FROM {errs} e WHERE NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match})"
                           ).fetchall()[0][0]:
                return None
            cur = eng.execute(f"SELECT DISTINCT s.* FROM {stage} s JOIN {errs} e ON {match}")
            names, staged = [d[0] for d in cur.description], cur.fetchall()
        finally:
            eng.execute(f"DROP TABLE IF EXISTS {errs}")
        found = []
        for values in staged:
            row = dict(zip(names, values))
            loc = (row["_file"], row["_sheet"], int(row["_row"]))
            found.append(loc)
            if loc not in self.aside:
                self.aside[loc] = {"values": {k: _text(v) for k, v in row.items()}, "findings": [],
                                   "repeats": self._children(row)}
        return found

    def _children(self, parent: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """A record's repeat rows (linked by `_file` and `_index` = `_parent_index`), kept with it: they go
        where it goes."""
        out: dict[str, list[dict[str, Any]]] = {}
        indexes: dict[str | None, set[Any]] = {None: {parent.get("_index")} if parent.get("_index") is not None
                                               else set()}
        levels = {stage: repeat for repeat, stage, _ in self._repeats}
        levels[self.stage_table] = None
        for repeat, stage, parent_stage in self._repeats:
            above = indexes.get(levels.get(parent_stage, "?"), set())
            if not above:
                continue
            have = {r[0] for r in self.eng.execute(f"DESCRIBE {stage}").fetchall()}
            if not {"_file", "_parent_index", "_index"} <= have:
                continue
            listed = ", ".join("?" for _ in above)
            cur = self.eng.execute(f"SELECT * FROM {stage} WHERE _file = ? AND CAST(_parent_index AS VARCHAR) "
                                   f"IN ({listed}) ORDER BY _row", [parent["_file"], *map(str, above)])
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
            drop = {"_key", "_parent_record"}
            out[repeat] = [{k: _text(v) for k, v in r.items() if k not in drop} for r in rows]
            indexes[repeat] = {r["_index"] for r in rows if r.get("_index") is not None}
        return {k: v for k, v in out.items() if v}

    def _drop_children(self, ctx: Context, before: str) -> None:
        """Repeat rows already linked to a record now set aside (`_key` ids under its id) are loaded by none."""
        if "_key" not in {r[0] for r in self.eng.execute(f"DESCRIBE {before}").fetchall()}:
            return
        for _repeat, stage, _ in self.importer.repeat_tables():
            have = {r[0] for r in self.eng.execute(f"DESCRIBE {stage}").fetchall()}
            if "_key" not in have:
                continue
            self.eng.execute(
                f"DELETE FROM {stage} WHERE EXISTS (SELECT 1 FROM {before} p JOIN {self.stage_table}_aside a "
                "ON a._file = p._file AND a._row = p._row AND a._sheet IS NOT DISTINCT FROM p._sheet "
                f"WHERE starts_with({stage}._key, p._key || '/'))")

    def _remaining(self) -> str:
        """The staged rows not set aside (the staging table itself when none is)."""
        if not self.aside:
            return self.stage_table
        view = f"{self.stage_table}_rest"
        self.eng.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {self.stage_table} s WHERE NOT EXISTS "
                         f"(SELECT 1 FROM {self.stage_table}_aside a WHERE a._file = s._file AND a._row = s._row "
                         "AND a._sheet IS NOT DISTINCT FROM s._sheet)")
        self._early_views.append(view)
        return view

    def _hold(self) -> None:
        """Write the rows set aside to the quarantine table (in the load's transaction)."""
        from passage.ingest.quarantine import hold_rows

        self.result.quarantined = hold_rows(self.store, self, self.aside)

    def _with_aside(self) -> None:
        """The findings of the rows set aside, back in the import's report: every finding is shown."""
        for entry in self.aside.values():
            self.report.extend(entry["findings"])

    # ---- load ----------------------------------------------------------------------------------------

    def load(self) -> None:
        store, result, ctx = self.store, self.result, self.ctx
        self.say("archiving")
        targets = self._copies.result()
        with store.load_lock(self.form_id):  # DuckDB: two registrations of one file at once would both insert it
            for f, target in zip(self.logged, targets, strict=True):
                register(store, f, target)
        if not self.report.ok and ctx is not None and self.mine and self.files and \
                len(_committed(store, self.kind, self.form_id, self.files)) == len(self.files):
            # Checked while another import committed the very same file(s): the findings were about the
            # records it loaded (`duplicate-key-store`). This import is a no-op, as the next one would be.
            result.report = self.report = Report()
            self.aside = {}
        if not self.report.ok:
            self._finish()
            return
        self.say("loading")
        # One load at a time per form (per store on DuckDB), and what was checked before is checked again under
        # the lock: a file another import committed meanwhile is left out (all of them: unchanged, as a file
        # imported before); new records meet what was committed since the checks.
        eng = self.eng
        with store.load_lock(self.form_id), store.transaction():
            late = _committed(store, self.kind, self.form_id, self.files)
            if late:
                gone = [f.name for f in self.files if f.sha256 in late]
                result.rows_read -= _leave_out(eng, ctx, gone)
                result.skipped.extend(gone)
                self.known = {**self.known, **late}
                self.files = [f for f in self.files if f.sha256 not in late]
            if self.files and self.files != self.logged:
                store.execute("UPDATE imports SET files = ?, sha256 = ? WHERE import_id = ?",
                              [", ".join(f.name for f in self.files), combined_sha256(self.files), self.import_id])
            moved_on = bool(late) or generation(store) != self.checked  # the store changed since the checks
            if not self.files:
                result.status = "unchanged"
                result.previous_import = max(self.known[self.hashes[n]] for n in result.skipped)
            elif not self.update and moved_on:
                ctx.store_keys = records.current_keys(store, eng, self.form_id)
                self._step(lambda: unique_key.store_duplicates(ctx))
            if self.files and self.report.ok and moved_on:
                self._step(lambda: self.importer.check_again(ctx))
            if self.files and self.report.ok:
                self._write_records(eng)
                if self.aside:
                    self._hold()
            self._finish(message=f"the same file(s) were committed by import {result.previous_import}"
                         if result.status == "unchanged" else None)
            if result.status == "committed":
                bump_generation(store)

    def _write_records(self, eng: Any) -> None:
        store, importer, result = self.store, self.importer, self.result
        for pos, f in enumerate(self.files):
            store.execute("INSERT INTO import_files VALUES (?, ?, ?)", [self.import_id, f.sha256, pos])
        if importer.extra_columns():
            records.ensure_columns(store, self.form_id, importer.extra_columns())
        result.inserted, result.updated, result.unchanged = records.load(
            store, eng, self.ctx.table, self.form, import_id=self.import_id, user=self.user,
            file_hashes=self.hashes, update=self.update, absent=self.absent)
        for repeat, rstage, pstage in importer.repeat_tables():
            records.load_repeat(store, eng, rstage, pstage, importer.form, repeat, import_id=self.import_id,
                                user=self.user, file_hashes=self.hashes, update=self.update,
                                absent=importer.absent_fields(repeat))
        result.status = "committed"

    # ---- finish and close ------------------------------------------------------------------------------

    def _finish(self, message: str | None = None) -> None:
        if self.aside:
            self._with_aside()
            if self.result.status == "committed":
                message = f"committed: {self.result.counts_text()}"
        _finish(self.store, self.result, self.user, message=message)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc is not None:
                self.fail(exc)
        finally:
            self.close()

    def fail(self, exc: BaseException) -> None:
        """Log the import as failed; a full disk is raised again as one clear error (`store.disk_full`)."""
        full = disk_full(exc)  # ENOSPC while archiving, staging or loading
        self.store.execute("UPDATE imports SET status = 'failed', finished_at = ?, message = ? WHERE import_id = ?",
                           [_now(), f"{type(full or exc).__name__}: {full or exc}"[:500], self.import_id])
        if full is not None and full is not exc:
            raise full from exc

    def close(self, release: bool = True) -> None:
        """Drop every staging table and view of the import, and let go of it (`release=False`: a check of a
        quarantined row, which never held its import)."""
        eng, ctx = self.eng, self.ctx
        if self._copier is not None:
            self._copier.shutdown(wait=True)
        for name in reversed(ctx.extra.get("temp_views", []) if ctx else []):
            eng.execute(f"DROP VIEW IF EXISTS {name}")
        for name in (ctx.extra.get("temp_tables", []) if ctx else []):
            eng.execute(f"DROP TABLE IF EXISTS {name}")
        for name in [*reversed(self._early_views)]:
            eng.execute(f"DROP VIEW IF EXISTS {name}")
        for name in (self.stage_table, f"{self.stage_table}_raw", *self._aside_tables, *self.importer.staging_tables()):
            eng.execute(f"DROP TABLE IF EXISTS {name}")
        records.drop_current_keys(self.store, eng, self.form_id)
        if release:
            self.store.release_import(self.import_id)


def _committed(store: Store, kind: str, form_id: str, files: list[SourceFile]) -> dict[str, int]:
    """sha256 -> the last committed import of this kind and form that held that file."""
    if not files:
        return {}
    return dict(store.query(
        "SELECT f.sha256, max(i.import_id) FROM import_files f JOIN imports i ON i.import_id = f.import_id "
        f"WHERE i.kind = ? AND i.form_id = ? AND i.status = 'committed' AND f.sha256 IN "
        f"({', '.join('?' for _ in files)}) GROUP BY f.sha256", [kind, form_id, *(f.sha256 for f in files)]))


def _location(f: Finding, aside: dict[tuple[str, str | None, int], Any]) -> tuple[str, str | None, int] | None:
    """The set-aside row a finding is on, if any (a finding without a sheet matches the row in any sheet)."""
    if f.file is None or f.row is None:
        return None
    if (f.file, f.sheet, f.row) in aside:
        return (f.file, f.sheet, f.row)
    if f.sheet is None:
        return next((loc for loc in aside if loc[0] == f.file and loc[2] == f.row), None)
    return None


def _text(value: Any) -> str | None:
    """A staged value as text (staging is text; an importer's own columns may be typed)."""
    return None if value is None else value if isinstance(value, str) else str(value)


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


def _ensure_form_columns(eng: Any, stage: str, form: Form) -> set[str]:
    """Give the staging table every field of the form; returns those the files did not carry."""
    have = {r[0] for r in eng.execute(f"DESCRIBE {stage}").fetchall()}
    added = set()
    for f in form.top_fields():
        if f.name not in have:
            eng.execute(f"ALTER TABLE {stage} ADD COLUMN {q(f.name)} VARCHAR")
            added.add(f.name)
    return added


def _finish(store: Store, r: ImportResult, user: str | None = None, message: str | None = None) -> None:
    rep = r.report
    audit(store, user, f"import.{r.status}", import_id=r.import_id,
          detail={"rows": r.rows_read, "inserted": r.inserted, "updated": r.updated, "errors": rep.error_count(),
                  **({"quarantined": r.quarantined} if r.quarantined else {})})
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
