"""KoboToolbox / ODK exports of any installed XLSForm: ``passage import xlsform-data --form ID FILE``.

    install_form(store, compile_xlsform("household_survey.xlsx"))
    import_files(store, "xlsform-data", [Path("export.xlsx")], form_id="household_survey")

Accepted input ("XML values" exports; Kobo's "labels" exports are out of scope):

* **CSV** — the main records. Comma, semicolon (what KoboToolbox writes) or tab separated, UTF-8,
  header on line 1. A CSV export carries no repeat rows: use the XLSX export for forms with repeats.
* **XLSX** — the first sheet holds the main records; each repeat group is its own sheet, named after
  the repeat (case-insensitive, Excel's 31-character cut understood), each row linked to its parent
  row by `_parent_index` = the parent sheet's `_index` (nested repeats link to the enclosing repeat's
  sheet the same way). Read with openpyxl in read-only mode; dates arrive as ISO text
  (`YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` when there is a time of day), whole numbers without `.0`.
  Rejected: a cell holding a formula (`formula`), merged cells anywhere in a sheet we read
  (`merged-cells`), a repeat row whose `_parent_index` matches no parent row (`parent-unknown`),
  a parent sheet whose `_index` is repeated (`duplicate-key`), no sheet for a repeat while the
  workbook holds an unrecognised sheet with data — a renamed repeat sheet (`sheet-missing`; with no
  such sheet a missing repeat sheet is only a warning: that export has no rows for the repeat).

How header columns are read, on each sheet, in this order:

1. **Form fields** of that sheet's level (top-level fields on the main sheet, the repeat's own fields on
   a repeat sheet) match by group path — `household/hh_size`, `household/wash/water_source`, ODK
   Central's `household-hh_size` — or by bare name (`hh_size`, Kobo's "without group names"
   export) when that name is unambiguous at that level. Two columns for one field: `column-duplicate`.
2. **Metadata** — Kobo's `_id`, `_uuid`, `_submission_time`, `_index`, `_parent_index`,
   `_validation_status`, `_status`, `_submitted_by`, `__version__`, `_notes`, `_tags`,
   `_submission__*`, geopoint parts like `_gps_latitude`, in short any column whose name (or last path
   segment) starts with `_`; `meta/...`, `formhub/...`, `start`, `end`, `today`, `deviceid`, ...;
   ODK Central's `KEY`, `SubmissionDate`, `SubmitterName`, ... — are not form data and are skipped, except:
   `_uuid` (else `meta/instanceID`, `KEY`, `instanceID`, with any `uuid:` prefix removed) becomes the
   record key, `_submission_time` (or `SubmissionDate`) is kept, `_index`/`_parent_index` link repeats.
3. **select_multiple option columns** (`household/priority_needs/water`, 0/1): ignored when the main
   column exists; when it does not, the space-separated value is rebuilt from them (in choice order).
4. A field of **another level** (a repeat's field on the main sheet): warning `column-unexpected`, ignored.
5. **Anything else** is `column-unexpected`: an ERROR when the column looks like a form path — it holds
   a `/`, or an ODK-style `group-name` whose first part is a group of the form — because that is a
   renamed or misspelt field (or one of another form version) whose values would otherwise be lost
   without a word; a WARNING (column ignored) for any other name, e.g. a column an officer added.
   A column without a header is an error only if it holds values.

A form field with no column is a `column-missing` warning (its values are empty; `required` then
flags the rows that needed it).

Record keys and the Kobo metadata in the record table:

* `_uuid` is the key: when the export has one, the pipeline's key check runs on it (duplicates in the
  file, and — without `--update` — against the store), and the record's `_record_id` is the uuid. So a
  newer cumulative export of the same form is imported with `--update`: unchanged submissions stay,
  edited ones get a new version. An export with no instance id at all gets the pipeline's row-based
  record ids (`<import id>:<sheet>:<row>`): each row is a new record, and a later export cannot be
  matched to it. (A form that belongs to a pack keeps the pack's key.)
* `_uuid` and `_submission_time` are stored in two extra columns of `rec_<form>` (`_uuid VARCHAR`,
  `_submission_time TIMESTAMP`), added — inside the import's transaction, so a rejected import leaves
  no trace — the first time a Kobo export is loaded into that form (`records.ensure_columns`).
  `_submission_time` is validated as a date-time like any dateTime field.

Repeat groups:

* Each repeat sheet is staged in its own table and validated with the same form rules
  (`passage.checks.form_rules`) over the repeat's fields; values of enclosing levels that the repeat's
  expressions refer to (`${has_children}` in a member's relevance) are joined in from the parent row.
* Loaded into `rec_<form>__<repeat>`: `_parent_record` = the parent's `_record_id`, `_parent_index` =
  the export's `_parent_index` (as given, for provenance), `_record_id` = `<parent id>/<repeat>[n]`
  with n the position of the row among its parent's rows (ODK's own way of naming repeat instances), so
  the same submission gives the same child ids in every export.
* Versioned like the parent (`records.load_repeat`): a new child id is version 1, a changed child gets
  a new version, an identical one is left alone, and with `--update` a current child of a submission in
  the import that the import no longer holds gets a tombstone.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from passage.checks import Context, flag, q
from passage.findings import WARNING, Finding, Report
from passage.forms import Field, Form
from passage.forms.expr import ExpressionError, referenced_fields
from passage.ingest import csvfile
from passage.ingest.files import SourceFile
from passage.ingest.importer import Importer
from passage.ingest.xlsx import open_workbook

# Record-table columns this importer adds (see the module docstring).
EXTRA_COLUMNS = [("_uuid", "VARCHAR"), ("_submission_time", "TIMESTAMP")]

# Metadata columns with a role; the number orders the alternatives for the submission id.
_ROLES: dict[str, tuple[str, int]] = {
    "_uuid": ("_uuid", 0),
    "meta/instanceID": ("_uuid", 1),
    "meta-instanceID": ("_uuid", 1),
    "KEY": ("_uuid", 2),
    "instanceID": ("_uuid", 3),
    "_submission_time": ("_submission_time", 0),
    "SubmissionDate": ("_submission_time", 1),
    "_index": ("_index", 0),
    "_parent_index": ("_parent_index", 0),
}
_MAIN_ONLY_ROLES = {"_uuid", "_submission_time"}
# Other metadata: XLSForm meta questions and ODK Central / Briefcase system columns.
_META_NAMES = {
    "start",
    "end",
    "today",
    "deviceid",
    "username",
    "simserial",
    "subscriberid",
    "phonenumber",
    "audit",
    "email",
    "start-geopoint",
    "background-audio",
    "__version__",
    "PARENT_KEY",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
}
_META_PREFIXES = ("meta/", "meta-", "formhub/", "SET-OF-")
_TRUE = ("1", "1.0", "true", "True", "TRUE")
SHEET_NAME_MAX = 31  # Excel cuts sheet names here; Kobo names repeat sheets after the repeat
CHUNK_ROWS = 20_000
_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Za-z]+[0-9]+(?::[A-Za-z]+[0-9]+)?)"')


@dataclass
class _Level:
    """The main records (repeat None) or one repeat group, with the fields its sheet holds."""

    repeat: str | None
    parent: str | None  # enclosing repeat; None = the main records
    fields: list[Field]
    by_path: dict[str, Field] = field(default_factory=dict)
    by_name: dict[str, list[Field]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in self.fields:
            self.by_path[f.path] = f
            self.by_path.setdefault(f.path.replace("/", "-"), f)  # ODK Central / Briefcase CSV headers
            self.by_name.setdefault(f.name, []).append(f)


@dataclass
class _SheetMap:
    """What each column of one sheet is."""

    fields: dict[str, int] = field(default_factory=dict)  # field name -> column
    # select_multiple field name -> its option columns: (choice, column)
    options: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    meta: dict[str, tuple[int, int]] = field(default_factory=dict)  # role -> (priority, column)
    blank: list[int] = field(default_factory=list)  # columns with no header


_AMBIGUOUS = object()


def _cell_text(v: Any) -> str | None:
    """An XLSX cell as the text an XML-values export would hold."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, datetime):
        if v.time() == time(0):
            return v.date().isoformat()
        return v.isoformat(timespec="milliseconds" if v.microsecond else "seconds")
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v.total_seconds())
    return str(v)


def _kind_of(path: Path) -> str:
    head = path.open("rb").read(8)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "csv"


def _csv_delimiter(line: str) -> str:
    """The separator of a header line: the most frequent of , ; tab outside quotes."""
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else ","


def _csv_header(path: Path) -> tuple[list[str], str] | None:
    raw = path.open("rb").read(csvfile.HEAD_BYTES)
    text = raw.decode("utf-8", errors="ignore").lstrip("\ufeff")
    if not text.strip():
        return None
    delim = _csv_delimiter(text.split("\n", 1)[0])
    for row in csv.reader(io.StringIO(text), delimiter=delim):
        return [h.strip() for h in row], delim
    return None


def _peek_header(path: Path) -> list[str]:
    """The main header of an export, best effort (the real reading reports any problem)."""
    try:
        kind = _kind_of(path)
        if kind == "csv":
            got = _csv_header(path)
            return got[0] if got else []
        if kind == "xlsx":
            wb = open_workbook(path, Report())  # a workbook refused here is reported by stage()
            if wb is None:
                return []
            try:
                for row in wb.worksheets[0].iter_rows(max_row=1, values_only=True):
                    return [str(v).strip() for v in row if v is not None]
            finally:
                wb.close()
    except Exception:  # noqa: BLE001 - stage() reports unreadable files properly
        return []
    return []


def _merged_ranges(path: Path, ws: Any) -> list[str]:
    """Merged ranges of a sheet, from its XML (openpyxl's read-only mode does not expose them)."""
    part = getattr(ws, "_worksheet_path", None)
    if not part:
        return []
    found: list[str] = []
    with zipfile.ZipFile(path) as z, z.open(part.lstrip("/")) as fh:
        tail = b""
        while chunk := fh.read(1 << 20):
            buf = tail + chunk
            for m in _MERGE_RE.finditer(buf):
                ref = m.group(1).decode()
                if ref not in found:
                    found.append(ref)
            tail = buf[-512:]
    return found


class XlsformDataImporter(Importer):
    kind = "xlsform-data"
    form_id = None  # any installed form: `--form ID`
    pack = None
    description = (
        "KoboToolbox / ODK exports (CSV, or XLSX with one sheet per repeat group) of an installed XLSForm"
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.form: Form | None = None  # the installed form, as the export is read by it
        self._extra_columns: list[tuple[str, str]] = []
        # (repeat, staging table, parent staging table), outermost repeat first; read by the pipeline
        self.repeat_stages: list[tuple[str, str, str]] = []
        self._levels: dict[str | None, _Level] = {}
        self._level_of: dict[str, str | None] = {}  # field name -> its level
        self._groups: set[str] = set()

    # ---------------------------------------------------------------- pipeline hooks

    def bind_form(self, form: Form, paths: list[Path]) -> Form:
        """Read exports by this form; return the form of the main records: its top-level fields plus the
        Kobo metadata fields the records keep (repeats are validated and loaded from `self.form`).

        `_uuid` becomes a (required) field only when the exports carry a submission id, so that the
        pipeline's key check applies to it; without one, records get row-based ids.
        """
        self.form = form
        self._levels = {None: _Level(None, None, form.top_fields())}
        for r in form.repeats:
            self._levels[r] = _Level(r, self._parent_repeat(form, r), form.repeat_fields(r))
        self._level_of = {f.name: f.repeat for f in form.fields}
        self._groups = {seg for f in form.fields for seg in f.path.split("/")[:-1]}
        names = {f.name for f in form.fields}
        headers = {h for p in paths for h in _peek_header(Path(p))}
        keyed = any(_ROLES.get(h, ("",))[0] == "_uuid" for h in headers)
        extra = []
        if keyed and "_uuid" not in names:
            extra.append(Field("_uuid", "text", label="Submission UUID", required=True, path="_uuid"))
        if "_submission_time" not in names:
            extra.append(
                Field("_submission_time", "dateTime", label="Submission time", path="_submission_time")
            )
        self._extra_columns = [(n, t) for n, t in EXTRA_COLUMNS if n not in names]
        # The main records are checked and loaded by the top-level fields only: a repeat's fields are not
        # columns of the main staging table (an expression referring to one is reported, not run).
        return dataclasses.replace(form, fields=form.top_fields() + extra)

    def record_config(self, form: Form, config: dict[str, Any]) -> dict[str, Any]:
        """A form no pack describes: its records are keyed by the export's submission id when it has one."""
        if config:
            return config
        return {"key": ["_uuid"]} if any(f.name == "_uuid" for f in form.fields) else {}

    def extra_columns(self) -> list[tuple[str, str]]:
        return self._extra_columns

    def repeat_tables(self) -> list[tuple[str, str, str]]:
        return self.repeat_stages

    def stage(
        self, eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report
    ) -> int:
        if self.form is None:
            raise RuntimeError("XlsformDataImporter.bind_form must run before stage")
        self._table = table
        self._stages = {
            r: (table if r is None else f"{table}__r{i}") for i, r in enumerate([None, *self.form.repeats])
        }
        self._created: set[str] = set()
        # (file, sheet, level) of parent sheets without an _index column
        self._needs_index: list[tuple[str, str | None, str | None]] = []
        total = 0
        try:
            for f in files:
                kind = _kind_of(f.path)
                if kind == "xls":
                    report.add(
                        Finding(
                            "file-unreadable",
                            "a legacy .xls (or encrypted) workbook: save it as .xlsx",
                            file=f.name,
                        )
                    )
                elif kind == "xlsx":
                    total += self._stage_xlsx(eng, f, report)
                else:
                    total += self._stage_csv(eng, f, report)
            if not report.ok:
                return total
            main = self._stages[None]
            if main not in self._created or eng.execute(f"SELECT count(*) FROM {main}").fetchall()[0][0] == 0:
                report.add(
                    Finding(
                        "file-empty",
                        "the export holds no submissions",
                        file=files[0].name if files else None,
                        row=2,
                    )
                )
                return total
            self._link_repeats(eng, report)
            return total
        finally:
            # the pipeline validates, loads and finally drops these
            self.repeat_stages = [
                (r, self._stages[r], self._stages[self._levels[r].parent])
                for r in self.form.repeats
                if self._stages[r] in self._created
            ]

    def after_checks(self, ctx: Context, import_id: int) -> None:
        """Runs after the pipeline's checks of the main records: the repeat rows' own checks, then
        every repeat row's record id and its parent's."""
        for repeat, table, _ in self.repeat_stages:
            self._check_repeat(ctx, repeat, table)
        if not ctx.report.ok or not self.repeat_stages:
            return
        eng = ctx.eng
        # The main records' ids as records.load will write them: the key the checks computed, else
        # the pipeline's row-based fallback (kept in step with records.load).
        key = "_key" if "_key" in ctx.columns() else f"'{import_id}:' || coalesce(_sheet, '') || ':' || _row"
        keys = f"{self._table}__keys"
        eng.execute(
            f"CREATE OR REPLACE TEMP TABLE {keys} AS SELECT _file, _index, {key} AS _key FROM {ctx.table}"
        )
        ctx.extra.setdefault("temp_tables", []).append(keys)  # the pipeline drops these
        parents: dict[str | None, str] = {None: keys}
        linked = []
        for repeat, table, _ in self.repeat_stages:
            parent = parents[self._levels[repeat].parent]
            lit = repeat.replace("'", "''")
            eng.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT r.*, p._key AS _parent_record, "
                f"p._key || '/{lit}[' || row_number() OVER ("
                f"PARTITION BY r._file, TRY_CAST(r._parent_index AS BIGINT) "
                f"ORDER BY TRY_CAST(r._index AS BIGINT), r._row) || ']' AS _key "
                f"FROM {table} r JOIN {parent} p ON p._file = r._file "
                f"AND TRY_CAST(p._index AS BIGINT) = TRY_CAST(r._parent_index AS BIGINT)"
            )
            parents[repeat] = table
            linked.append((repeat, table, parent))
        self.repeat_stages = linked

    # ---------------------------------------------------------------- the form's shape

    @staticmethod
    def _parent_repeat(form: Form, repeat: str) -> str | None:
        for f in form.fields:
            segs = f.path.split("/")
            if repeat in segs[:-1]:
                above = segs[: len(segs) - 1 - segs[::-1].index(repeat)]
                enclosing = [s for s in above if s in form.repeats and s != repeat]
                return enclosing[-1] if enclosing else None
        return None

    def _ancestors(self, repeat: str | None) -> list[str | None]:
        out: list[str | None] = []
        while repeat is not None:
            repeat = self._levels[repeat].parent
            out.append(repeat)
        return out

    def _level_for_sheet(self, title: str) -> _Level | None:
        t = title.strip().casefold()
        for r in self.form.repeats:
            name = r.casefold()
            if t == name or (len(name) > SHEET_NAME_MAX and t == name[:SHEET_NAME_MAX]):
                return self._levels[r]
        return None

    # ---------------------------------------------------------------- headers

    def _match(self, h: str, level: _Level) -> Field | object | None:
        f = level.by_path.get(h)
        if f is not None:
            return f
        if "/" not in h:
            cands = level.by_name.get(h, [])
            if len(cands) == 1:
                return cands[0]
            if cands:
                return _AMBIGUOUS
        return None

    def _other_level(self, h: str, level: _Level) -> _Level | None:
        for other in self._levels.values():
            if other is not level and self._match(h, other) not in (None, _AMBIGUOUS):
                return other
        return None

    def _option(self, h: str, level: _Level) -> tuple[Field, str] | None:
        for sep in ("/", "-", "."):
            if sep in h:
                head, choice = h.rsplit(sep, 1)
                f = self._match(head, level)
                if (
                    isinstance(f, Field)
                    and f.type == "select_multiple"
                    and (f.choices is None or choice in f.choices)
                ):
                    return f, choice
        return None

    @staticmethod
    def _is_meta(h: str) -> bool:
        return (
            h in _ROLES
            or h in _META_NAMES
            or h.startswith(_META_PREFIXES)
            or h.startswith("_")
            or h.rsplit("/", 1)[-1].startswith("_")
        )

    def _looks_like_path(self, h: str) -> bool:
        return "/" in h or ("-" in h and h.split("-", 1)[0] in self._groups)

    def _map_header(
        self, headers: list[str], level: _Level, fname: str, sheet: str | None, report: Report
    ) -> _SheetMap:
        sm = _SheetMap()
        options: list[tuple[Field, str, int]] = []

        def at(col: str, code: str, message: str, severity: str = "error") -> None:
            report.add(Finding(code, message, severity=severity, file=fname, sheet=sheet, row=1, column=col))

        for i, h in enumerate(headers):
            if not h:
                sm.blank.append(i)
                continue
            m = self._match(h, level)
            if m is _AMBIGUOUS:
                paths = ", ".join(f.path for f in level.by_name[h])
                at(
                    h,
                    "column-unexpected",
                    f"column {h!r} matches several fields ({paths}): export with group names",
                )
                continue
            if isinstance(m, Field):
                if m.name in sm.fields:
                    at(
                        h,
                        "column-duplicate",
                        f"column {h!r} is the field {m.path} again "
                        f"(already column {headers[sm.fields[m.name]]!r})",
                    )
                else:
                    sm.fields[m.name] = i
                continue
            if self._is_meta(h):
                role = _ROLES.get(h)
                if role and (level.repeat is None or role[0] not in _MAIN_ONLY_ROLES):
                    name, prio = role
                    if name in sm.meta and sm.meta[name][0] == prio:
                        at(h, "column-duplicate", f"column {h!r} appears twice")
                    elif name not in sm.meta or prio < sm.meta[name][0]:
                        sm.meta[name] = (prio, i)
                continue
            opt = self._option(h, level)
            if opt:
                options.append((opt[0], opt[1], i))
                continue
            other = self._other_level(h, level)
            if other is not None:
                where = f"repeat group {other.repeat!r}" if other.repeat else "the main records"
                how = (
                    "its rows are read from the XLSX export's sheet of that name"
                    if other.repeat
                    else "it is read from the first sheet"
                )
                at(
                    h,
                    "column-unexpected",
                    f"column {h!r} belongs to {where}, not to this sheet: ignored ({how})",
                    WARNING,
                )
            elif self._looks_like_path(h):
                at(
                    h,
                    "column-unexpected",
                    f"column {h!r} looks like a field of the form but the form "
                    f"{self.form.form_id!r} (version {self.form.version}) has no field at that path: "
                    "renamed, misspelt, or from another form version?",
                )
            else:
                at(h, "column-unexpected", f"column {h!r} is not a field of the form: ignored", WARNING)
        for f, choice, i in options:
            if f.name not in sm.fields:
                sm.options.setdefault(f.name, []).append((choice, i))
        for f in level.fields:
            if f.name not in sm.fields and f.name not in sm.options:
                report.add(
                    Finding(
                        "column-missing",
                        f"no column for field {f.path}: its values are empty",
                        severity=WARNING,
                        file=fname,
                        sheet=sheet,
                        row=1,
                        column=f.path,
                    )
                )
        return sm

    def _select(self, level: _Level, sm: _SheetMap) -> str:
        def v(i: int) -> str:
            return f"nullif(trim(src.\"c{i}\"), '')"

        out = ["src._row AS _row", "src._file AS _file", "src._sheet AS _sheet"]
        for fld in level.fields:
            if fld.name in sm.fields:
                expr = v(sm.fields[fld.name])
            elif fld.name in sm.options:
                order = {c: k for k, c in enumerate(fld.choices or [])}
                opts = sorted(sm.options[fld.name], key=lambda o: order.get(o[0], len(order)))
                true = ", ".join(f"'{t}'" for t in _TRUE)
                parts = ", ".join(
                    f"CASE WHEN {v(i)} IN ({true}) THEN '{c.replace(chr(39), chr(39) * 2)}' END"
                    for c, i in opts
                )
                expr = f"nullif(concat_ws(' ', {parts}), '')"
            else:
                expr = "NULL::VARCHAR"
            out.append(f"{expr} AS {q(fld.name)}")

        def meta(role: str) -> str:
            return v(sm.meta[role][1]) if role in sm.meta else "NULL::VARCHAR"

        out.append(f"{meta('_index')} AS _index")
        if level.repeat is None:
            names = {fld.name for fld in level.fields}
            if "_uuid" not in names:
                out.append(f"regexp_replace({meta('_uuid')}, '^uuid:', '') AS _uuid")
            if "_submission_time" not in names:
                out.append(f"{meta('_submission_time')} AS _submission_time")
        else:
            out.append(f"{meta('_parent_index')} AS _parent_index")
        return ",\n  ".join(out)

    def _materialise(
        self,
        eng,
        raw: str,
        level: _Level,
        sm: _SheetMap,
        f: SourceFile,
        sheet: str | None,
        report: Report,
    ) -> int:
        has_children = any(
            lv.repeat is not None and lv.parent == level.repeat for lv in self._levels.values()
        )
        if has_children and "_index" not in sm.meta:
            self._needs_index.append((f.name, sheet, level.repeat))
        if level.repeat is not None and "_parent_index" not in sm.meta:
            report.add(
                Finding(
                    "column-missing",
                    f"the sheet of repeat group {level.repeat!r} needs a _parent_index "
                    "column linking each row to its parent row",
                    file=f.name,
                    sheet=sheet,
                    row=1,
                    column="_parent_index",
                )
            )
            return 0
        target = self._stages[level.repeat]
        n = csvfile.materialise(
            eng, raw, target, self._select(level, sm), report, f.name, append=target in self._created
        )
        if report.ok:
            self._created.add(target)
        return n

    # ---------------------------------------------------------------- CSV

    def _stage_csv(self, eng, f: SourceFile, report: Report) -> int:
        if csvfile.read_head(f.path, report, lines=1) is None:
            return 0
        got = _csv_header(f.path)
        if got is None:
            report.add(Finding("file-empty", "the file is empty", file=f.name))
            return 0
        header, delim = got
        level = self._levels[None]
        sm = self._map_header(header, level, f.name, None, report)
        if not report.ok:
            return 0
        counted = csvfile.count_records(f, report, delim)
        if not report.ok:
            return 0
        view = f"{self._table}_raw"
        named = ", ".join(f'c{i} AS "c{i}"' for i in range(len(header)))
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
        eng.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT row_number() OVER () + 1 AS _row, "
            f"{csvfile.sql_str(f.name)} AS _file, NULL::VARCHAR AS _sheet, {named} "
            f"FROM read_csv({csvfile.sql_str(str(f.path))}, auto_detect=false, header=false, skip=1, "
            f"columns={cols}, "
            f"delim={csvfile.sql_str(delim)}, quote='\"', escape='\"', strict_mode=true, "
            f"max_line_size={csvfile.MAX_LINE_BYTES})"
        )
        try:
            for i in sm.blank:
                try:
                    row = eng.execute(
                        f"SELECT min(_row) FROM {view} WHERE nullif(trim(\"c{i}\"), '') IS NOT NULL"
                    ).fetchall()[0][0]
                except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
                    report.add(csvfile.csv_error_finding(str(exc), f.name))
                    return 0
                if row is not None:
                    report.add(
                        Finding(
                            "column-unexpected",
                            f"column {i + 1} has no header but holds values",
                            file=f.name,
                            row=row,
                            column=f"#{i + 1}",
                        )
                    )
            if not report.ok:
                return 0
            for r in self.form.repeats:
                report.add(
                    Finding(
                        "sheet-missing",
                        f"a CSV export holds no rows of repeat group {r!r}: "
                        "import the XLSX export to keep them",
                        severity=WARNING,
                        file=f.name,
                    )
                )
            n = self._materialise(eng, view, level, sm, f, None, report)
            csvfile.check_row_count(f, counted, n, skip=1, columns=len(header), report=report)
            return n
        finally:
            eng.execute(f"DROP VIEW IF EXISTS {view}")

    # ---------------------------------------------------------------- XLSX

    def _stage_xlsx(self, eng, f: SourceFile, report: Report) -> int:
        wb = open_workbook(f.path, report, f.name, data_only=False)  # zip bombs refused before openpyxl
        if wb is None:
            return 0
        total = 0
        try:
            sheets = wb.worksheets
            if not sheets:
                report.add(Finding("file-empty", "the workbook has no sheets", file=f.name))
                return 0
            plan: list[tuple[Any, _Level]] = [(sheets[0], self._levels[None])]
            stray = []
            for ws in sheets[1:]:
                level = self._level_for_sheet(ws.title)
                if level is None:
                    stray.append(ws)
                elif any(lv is level for _, lv in plan):
                    report.add(
                        Finding(
                            "sheet-missing",
                            f"two sheets for repeat group {level.repeat!r}",
                            file=f.name,
                            sheet=ws.title,
                        )
                    )
                else:
                    plan.append((ws, level))
            missing = [r for r in self.form.repeats if not any(lv.repeat == r for _, lv in plan)]
            if missing:
                with_data = [ws.title for ws in stray if self._has_data(ws)]
                for r in missing:
                    if with_data:
                        report.add(
                            Finding(
                                "sheet-missing",
                                f"no sheet for repeat group {r!r}, and sheet(s) "
                                f"{', '.join(repr(t) for t in with_data)} hold rows the form has no "
                                "repeat for: "
                                f"name the repeat's sheet {r!r}",
                                file=f.name,
                                sheet=with_data[0],
                            )
                        )
                    else:
                        report.add(
                            Finding(
                                "sheet-missing",
                                f"no sheet for repeat group {r!r}: no rows of it imported",
                                severity=WARNING,
                                file=f.name,
                                sheet=r,
                            )
                        )
            for ws, level in plan:
                total += self._stage_sheet(eng, f, ws, level, report)
        finally:
            wb.close()
        return total

    @staticmethod
    def _has_data(ws: Any) -> bool:
        ws.reset_dimensions()
        for k, row in enumerate(ws.iter_rows(values_only=True)):
            if k > 0 and any(v is not None and str(v).strip() for v in row):
                return True
        return False

    def _stage_sheet(self, eng, f: SourceFile, ws: Any, level: _Level, report: Report) -> int:
        from openpyxl.utils import get_column_letter, range_boundaries

        sheet = ws.title
        ws.reset_dimensions()  # some writers store wrong dimensions; read what is there
        rows = ws.iter_rows()
        first = next(rows, None)
        header_cells = list(first or [])
        headers = []
        for c in header_cells:
            headers.append((_cell_text(c.value) or "").strip())
        while headers and not headers[-1]:
            headers.pop()

        def col_name(ci: int) -> str:
            return headers[ci] if ci < len(headers) and headers[ci] else get_column_letter(ci + 1)

        merged = _merged_ranges(f.path, ws)
        for ref in merged:
            min_col, min_row, _, max_row = range_boundaries(ref)
            part = "header" if min_row == 1 else "data"
            report.add(
                Finding(
                    "merged-cells",
                    f"cells {ref} are merged ({part}): unmerge them and fill every cell",
                    file=f.name,
                    sheet=sheet,
                    row=min_row,
                    column=col_name(min_col - 1),
                    value=ref,
                )
            )
        for ci, c in enumerate(header_cells):
            if getattr(c, "data_type", None) == "f":
                report.add(
                    Finding(
                        "formula",
                        "the header cell holds a formula",
                        file=f.name,
                        sheet=sheet,
                        row=1,
                        column=get_column_letter(ci + 1),
                        value=str(getattr(c.value, "text", c.value)),
                    )
                )
        if merged or not report.ok:
            return 0
        if not headers:
            if level.repeat is None:
                report.add(Finding("file-empty", "the first sheet is empty", file=f.name, sheet=sheet))
            return 0
        sm = self._map_header(headers, level, f.name, sheet, report)
        width = len(headers)
        raw = f"{self._table}_xl"
        ddl = ", ".join(
            ["_row BIGINT", "_file VARCHAR", "_sheet VARCHAR"] + [f'"c{i}" VARCHAR' for i in range(width)]
        )
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {raw} ({ddl})")
        reported_cols: set[int] = set()
        chunk: list[list[Any]] = []
        n = 0
        try:
            for rno, row in enumerate(rows, start=2):
                vals: list[str | None] = [None] * width
                seen = False
                for ci, c in enumerate(row):
                    value = c.value
                    if value is None:
                        continue
                    if c.data_type == "f":
                        report.add(
                            Finding(
                                "formula",
                                "the cell holds a formula: paste its value instead",
                                file=f.name,
                                sheet=sheet,
                                row=rno,
                                column=col_name(ci),
                                value=str(getattr(value, "text", value)),
                            )
                        )
                        continue
                    text = _cell_text(value)
                    if text is None or not text.strip():
                        continue
                    seen = True
                    if ci >= width or ci in sm.blank:
                        if ci not in reported_cols:
                            reported_cols.add(ci)
                            report.add(
                                Finding(
                                    "column-unexpected",
                                    f"column {get_column_letter(ci + 1)} has no header but holds values",
                                    file=f.name,
                                    sheet=sheet,
                                    row=rno,
                                    column=get_column_letter(ci + 1),
                                )
                            )
                        continue
                    vals[ci] = text
                if seen:
                    chunk.append([rno, *vals])
                    n += 1
                if len(chunk) >= CHUNK_ROWS:
                    self._flush(eng, raw, chunk, width, f.name, sheet)
                    chunk = []
            if not report.ok:
                return n
            self._flush(eng, raw, chunk, width, f.name, sheet)
            return self._materialise(eng, raw, level, sm, f, sheet, report)
        finally:
            eng.execute(f"DROP TABLE IF EXISTS {raw}")

    @staticmethod
    def _flush(eng, raw: str, chunk: list[list[Any]], width: int, fname: str, sheet: str) -> None:
        if not chunk:
            return
        data = {
            "_row": pa.array([r[0] for r in chunk], pa.int64()),
            "_file": pa.array([fname] * len(chunk), pa.string()),
            "_sheet": pa.array([sheet] * len(chunk), pa.string()),
        }
        for i in range(width):
            data[f"c{i}"] = pa.array([r[i + 1] for r in chunk], pa.string())
        arrow = pa.table(data)
        eng.register(f"{raw}_arrow", arrow)
        try:
            eng.execute(f"INSERT INTO {raw} SELECT * FROM {raw}_arrow")
        finally:
            eng.unregister(f"{raw}_arrow")

    # ---------------------------------------------------------------- repeats

    def _link_repeats(self, eng, report: Report) -> None:
        """Every repeat row has exactly one parent row in the same file."""
        for fname, sheet, lv in self._needs_index:
            children = [
                self._stages[r]
                for r in self.form.repeats
                if self._levels[r].parent == lv and self._stages[r] in self._created
            ]
            if any(
                eng.execute(f"SELECT count(*) FROM {t} WHERE _file = ?", [fname]).fetchall()[0][0]
                for t in children
            ):
                report.add(
                    Finding(
                        "column-missing",
                        "repeat rows link to this sheet, but it has no _index column",
                        file=fname,
                        sheet=sheet,
                        row=1,
                        column="_index",
                    )
                )
        if not report.ok:
            return
        for r in self.form.repeats:
            table = self._stages[r]
            parent = self._stages[self._levels[r].parent]
            if table not in self._created:
                continue
            if parent not in self._created:
                cond = "true"
            else:
                dups = f"{table}_dups"
                eng.execute(
                    f"CREATE OR REPLACE TEMP TABLE {dups} AS SELECT _file, TRY_CAST(_index AS BIGINT) AS i "
                    f"FROM {parent} WHERE TRY_CAST(_index AS BIGINT) IS NOT NULL GROUP BY 1, 2 "
                    "HAVING count(*) > 1"
                )
                try:
                    if eng.execute(f"SELECT count(*) FROM {dups}").fetchall()[0][0]:
                        flag(
                            Context(eng, parent, self.form, {}, report),
                            "duplicate-key",
                            f"EXISTS (SELECT 1 FROM {dups} d WHERE d._file = {parent}._file "
                            f"AND d.i = TRY_CAST({parent}._index AS BIGINT))",
                            f"_index is not unique on this sheet, so rows of repeat group {r!r} cannot be "
                            "linked to it",
                            column="_index",
                            value="_index",
                        )
                finally:
                    eng.execute(f"DROP TABLE IF EXISTS {dups}")
                cond = (
                    f"NOT EXISTS (SELECT 1 FROM {parent} p WHERE p._file = {table}._file "
                    f"AND TRY_CAST(p._index AS BIGINT) = TRY_CAST({table}._parent_index AS BIGINT))"
                )
            flag(
                Context(eng, table, self.form, {}, report),
                "parent-unknown",
                cond,
                f"_parent_index matches no _index of the parent sheet (repeat group {r!r})",
                column="_parent_index",
                value="_parent_index",
            )

    def _check_repeat(self, ctx: Context, repeat: str, table: str) -> None:
        """The form's own rules over one repeat's rows, reusing passage.checks.form_rules."""
        from passage.checks import form_rules

        eng = ctx.eng
        fields = self.form.repeat_fields(repeat)
        own = {f.name for f in fields}
        refs: set[str] = set()
        for f in fields:
            for expr in (f.relevant, f.constraint):
                if expr:
                    try:
                        refs |= referenced_fields(expr)
                    except ExpressionError:
                        pass  # form_rules reports it
        chain = self._ancestors(repeat)
        outside = sorted(n for n in refs - own if n in self._level_of and self._level_of[n] in chain)
        helpers: list[Field] = []
        target = table
        if outside:
            # Values of enclosing levels, joined in from the parent (and its parents') rows. They were
            # checked on their own sheet: here they are context only, without rules, and a value that
            # fails its type is left out rather than reported again.
            joins, prev = [], "a0"
            for k, lv in enumerate(chain, start=1):
                joins.append(
                    f"LEFT JOIN {self._stages[lv]} a{k} ON a{k}._file = {prev}._file "
                    f"AND TRY_CAST(a{k}._index AS BIGINT) = TRY_CAST({prev}._parent_index AS BIGINT)"
                )
                prev = f"a{k}"
            cols = []
            for name in outside:
                src = self.form.field(name)
                alias = f"a{chain.index(self._level_of[name]) + 1}"
                c = f"{alias}.{q(name)}"
                test = form_rules.TYPE_TESTS.get(src.type)
                bad = f" OR coalesce(({test[1].format(c=c)}), true)" if test else ""
                cols.append(
                    f"CASE WHEN length({c}) > {form_rules.MAX_CELL_CHARS}{bad} THEN NULL ELSE {c} END "
                    f"AS {q(name)}"
                )
                helpers.append(
                    dataclasses.replace(
                        src, required=False, constraint=None, relevant=None, choices=None, calculation=None
                    )
                )
            target = f"{table}_v"
            eng.execute(
                f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT a0.*, {', '.join(cols)} "
                f"FROM {table} a0 {' '.join(joins)}"
            )
        sub = dataclasses.replace(self.form, fields=fields + helpers, repeats=[])
        try:
            form_rules.run(Context(eng, target, sub, {}, ctx.report))
        finally:
            if target != table:
                eng.execute(f"DROP TABLE IF EXISTS {target}")
