"""Rows an import set aside with their errors, and what an editor does with them.

An import with `on_error="quarantine"` (DHIS2's import `atomicMode` OBJECT) loads its valid rows and keeps the rows
with errors here, in the same transaction: their text as the importer staged it (form fields and the importer's own
columns), where they were (file, sheet, row, import), their findings and their repeat rows. Then:

    list_held(store, principal)               what is held, newest first (`summary`: per import and form)
    show(store, qid, principal)               one row: values and findings
    fix(store, qid, {"field": "value"}, ...)  new values, checked again; the findings become the new ones
    release(store, qid, principal)            loads the row as a record version; refused while it has errors
    drop(store, qid, principal)               gives up on the row (its file stays in the archive)

A row is checked again as an import checks a file's rows: one staged row through the import pipeline's check step
(`ImportJob.check`: the form's rules, places, keys against the store, scope, the importer's `after_checks`), then
the importer's own row checks (`check_edit`, what it checked while reading the file). Releasing loads it through
`records.load` under the form's load lock, as an import loads, with its import's id and file as provenance.

Access (`passage.access`, `review-quarantine`): admins, editors of the row's place, and the editor who imported it.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from passage import records
from passage.access import HeldRow as HeldRowResource
from passage.access import allowed, require
from passage.auth.audit import audit
from passage.checks import q, unique_key
from passage.errors import EditRejected, NotFound, UsageError
from passage.findings import Finding, Report
from passage.store import Store
from passage.store.schema import bump_generation

if TYPE_CHECKING:
    from passage.auth.principal import Principal
    from passage.ingest.pipeline import ImportJob

STATUSES = ("held", "released", "dropped")


@dataclass
class HeldRow:
    quarantine_id: int
    import_id: int
    kind: str
    form_id: str
    options: dict[str, Any]
    file_name: str
    file_sha256: str | None
    sheet: str | None
    source_row: int
    country: str | None
    place_code: str | None
    values: dict[str, str | None]
    repeats: dict[str, list[dict[str, Any]]]
    findings: list[Finding]
    status: str
    imported_by: str | None
    created_at: datetime
    changed_by: str | None = None
    changed_at: datetime | None = None
    record_id: str | None = None
    fields: list[str] = field(default_factory=list)  # the form's fields, in order (what `fix` may set)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def resource(self) -> HeldRowResource:
        return HeldRowResource(self.country or "", self.place_code, self.imported_by)

    def as_dict(self) -> dict[str, Any]:
        return {"quarantine_id": self.quarantine_id, "import_id": self.import_id, "kind": self.kind,
                "form_id": self.form_id, "file": self.file_name, "sheet": self.sheet, "row": self.source_row,
                "country": self.country, "place_code": self.place_code, "status": self.status,
                "values": {k: v for k, v in self.values.items() if k in self.fields},
                "repeats": self.repeats, "findings": [f.as_dict() for f in self.findings],
                "imported_by": self.imported_by, "created_at": self.created_at.isoformat(),
                "changed_by": self.changed_by, "record_id": self.record_id}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---- holding rows (the import pipeline, inside its load transaction) -------------------------------------------

def hold_rows(store: Store, job: ImportJob, aside: dict[tuple[str, str | None, int], dict[str, Any]]) -> int:
    """Write the rows an import set aside, with their findings; returns how many. Runs in the caller's
    transaction: a failed import leaves no held rows."""
    country_field = _country_field(store, job.form_id, job.config)
    now = _now()
    for (file, sheet, row), entry in sorted(aside.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])):
        values = entry["values"]
        qid = store.scalar("SELECT nextval('quarantine_ids')")
        store.execute(
            "INSERT INTO quarantine (quarantine_id, import_id, kind, form_id, options, file_name, file_sha256, sheet, "
            "source_row, country, place_code, row_values, repeats, findings, status, imported_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'held', ?, ?)",
            [qid, job.import_id, job.kind, job.form_id, json.dumps(job.options, default=str), file,
             job.hashes.get(file), sheet, row, _country(values, country_field), values.get("_place_code"),
             json.dumps(values, ensure_ascii=False), json.dumps(entry["repeats"], ensure_ascii=False, default=str),
             _findings_json(entry["findings"]), job.user, now])
    return len(aside)


def _country_field(store: Store, form_id: str, config: dict[str, Any]) -> str | None:
    return config.get("places", {}).get("country") or records.country_field(store, form_id)


def _country(values: Mapping[str, Any], country_field: str | None) -> str | None:
    text = (values.get(country_field) or "") if country_field else ""
    return text.strip().upper()[:3] or None


def _findings_json(findings: list[Finding]) -> str:
    return json.dumps([f.as_dict() for f in findings], ensure_ascii=False)


# ---- reading ---------------------------------------------------------------------------------------------------

_COLUMNS = ("quarantine_id, import_id, kind, form_id, options, file_name, file_sha256, sheet, source_row, country, "
            "place_code, row_values, repeats, findings, status, imported_by, created_at, changed_by, changed_at, "
            "record_id")


def _held(row: tuple) -> HeldRow:
    (qid, import_id, kind, form_id, options, file_name, sha, sheet, source_row, country, place_code, values, repeats,
     findings, status, imported_by, created_at, changed_by, changed_at, record_id) = row
    held = HeldRow(int(qid), int(import_id), kind, form_id, json.loads(options or "{}"), file_name, sha, sheet,
                   int(source_row), country, place_code, json.loads(values), json.loads(repeats or "{}"),
                   [Finding(**f) for f in json.loads(findings or "[]")], status, imported_by, created_at,
                   changed_by, changed_at, record_id)
    return held


def _fields(store: Store, form_id: str) -> list[str]:
    from passage.forms import get_form

    return [f.name for f in get_form(store, form_id).top_fields()]


def get_held(store: Store, quarantine_id: int, principal: Principal | None = None) -> HeldRow:
    """One held row (any status); `NotFound` when there is none or the principal may not see it (as for a record
    of another place: its existence is not told)."""
    rows = store.query(f"SELECT {_COLUMNS} FROM quarantine WHERE quarantine_id = ?", [quarantine_id])
    if not rows:
        raise NotFound(f"no quarantined row {quarantine_id}")
    held = _held(rows[0])
    if principal is not None and not allowed(principal, "review-quarantine", held.resource):
        raise NotFound(f"no quarantined row {quarantine_id}")
    held.fields = _fields(store, held.form_id)
    return held


show = get_held


def list_held(store: Store, principal: Principal | None = None, *, import_id: int | None = None,
              form_id: str | None = None, status: str | None = "held", limit: int = 500) -> list[HeldRow]:
    """Held rows the principal may review, newest first (`status=None`: released and dropped too)."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"status must be one of {', '.join(STATUSES)}", code="usage.option")
    where, params = ["true"], []
    for column, value in (("import_id", import_id), ("form_id", form_id), ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    rows = store.query(f"SELECT {_COLUMNS} FROM quarantine WHERE {' AND '.join(where)} "
                       "ORDER BY quarantine_id DESC", params)
    out = [_held(r) for r in rows]
    if principal is not None:
        out = [h for h in out if allowed(principal, "review-quarantine", h.resource)]
    return out[:limit]


def summary(store: Store, principal: Principal | None = None, *, status: str | None = "held") -> list[dict[str, Any]]:
    """Per import and form: how many rows are held and their error codes (most frequent first)."""
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for h in list_held(store, principal, status=status, limit=1_000_000):
        g = groups.setdefault((h.import_id, h.form_id), {"import_id": h.import_id, "form_id": h.form_id,
                                                          "kind": h.kind, "file": h.file_name, "rows": 0,
                                                          "codes": Counter()})
        g["rows"] += 1
        g["codes"].update(f.code for f in h.errors)
    return [{**g, "codes": ", ".join(f"{c} ({n})" for c, n in g["codes"].most_common())}
            for _, g in sorted(groups.items(), reverse=True)]


# ---- checking one row again ------------------------------------------------------------------------------------

def _check(store: Store, held: HeldRow, values: dict[str, str | None], principal: Principal | None,
           user: str | None) -> ImportJob:
    """The row through the import's check step, staged alone; the job (its `ctx`, `report`) for the caller to
    load or close."""
    from passage.access import import_scopes
    from passage.ingest.pipeline import ImportJob, _ensure_form_columns

    scopes = import_scopes(principal) if principal is not None and not principal.is_admin else None
    job = ImportJob.prepare(store, held.kind, [], form_id=held.form_id, user=user, update=False, progress=None,
                            scopes=scopes, options=held.options, on_error="reject")
    job.import_id = held.import_id
    job.eng = eng = store.engine()
    raw = f"_held_{held.quarantine_id}_{uuid.uuid4().hex[:8]}"
    cols = list(values)
    ddl = ", ".join(f"{q(c)} {'BIGINT' if c == '_row' else 'VARCHAR'}" for c in cols)
    eng.execute(f"CREATE TEMP TABLE {raw} ({ddl})")
    eng.execute(f"INSERT INTO {raw} VALUES ({', '.join('?' for _ in cols)})",
                [int(values[c]) if c == '_row' and values[c] is not None else values[c] for c in cols])
    job.extra_tables = [raw]  # type: ignore[attr-defined]
    staged = job.importer.normalise_edit(eng, raw)  # as an edited row: the importer's own normalisation
    if staged != raw:
        job.extra_tables.append(staged)  # type: ignore[attr-defined]
    job.stage_name = staged
    _ensure_form_columns(eng, staged, job.form)
    job.check()
    if job.report.ok and job.ctx is not None:
        job.importer.check_edit(job.ctx)  # the importer's checks of a file's rows while it read them
    return job


def _close(job: ImportJob) -> None:
    try:
        job.close(release=False)
    finally:
        for name in reversed(getattr(job, "extra_tables", [])):
            job.eng.execute(f"DROP TABLE IF EXISTS {name}")


def _claim(store: Store, quarantine_id: int, status: str, user: str | None) -> None:
    """Close a held row, if it is still held: two reviewers releasing (or one releasing, one dropping) the same row
    at once close it once, and the other hears it was closed (`quarantine.closed`)."""
    if not store.query("UPDATE quarantine SET status = ?, changed_by = ?, changed_at = ? WHERE quarantine_id = ? "
                       "AND status = 'held' RETURNING quarantine_id", [status, user, _now(), quarantine_id]):
        _editable(get_held(store, quarantine_id))
        raise UsageError(f"quarantined row {quarantine_id} could not be {status}", code="quarantine.closed")


def _may_review(principal: Principal | None, held: HeldRow) -> None:
    if principal is not None:
        require(principal, "review-quarantine", held.resource)


def _editable(held: HeldRow) -> None:
    if held.status != "held":
        raise UsageError(f"quarantined row {held.quarantine_id} was {held.status} already", code="quarantine.closed")


def fix(store: Store, quarantine_id: int, changes: Mapping[str, Any], *, principal: Principal | None = None,
        user: str | None = None) -> tuple[HeldRow, Report]:
    """Set fields of a held row and check it again; its findings become those of the check (an empty report:
    ready to release). Values are text as a file gives them (`None` or "" clears a field)."""
    held = get_held(store, quarantine_id, principal)
    _may_review(principal, held)
    _editable(held)
    user = user or (principal.user_name if principal is not None else None)
    unknown = sorted(set(changes) - set(held.fields))
    if unknown:
        raise NotFound(f"form {held.form_id!r} has no field(s) {', '.join(unknown)}")
    values = dict(held.values)
    values.update({k: (None if v is None or v == "" else str(v)) for k, v in changes.items()})
    from passage.plugins import pack_for_form

    pack = pack_for_form(held.form_id)
    config = pack.record_config(held.form_id) if pack else {}
    country_field = _country_field(store, held.form_id, config)
    country = _country(values, country_field)
    if not config.get("places") and held.place_code and held.place_code == held.country and country != held.country:
        values["_place_code"] = country  # the importer's place was the country: it follows the fix
    job = _check(store, held, values, principal, user)
    try:
        report = job.report
    finally:
        _close(job)
    if principal is not None and not allowed(principal, "review-quarantine",
                                             HeldRowResource(country or "", values.get("_place_code"))):
        # An editor answers for the row as it would be too: a fix may not move it out of their places. Kept as it was.
        report.add(Finding("out-of-scope", f"{country or '(no country)'} is outside your places "
                           f"({', '.join(sorted(principal.scopes)) or 'none'})", file=held.file_name,
                           sheet=held.sheet, row=held.source_row, column=country_field, value=country))
        return held, report
    now = _now()
    if not store.query("UPDATE quarantine SET row_values = ?, findings = ?, country = ?, place_code = ?, changed_by = ?, "
                       "changed_at = ? WHERE quarantine_id = ? AND status = 'held' RETURNING quarantine_id",
                       [json.dumps(values, ensure_ascii=False), _findings_json(report.findings), country,
                        values.get("_place_code"), user, now, quarantine_id]):
        _editable(get_held(store, quarantine_id))  # released or dropped by someone else meanwhile
    audit(store, user, "quarantine.fix", target=f"{held.form_id}/quarantine/{quarantine_id}",
          import_id=held.import_id, detail={"fields": sorted(changes), "errors": report.error_count()})
    return get_held(store, quarantine_id, principal), report


def recheck(store: Store, quarantine_id: int, *, principal: Principal | None = None) -> Report:
    """The row's findings now (the store may have changed since it was held), without changing it."""
    held = get_held(store, quarantine_id, principal)
    _may_review(principal, held)
    job = _check(store, held, held.values, principal, None)
    try:
        return job.report
    finally:
        _close(job)


def release(store: Store, quarantine_id: int, *, principal: Principal | None = None,
            user: str | None = None) -> str:
    """Load a held row as a record version, as its import would have; returns the record id. `EditRejected`
    (with the report) while it still has errors, and the row stays held with those findings."""
    held = get_held(store, quarantine_id, principal)
    _may_review(principal, held)
    _editable(held)
    if held.repeats:
        raise UsageError(f"quarantined row {quarantine_id} has repeat rows ({', '.join(held.repeats)}): releasing "
                         "it with them is not supported yet; fix the file and import it again", code="quarantine.repeats")
    user = user or (principal.user_name if principal is not None else None)
    job = _check(store, held, held.values, principal, user)
    try:
        report, ctx = job.report, job.ctx
        if report.ok and ctx is not None:
            with store.load_lock(held.form_id), store.transaction():
                ctx.store_keys = records.current_keys(store, job.eng, held.form_id)
                unique_key.store_duplicates(ctx)  # again where no other load can come in between
                if report.ok:
                    job.importer.check_again(ctx)  # and the importer's checks of the store's state
                if report.ok:
                    _claim(store, quarantine_id, "released", user)
                    record_id = _load(store, job, held, user)
                    store.execute("UPDATE quarantine SET record_id = ? WHERE quarantine_id = ?", [record_id, quarantine_id])
                    audit(store, user, "quarantine.release", target=f"{held.form_id}/{record_id}",
                          import_id=held.import_id, detail={"quarantine_id": quarantine_id, "file": held.file_name,
                                                            "row": held.source_row})
                    bump_generation(store)
                    return record_id
    finally:
        _close(job)
    store.execute("UPDATE quarantine SET findings = ? WHERE quarantine_id = ?",
                  [_findings_json(report.findings), quarantine_id])
    audit(store, user, "quarantine.release_refused", target=f"{held.form_id}/quarantine/{quarantine_id}",
          import_id=held.import_id, detail={"findings": sorted({f.code for f in report.errors})})
    raise EditRejected(report)


def _load(store: Store, job: ImportJob, held: HeldRow, user: str | None) -> str:
    ctx = job.ctx
    assert ctx is not None
    if job.importer.extra_columns():
        records.ensure_columns(store, held.form_id, job.importer.extra_columns())
    records.load(store, job.eng, ctx.table, job.form, import_id=held.import_id, user=user,
                 file_hashes={held.file_name: held.file_sha256 or ""}, update=False)
    if "_key" in ctx.columns():
        return str(job.eng.execute(f"SELECT _key FROM {ctx.table}").fetchall()[0][0])
    return f"{held.import_id}:{held.sheet or ''}:{held.source_row}"


def drop(store: Store, quarantine_id: int, *, principal: Principal | None = None, user: str | None = None,
         reason: str | None = None) -> HeldRow:
    """Give up on a held row: it is loaded by none (the raw file stays archived with its import)."""
    held = get_held(store, quarantine_id, principal)
    _may_review(principal, held)
    _editable(held)
    user = user or (principal.user_name if principal is not None else None)
    _claim(store, quarantine_id, "dropped", user)
    audit(store, user, "quarantine.drop", target=f"{held.form_id}/quarantine/{quarantine_id}",
          import_id=held.import_id, detail={"file": held.file_name, "row": held.source_row,
                                            **({"reason": reason[:200]} if reason else {})})
    return get_held(store, quarantine_id, principal)
