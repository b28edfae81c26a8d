"""Record edits: one function for every channel (the portal's form, `PATCH /api/v1/records/...`,
`passage records edit`), and the checks an import of that one row runs.

    from passage.edits import edit_record
    edit_record(store, "site_visit", record_id, {"households": "1200"}, principal=editor)

The record's new version — the current one with the changes applied — is staged as text, as an importer
stages a file's row (normalised by the form's importer where it can: `normalise_edit`, e.g. a provider's
coded values and dates), and the import pipeline's own checks run over it (`passage.checks.run_checks`): types, required,
choices, constraints, relevance, the pack's row checks (negative counts, males plus females over the
total, future dates), P-codes at their level and under their parent; then the importer's own row checks
where it has them (`check_edit`, e.g. grades against a reference list). And:

- **places**: an editor must answer for the record as it is (else `Forbidden`) *and* as it would be
  (`out-of-scope`, as an import's row outside their places; a new country no scope lies in is refused
  before the P-codes are even looked at);
- **keys**: the new version's key (the pack's `key` fields) must not be another current record's
  (`duplicate-key-store`), whether that record got its key from an import or from an edit; checked
  again under the form's load lock (`Store.load_lock`) right before the version is written;
- **the pack's own rules**: every pack's `edit_checks` hook (e.g. a record that a workflow has frozen), run
  again under that lock too.

Any error finding raises `EditRejected` carrying the report, located by column, and the store is
unchanged. Otherwise the typed values (P-codes normalised, the place and warnings recomputed) are
written as a new version by `passage.records`, with its audit-log entry. An edit that changes nothing
makes no version and returns the current version number.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from passage import records
from passage.access import Place, require
from passage.auth.audit import audit
from passage.auth.principal import Principal
from passage.checks import Context, q, run_checks
from passage.checks.unique_key import key_sql
from passage.errors import EditRejected, NotFound, UsageError
from passage.findings import Finding, Report
from passage.forms import Form, get_form
from passage.forms.registry import record_table
from passage.ingest.importer import Importer
from passage.places.pcodes import PcodeResolver
from passage.plugins import call, pack_for_form
from passage.store import Store


def edit_record(store: Store, form_id: str, record_id: str, changes: Mapping[str, Any], *,
                principal: Principal | None = None, user: str | None = None, via: str | None = None) -> int:
    """Change fields of a record as a new version, after the checks an import of that row runs.

    `changes` maps field names to values as a form or a file gives them (text; numbers and dates are
    taken too; `None` or `""` clears a field). `principal` is who edits: editors within their places and
    admins (`None`: the store's operator, unrestricted, as `passage records edit` without a known
    `--user`). `user` is recorded with the version (default: the principal's name); `via` names the
    channel (`web` for the portal and the API) for the record's history (`version_history`).

    Returns the version number (the current one when nothing changes). Raises `NotFound` for an unknown
    form, field or record, `Forbidden` when the principal may not edit the record as it is,
    `EditRejected` (with the report) when the new version fails a check, `Conflict` when the record
    changed meanwhile.
    """
    form = get_form(store, form_id)
    fields = {f.name: f for f in form.top_fields()}
    unknown = set(changes) - set(fields)
    if unknown:
        raise NotFound(f"form {form_id!r} has no field(s) {', '.join(sorted(unknown))}")
    given = {name: _as_text(name, value) for name, value in changes.items()}
    if user is None and principal is not None:
        user = principal.user_name

    table = record_table(form_id)
    names, rows = store.columns(f"SELECT * FROM {table} WHERE _record_id = ? AND _current AND NOT _deleted",
                                [record_id])
    if not rows:
        raise NotFound(f"no record {record_id!r}")
    old = dict(zip(names, rows[0]))
    pack = pack_for_form(form_id)
    config = pack.record_config(form_id) if pack else {}
    country_field = _country_field(store, form_id, config)
    scopes = None
    if principal is not None:
        require(principal, "edit-records", Place((old.get(country_field) if country_field else None) or "",
                                                 old.get("_place_code")))
        scopes = None if principal.is_admin else sorted(principal.scopes)

    new_text = {name: _stored_text(old.get(name)) for name in fields}
    if all(new_text[k] == v for k, v in given.items()):
        return int(old["_version"])  # the same values: no new version
    new_text.update(given)
    target = f"{form_id}/{record_id}"
    report = Report()
    eng = store.engine()
    stage = f"_edit_{uuid.uuid4().hex[:12]}"
    staged = [stage]
    ctx = new_key = None
    try:
        _stage_row(eng, stage, form, config, old, new_text, target)
        importer = _importer_for(form_id)
        normalised = importer.normalise_edit(eng, stage) if importer else stage  # as the importer does a file's
        if normalised != stage:
            from passage.ingest.pipeline import _ensure_form_columns

            staged.append(normalised)
            _ensure_form_columns(eng, normalised, form)
        if scopes is not None and country_field:
            _check_new_country(store, principal, country_field, new_text.get(country_field), target, report)
        ctx = Context(eng, staged[-1], form, config, report, store_keys=None,
                      extra={"resolver": PcodeResolver(store), "update": False, "store": store})
        run_checks(ctx)
        if scopes is not None and report.ok:
            from passage.ingest.pipeline import _check_scope

            _check_scope(eng, ctx.table, {"places": {"country": country_field}} if country_field else {}, scopes,
                         report)
        if "_key" in ctx.columns():  # the key the checks computed (places resolved)
            new_key = eng.execute(f"SELECT _key FROM {ctx.table}").fetchall()[0][0]
        if report.ok and new_key is not None:
            _check_key(store, eng, form, config, table, record_id, new_key, target, report)
        if report.ok and importer:  # the importer's own row checks
            importer.check_edit(ctx)
        call("edit_checks", store=store, form_id=form_id, old=old, new=new_text, target=target, report=report)
        if not report.ok:
            _reject(store, user, target, given, report)
        typed, system = _typed_values(eng, ctx.table, form, config, old, given)
    finally:
        for name in reversed(ctx.extra.get("temp_views", []) if ctx else []):
            eng.execute(f"DROP VIEW IF EXISTS {name}")
        for name in (ctx.extra.get("temp_tables", []) if ctx else []):
            eng.execute(f"DROP TABLE IF EXISTS {name}")
        for name in staged:
            eng.execute(f"DROP TABLE IF EXISTS {name}")
    changed = {k: v for k, v in typed.items() if old.get(k) != v}
    if not changed:  # e.g. `07` for 7: the same record
        return int(old["_version"])
    if not set(changed) & _place_fields(config):  # the import's warnings about its codes still hold
        system["_warnings"] = old.get("_warnings")
    with store.load_lock(form_id):  # as an import loads: the key checked again where no load can take it
        report = Report()
        if new_key is not None:
            _check_key(store, eng, form, config, table, record_id, new_key, target, report)
        # and the packs' rules, whose state (a workflow's) changes under this lock too
        call("edit_checks", store=store, form_id=form_id, old=old, new=new_text, target=target, report=report)
        if not report.ok:
            _reject(store, user, target, given, report)
        return records.write_version(store, form_id, record_id, changed, user=user, system=system,
                                     expected_version=int(old["_version"]), via=via)


def _reject(store: Store, user: str | None, target: str, given: dict, report: Report) -> None:
    audit(store, user, "record.edit_rejected", target=target,
          detail={"fields": sorted(given), "findings": sorted({f.code for f in report.errors})})
    raise EditRejected(report)


# ---- values as text ---------------------------------------------------------------------------------------

def _as_text(name: str, value: Any) -> str | None:
    """A value as a form, a CLI argument or a JSON body gives it, as the text an importer would stage."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise UsageError(f"{name}: give {str(value).lower()!r} as text or a number", code="usage.value")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise UsageError(f"{name}: a value must be text, a number or empty, not {type(value).__name__}",
                     code="usage.value")


def _stored_text(value: Any) -> str | None:
    """A stored (typed) value back as the text that would import as it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


# ---- the one-row staging table ------------------------------------------------------------------------------

def _extra_columns(form: Form, config: dict, old: dict) -> list[str]:
    """Stored columns the checks need beside the fields: key parts that are not fields (a Kobo `_uuid`),
    and the record's place when the pack has no place checks to compute it."""
    names = {f.name for f in form.top_fields()}
    out = [k for k in config.get("key", []) if k not in names and k in old and k != "_place_code"]
    if not config.get("places") and "_place_code" in old:
        out.append("_place_code")
    return out


def _stage_row(eng: Any, stage: str, form: Form, config: dict, old: dict, new_text: dict, target: str) -> None:
    fields = [f.name for f in form.top_fields()]
    extra = _extra_columns(form, config, old)
    cols = ["_file", "_sheet", "_row", *fields, *extra]
    ddl = ", ".join(f"{q(c)} {'INTEGER' if c == '_row' else 'VARCHAR'}" for c in cols)
    eng.execute(f"CREATE TEMP TABLE {stage} ({ddl})")
    values = [target, None, None, *(new_text[f] for f in fields), *(_stored_text(old.get(c)) for c in extra)]
    eng.execute(f"INSERT INTO {stage} VALUES ({', '.join('?' for _ in cols)})", values)


def _importer_for(form_id: str) -> Importer | None:
    """The importer made for this form (its `normalise_edit` and `check_edit` treat an edited row as a file's);
    None for a form only the generic export reader imports."""
    from passage.ingest.pipeline import importers as all_importers

    for make in all_importers().values():
        if isinstance(make, type) and make.form_id == form_id:
            return make()
    return None


def _typed_values(eng: Any, view: str, form: Form, config: dict, old: dict,
                  given: dict[str, str | None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checked row as the record table's types (as `records.load` types an import), and the place and
    warnings the checks computed. A provider's original code is kept unless its code field was edited."""
    typed = records._typed(form.top_fields())
    have = {r[0] for r in eng.execute(f"DESCRIBE {view}").fetchall()}
    extra = [c for c in ("_place_code", "_warnings") if c in have]
    cur = eng.execute(f"SELECT {', '.join([*(f'{sql} AS {q(n)}' for n, sql in typed), *extra])} FROM {view}")
    row = dict(zip([d[0] for d in cur.description], cur.fetchall()[0]))
    for spec in [*config.get("places", {}).get("levels", {}).values(), *config.get("places", {}).get("optional", [])]:
        if spec.get("provider") and spec["code"] not in given:
            row[spec["provider"]] = old.get(spec["provider"])
    system = {c: row.pop(c) for c in extra}
    return row, system


def _place_fields(config: dict) -> set[str]:
    """The fields the place checks read: country, level, codes, names."""
    places = config.get("places")
    if not places:
        return set()
    specs = [*places.get("levels", {}).values(), *places.get("optional", [])]
    return {places["country"], places["level_field"], *(s["code"] for s in specs),
            *(s["name"] for s in specs if s.get("name"))}


# ---- checks beyond the import's own ----------------------------------------------------------------------

def _country_field(store: Store, form_id: str, config: dict) -> str | None:
    """The field holding a record's country: the pack's place checks', else its dataset's."""
    return config.get("places", {}).get("country") or records.country_field(store, form_id)


def _check_new_country(store: Store, principal: Principal, field: str, value: str | None, target: str,
                       report: Report) -> None:
    """A new country that none of the editor's places lies in is out of scope, whatever its P-codes say."""
    country = (value or "").strip().upper()
    if principal.covers(country):
        return
    prefixes = sorted(principal.place_prefixes())
    inside = set()
    if prefixes:
        inside = {c for (c,) in store.query(
            f"SELECT DISTINCT country_code FROM places WHERE code IN ({', '.join('?' for _ in prefixes)})", prefixes)}
    if country not in inside:
        mine = ", ".join(sorted(principal.scopes)) or "none"
        report.add(Finding("out-of-scope", f"{country or '(no country)'} is outside your places ({mine})",
                           file=target, column=field, value=value))


def _check_key(store: Store, eng: Any, form: Form, config: dict, table: str, record_id: str, new_key: str,
               target: str, report: Report) -> None:
    """The new key against every other current record: by record id (set at import from the key), and by
    the key of records whose key fields were edited since."""
    if new_key == record_id:
        return
    taken = store.scalar(f"SELECT count(*) FROM {table} WHERE _record_id = ? AND _current AND NOT _deleted",
                         [new_key])
    if not taken:
        name = f"_edit_keys_{uuid.uuid4().hex[:12]}"
        taken = new_key in _edited_keys(store, eng, form, config, table, record_id, name)
    if taken:
        report.add(Finding("duplicate-key-store", "another current record has this key ("
                           + ", ".join(config["key"]) + ")", file=target, value=new_key))


def _edited_keys(store: Store, eng: Any, form: Form, config: dict, table: str, record_id: str,
                 name: str) -> set[str]:
    """Keys of the other current records made by edits (their ids are the keys they were imported with)."""
    cols = [c for c in config["key"]]
    names, rows = store.columns(
        f"SELECT {', '.join(q(c) for c in cols)} FROM {table} "
        "WHERE _current AND NOT _deleted AND _import_id IS NULL AND _record_id <> ?", [record_id])
    if not rows:
        return set()
    eng.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({', '.join(f'{q(c)} VARCHAR' for c in names)})")
    try:
        eng.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in names)})",
                        [[_stored_text(v) for v in r] for r in rows])
        key = key_sql(Context(eng, name, form, config, Report()))
        return {k for (k,) in eng.execute(f"SELECT {key} FROM {name}").fetchall()}
    finally:
        eng.execute(f"DROP TABLE IF EXISTS {name}")


def version_history(store: Store, form_id: str, record_id: str, versions: list[dict[str, Any]],
                    files: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Each version of a record (as `records.history` gives them) told as what made it: `import` ("imported
    from FILE row N"), `edit` ("edited on the web by X" when the portal or the API made it, else "edited
    by X") or `delete` ("deleted by X"). An edit keeps the file and row its record came from, but the
    history names the edit, not that row. Each entry: version, kind, user, via, file, row, sheet, when, text."""
    import json

    names = {f["sha256"]: f["name"] for f in files or []}
    via: dict[int, str] = {}
    for (detail,) in store.query("SELECT detail FROM audit_log WHERE action = 'record.edit' AND target = ?",
                                 [f"{form_id}/{record_id}"]):
        try:
            d = json.loads(detail or "{}")
        except ValueError:
            continue
        if isinstance(d, dict) and d.get("via") and isinstance(d.get("version"), int):
            via[d["version"]] = str(d["via"])
    out = []
    for v in versions:
        n = v["_version"]
        entry = {"version": n, "user": v.get("_user"), "when": v.get("_created_at"), "via": None, "file": None,
                 "row": None, "sheet": None}
        if v.get("_deleted"):
            entry.update(kind="delete", text=f"deleted by {v.get('_user') or 'the system'}")
        elif v.get("_import_id") is not None:
            entry.update(kind="import", file=names.get(v.get("_source_sha256")) or v.get("_source_sha256"),
                         row=v.get("_source_row"), sheet=v.get("_source_sheet"), import_id=v["_import_id"])
            where = f" row {entry['row']}" if entry["row"] is not None else ""
            sheet = f" (sheet {entry['sheet']})" if entry["sheet"] else ""
            entry["text"] = f"imported from {entry['file'] or 'a file'}{where}{sheet}"
        else:
            entry.update(kind="edit", via=via.get(n))
            who = v.get("_user") or "the system"
            entry["text"] = f"edited on the web by {who}" if entry["via"] == "web" else f"edited by {who}"
        out.append(entry)
    return out
