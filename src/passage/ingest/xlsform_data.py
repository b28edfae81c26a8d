"""KoboToolbox / ODK exports of any installed XLSForm: ``passage import xlsform-data --form ID FILE``.

    install_form(store, compile_xlsform("household_survey.xlsx"))
    import_files(store, "xlsform-data", [Path("export.xlsx")], form_id="household_survey")
    import_files(store, "xlsform-data", [Path("odk.zip")], form_id="household_survey")   # ODK Central
    import_files(store, "xlsform-data", [Path("report.xlsx")], form_id="household_survey",
                 options={"sheet": "Data"})                                          # --sheet Data

Accepted input (values are XML values — choice names, ISO dates — in every layout; headers may be XML
names or labels):

* **CSV** — KoboToolbox's CSV export of the main records. Comma, semicolon (what KoboToolbox writes) or
  tab separated, UTF-8, header on line 1. A CSV export carries no repeat rows (a warning says so): use
  the XLSX export or ODK Central's CSV zip for forms with repeats.
* **XLSX** — KoboToolbox's XLSX export: the first sheet (or the sheet `--sheet NAME` names, exactly or
  ignoring case and spaces; a name no sheet has is `sheet-missing` listing the sheets; a first sheet
  with no column of the form while another sheet has some is `sheet-missing` naming that sheet) holds the
  main records; each repeat group is its own sheet, named after the repeat (case-insensitive, Excel's
  31-character cut understood), each row linked to its parent row by `_parent_index` = the parent
  sheet's `_index` (nested repeats link to the enclosing repeat's sheet the same way). Read with
  openpyxl in read-only mode; dates arrive as ISO text (`YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` when
  there is a time of day), whole numbers without `.0`.
  A formula in a cell that becomes a form value is refused (`formula`: paste its value); a formula
  elsewhere (a HYPERLINK column an officer added) is no form data: ignored, or, in a column that is read
  (`_uuid`, `_index`, ...), its cached value is taken (openpyxl's data_only). Also rejected: merged cells
  anywhere in a sheet we read (`merged-cells`), a repeat row whose `_parent_index` matches no parent row
  (`parent-unknown`), a parent sheet whose `_index` is repeated (`duplicate-key`), no sheet for a repeat
  while the workbook holds an unrecognised sheet with data — a renamed repeat sheet (`sheet-missing`;
  with no such sheet a missing repeat sheet is only a warning: that export has no rows for the repeat).
* **ODK Central's CSV zip** (a .zip of CSVs, told from an .xlsx by its members): `<form id>.csv` holds
  the records (`SubmissionDate`, fields by `-`-joined paths, `meta-instanceID`, `KEY`, ...), and
  `<form id>-<repeat>.csv` each repeat's rows, linked by `PARENT_KEY` = the parent row's `KEY` (ODK's
  own `uuid:.../repeat[n]` keys, compared as text; Kobo's `_index` numbers compare as numbers).
  Findings name the zip as the file and its member as the sheet. `media/` is not read. A zip without
  exactly one CSV besides the repeats' is `sheet-missing`; a repeat without its CSV, a warning.

How header columns are read, on each sheet, in this order:

1. **Form fields** of that sheet's level (top-level fields on the main sheet, the repeat's own fields on
   a repeat sheet) match by group path with any of the separators Kobo and ODK write — `/`, `-`, `:`,
   `.` (`household/hh_size`, ODK Central's `household-hh_size`, `household:hh_size`; on a repeat sheet
   also the path below the repeat) — or by bare XML name (`hh_size`, Kobo's "without group names"
   export) when that name is unambiguous at that level. Paths and names are the XLSForm's own (the
   storage column may be a safe variant of the name). Two columns for one field: `column-duplicate`.
2. **Metadata** — Kobo's `_id`, `_uuid`, `_submission_time`, `_index`, `_parent_index`,
   `_validation_status`, `_status`, `_submitted_by`, `__version__`, `_notes`, `_tags`,
   `_submission__*`, geopoint parts like `_gps_latitude`, in short any column whose name (or last path
   segment) starts with `_`; `meta/...` (any separator), `formhub/...`, `start`, `end`, `today`,
   `deviceid`, ...; ODK Central's `KEY`, `PARENT_KEY`, `SubmissionDate`, `SubmitterName`, `SET-OF-...`,
   ... — are not form data and are skipped, except: `_uuid` (else `meta/instanceID`, `KEY`,
   `instanceID`, with any `uuid:` prefix removed) becomes the record key, `_submission_time` (or
   `SubmissionDate`) is kept, `_index`/`_parent_index` (ODK: `KEY`/`PARENT_KEY`) link repeats.
3. **Kobo's media links**: `<header>_URL` beside a media question's column (the file name) is skipped.
4. **ODK Central's split geopoints**: `<path>-Latitude`, `-Longitude`, `-Altitude`, `-Accuracy` of a
   geopoint field become its one value `lat lon alt acc` (altitude and accuracy when given); a split
   geopoint without its latitude or longitude column is `column-missing`.
5. **select_multiple option columns** (`household/priority_needs/water`, 0/1, by path or by label):
   ignored when the main column exists; when it does not, the space-separated value is rebuilt from
   them (in choice order) — an option column whose choice is not a choice name (a labels export) cannot
   be, and is then `column-unexpected`.
6. **Labels** (Kobo's "labels" export): a header equal to a field's label, ignoring case and runs of
   spaces, or whose tail after a group separator is one (`Household/How many people live here?`:
   group labels are not in the compiled form, so the part before is not compared). A label that two
   fields of the level share cannot be told apart: `column-unexpected` (export with XML names).
7. A field of **another level** (a repeat's field on the main sheet): warning `column-unexpected`, ignored.
8. **Anything else** is `column-unexpected`: an ERROR when the column looks like a form path — it holds
   a `/`, or a `group-name` (any separator) whose first part is a group of the form — because that is a
   renamed or misspelt field (or one of another form version) whose values would otherwise be lost
   without a word; a WARNING (column ignored) for any other name, e.g. a column an officer added.
   A column without a header is an error only if it holds values.

A form field with no column is a `column-missing` warning (its values are empty; `required` then
flags the rows that needed it). `--sheet` given for a CSV or a CSV zip is a warning (`sheet-missing`).

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
  the export's `_parent_index` (as given, for provenance; empty for ODK's text `PARENT_KEY`), `_record_id` = `<parent id>/<repeat>[n]`
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
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import duckdb
import lxml.etree
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from passage.checks import Context, flag, q
from passage.findings import WARNING, Finding, Report
from passage.forms import Field, Form
from passage.forms.expr import ExpressionError, referenced_fields
from passage.ingest import csvfile
from passage.ingest.files import SourceFile, disk_full
from passage.ingest.importer import Importer
from passage.ingest.xlsx import open_workbook

# Record-table columns this importer adds (see the module docstring).
EXTRA_COLUMNS = [("_uuid", "VARCHAR"), ("_submission_time", "TIMESTAMP")]

# Metadata columns with a role: header -> (role, priority) on the main sheet and on a repeat's sheet. The
# priority orders the alternatives (lower wins): Kobo's `_uuid`, else `meta/instanceID`, else ODK's `KEY`.
# ODK Central's `KEY` is both the submission id and what its repeat rows' `PARENT_KEY` names.
_MAIN_ROLES: dict[str, list[tuple[str, int]]] = {
    "_uuid": [("_uuid", 0)],
    "KEY": [("_uuid", 2), ("_index", 1)],
    "instanceID": [("_uuid", 3)],
    "_submission_time": [("_submission_time", 0)],
    "SubmissionDate": [("_submission_time", 1)],
    "_index": [("_index", 0)],
}
for _sep in "/-:.":
    _MAIN_ROLES[f"meta{_sep}instanceID"] = [("_uuid", 1)]
_REPEAT_ROLES: dict[str, list[tuple[str, int]]] = {
    "_index": [("_index", 0)],
    "KEY": [("_index", 1)],
    "_parent_index": [("_parent_index", 0)],
    "PARENT_KEY": [("_parent_index", 1)],
}
_ALL_ROLES = set(_MAIN_ROLES) | set(_REPEAT_ROLES)
# ODK Central / Briefcase split a geopoint into four columns, `<path>-Latitude` ... (in this order).
_GEO_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")
_SEPARATORS = "/-:."  # group separators of exports: Kobo lets the user choose one, ODK writes `-`
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
_META_PREFIXES = ("meta/", "meta-", "meta:", "meta.", "formhub/", "formhub-", "formhub:", "SET-OF-")
_TRUE = ("1", "1.0", "true", "True", "TRUE")
SHEET_NAME_MAX = 31  # Excel cuts sheet names here; Kobo names repeat sheets after the repeat
CHUNK_ROWS = 20_000
_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Za-z]+[0-9]+(?::[A-Za-z]+[0-9]+)?)"')


def xml_name(f: Field) -> str:
    """The field's name as the XLSForm writes it (the storage name `Field.name` may be a safe variant)."""
    return getattr(f, "xml_name", "") or f.name


def _repeat_name(form: Form, repeat: str) -> str:
    """A repeat's name as the XLSForm writes it (`Form.repeats` holds storage names)."""
    return getattr(form, "repeat_names", {}).get(repeat, repeat)


def _repeat_path(form: Form, repeat: str) -> str:
    """A repeat group's export path (`household/members`)."""
    known = getattr(form, "repeat_paths", {}).get(repeat)
    if known:
        return known
    name = _repeat_name(form, repeat)
    for f in form.fields:
        segs = f.path.split("/")
        if f.repeat == repeat and name in segs[:-1]:
            return "/".join(segs[: len(segs) - 1 - segs[:-1][::-1].index(name)])
    return ""


def _norm_label(text: str) -> str:
    """A label as headers are compared with it: case and runs of spaces do not count."""
    return " ".join(str(text).split()).casefold()


@dataclass
class _Level:
    """The main records (repeat None) or one repeat group, with the fields its sheet holds."""

    repeat: str | None  # storage name
    parent: str | None  # enclosing repeat; None = the main records
    fields: list[Field]
    xml_repeat: str | None = None  # the repeat's name in the XLSForm (sheets and ODK paths use it)
    by_path: dict[str, Field] = field(default_factory=dict)
    by_name: dict[str, list[Field]] = field(default_factory=dict)
    by_label: dict[str, list[Field]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in self.fields:
            segs = f.path.split("/") if f.path else [xml_name(f)]
            variants = [segs]
            rname = self.xml_repeat or self.repeat
            if rname is not None and rname in segs[:-1]:
                # ODK Briefcase names a repeat's columns from the repeat down
                below = segs[len(segs) - segs[::-1].index(rname):]
                if len(below) > 1:
                    variants.append(below)
            for v in variants:
                for sep in _SEPARATORS:
                    self.by_path.setdefault(sep.join(v), f)
            self.by_name.setdefault(xml_name(f), []).append(f)
            if f.label and f.label.strip():
                self.by_label.setdefault(_norm_label(f.label), []).append(f)


@dataclass
class _SheetMap:
    """What each column of one sheet is."""

    fields: dict[str, int] = field(default_factory=dict)  # field name -> column
    # select_multiple field name -> its option columns: (choice, column)
    options: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    meta: dict[str, tuple[int, int]] = field(default_factory=dict)  # role -> (priority, column)
    blank: list[int] = field(default_factory=list)  # columns with no header
    geo: dict[str, dict[str, int]] = field(default_factory=dict)  # geopoint field name -> part -> column

    def value_columns(self) -> set[int]:
        """Columns whose cells become form values (a formula there is refused, not read)."""
        cols = set(self.fields.values()) | {i for opts in self.options.values() for _, i in opts}
        return cols | {i for parts in self.geo.values() for i in parts.values()}


_AMBIGUOUS = object()


def _link_key(col: str) -> str:
    """SQL: a row's link key as compared between sheets: Kobo's `_index` numbers (`7`, `7.0`) as one number,
    ODK Central's `KEY` / `PARENT_KEY` (`uuid:.../members[1]`) as written."""
    return f"coalesce(CAST(TRY_CAST(TRY_CAST({col} AS DOUBLE) AS BIGINT) AS VARCHAR), trim({col}))"


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
    """xlsx, xls, csvzip (ODK Central's "CSV zip": one CSV for the records and one per repeat) or csv."""
    head = path.open("rb").read(8)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            return "xlsx"  # open_workbook says why it cannot be read
        if "xl/workbook.xml" not in names and any(n.lower().endswith(".csv") for n in names):
            return "csvzip"
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


def _csv_header(raw: bytes) -> tuple[list[str], str] | None:
    """The header and separator of a CSV, from its first bytes."""
    text = raw.decode("utf-8", errors="ignore").lstrip("\ufeff")
    if not text.strip():
        return None
    delim = _csv_delimiter(text.split("\n", 1)[0])
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delim):  # a lone CR ends a line
        return [h.strip() for h in row], delim
    return None


def _csv_members(path: Path, repeats: list[str]) -> tuple[list[str], dict[str, str]]:
    """The CSV members of an ODK Central zip: (main candidates, repeat -> member). A repeat's CSV is named
    `<form id>-<repeat>.csv`; any other CSV (outside `media/`) is a candidate for the records."""
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.lower().endswith(".csv") and not n.startswith(("media/", "__MACOSX"))]
    by_repeat: dict[str, str] = {}
    main: list[str] = []
    for n in names:
        stem = n.rsplit("/", 1)[-1][:-4].casefold()
        hit = next((r for r in sorted(repeats, key=len, reverse=True) if stem.endswith("-" + r.casefold())), None)
        if hit is not None and hit not in by_repeat:
            by_repeat[hit] = n
        else:
            main.append(n)
    return main, by_repeat


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


# What reading a damaged workbook's parts raises (a bad CRC, a broken deflate stream, XML that does not parse).
_PART_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ElementTree.ParseError,
                    lxml.etree.XMLSyntaxError)


def _raised_by_openpyxl(exc: BaseException) -> bool:
    """openpyxl maps a sheet's XML attributes onto its classes' typed arguments: an attribute a damaged file
    misspells is a TypeError, a value outside its set a ValueError, from inside openpyxl (as `open_workbook`
    takes any error of openpyxl's for an unreadable workbook)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and "/openpyxl/" in tb.tb_frame.f_code.co_filename.replace("\\", "/")


class XlsformDataImporter(Importer):
    kind = "xlsform-data"
    form_id = None  # any installed form: `--form ID`
    pack = None
    description = (
        "KoboToolbox exports (CSV, or XLSX with one sheet per repeat group) or ODK Central's CSV zip of an installed XLSForm"
    )

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        sheet: str | None = None  # the workbook sheet of the main records (default: the first)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.form: Form | None = None  # the installed form, as the export is read by it
        self._extra_columns: list[tuple[str, str]] = []
        # (repeat, staging table, parent staging table), outermost repeat first; read by the pipeline
        self.repeat_stages: list[tuple[str, str, str]] = []
        self._levels: dict[str | None, _Level] = {}
        self._level_of: dict[str, str | None] = {}  # field name -> its level
        self._groups: set[str] = set()
        self._headers: dict[str, str] = {}  # field name -> the header the (first) file gave it
        self._carried: dict[str | None, set[str]] = {}  # level -> fields some file had a column for
        self._staged_files: dict[str | None, set[str]] = {}  # level -> files that held its rows' sheet
        self._files: list[str] = []

    def _peek_header(self, path: Path) -> list[str]:
        """The main header of an export, best effort (the real reading reports any problem)."""
        try:
            kind = _kind_of(path)
            if kind == "csv":
                got = _csv_header(path.open("rb").read(csvfile.HEAD_BYTES))
                return got[0] if got else []
            if kind == "csvzip":
                main, _ = _csv_members(path, [_repeat_name(self.form, r) for r in self.form.repeats] if self.form else [])
                if len(main) != 1:
                    return []
                with zipfile.ZipFile(path) as z, z.open(main[0]) as fh:
                    got = _csv_header(fh.read(csvfile.HEAD_BYTES))
                return got[0] if got else []
            if kind == "xlsx":
                wb = open_workbook(path, Report())  # a workbook refused here is reported by stage()
                if wb is None:
                    return []
                try:
                    ws = self._main_sheet(wb, Report(), path.name)
                    for row in ws.iter_rows(max_row=1, values_only=True) if ws is not None else []:
                        return [str(v).strip() for v in row if v is not None]
                finally:
                    wb.close()
        except Exception:  # noqa: BLE001 - stage() reports unreadable files properly
            return []
        return []

    def _main_sheet(self, wb: Any, report: Report, fname: str) -> Any | None:
        """The sheet of the main records: `--sheet NAME` (exact, else ignoring case and spaces), else the first."""
        sheets = wb.worksheets
        want = self.options.sheet
        if not want:
            return sheets[0] if sheets else None
        for ws in sheets:
            if ws.title == want:
                return ws
        for ws in sheets:
            if ws.title.strip().casefold() == want.strip().casefold():
                return ws
        report.add(
            Finding(
                "sheet-missing",
                f"the workbook has no sheet {want!r}; its sheets are "
                + ", ".join(repr(w.title) for w in sheets),
                file=fname,
                sheet=want,
                value=want,
            )
        )
        return None

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
            self._levels[r] = _Level(r, self._parent_repeat(form, r), form.repeat_fields(r), _repeat_name(form, r))
        self._level_of = {f.name: f.repeat for f in form.fields}
        self._groups = {seg for f in form.fields for seg in f.path.split("/")[:-1]}
        names = {f.name for f in form.fields}
        headers = {h for p in paths for h in self._peek_header(Path(p))}
        keyed = any(role == "_uuid" for h in headers for role, _ in _MAIN_ROLES.get(h, []))
        extra = []
        if (keyed or not paths) and "_uuid" not in names:
            # no files: a held (quarantined) row checked again; normalise_edit sees whether it has a uuid
            extra.append(Field("_uuid", "text", label="Submission UUID", required=bool(paths), path="_uuid"))
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
        self._config: dict[str, Any] = {"key": ["_uuid"]} if any(f.name == "_uuid" for f in form.fields) else {}
        return self._config

    def normalise_edit(self, eng: Any, table: str) -> str:
        """A held row checked again: keyed by its submission uuid as its import was, or, without one, by its
        place in the file (the pipeline's row-based id), as then."""
        config = getattr(self, "_config", None)
        have = {r[0] for r in eng.execute(f"DESCRIBE {table}").fetchall()}
        if config and config.get("key") == ["_uuid"] and not (
                "_uuid" in have and eng.execute(f"SELECT bool_and(_uuid IS NOT NULL) FROM {table}").fetchall()[0][0]):
            config.pop("key")
        return table

    def extra_columns(self) -> list[tuple[str, str]]:
        return self._extra_columns

    def repeat_tables(self) -> list[tuple[str, str, str]]:
        return self.repeat_stages

    def file_columns(self) -> dict[str, str]:
        """Each field as the file's header named it (`household/hh-size`, `hh-size`, a label): findings say it."""
        return {name: h for name, h in self._headers.items() if h != name}

    def absent_fields(self, repeat: str | None = None) -> set[str]:
        """Fields of a level whose sheet the files held, but no file had a column for (`--update` keeps their
        stored values). A level no file held is not "absent": it has no rows to load."""
        if repeat not in self._staged_files or self.form is None:
            return set()
        fields = self.form.top_fields() if repeat is None else self.form.repeat_fields(repeat)
        return {f.name for f in fields} - self._carried.get(repeat, set())

    def rule_context(self) -> dict[str, Any]:
        """For the main records' form rules: the file's headers, and the repeat rows sum(), count() and
        indexed-repeat() read."""
        return {"file_columns": self.file_columns(), "repeat_scope": lambda table: self._scope(None, table)}

    def _scope(self, level: str | None, table: str):
        """The repeat rows an expression of `level`, checked over `table`, may read: the rows of a repeat
        directly inside it (its children) or of its own repeat (its siblings), when every file held them."""
        from passage.checks import form_rules

        def rows(repeat: str) -> tuple[str, str] | None:
            stage = self._stages.get(repeat) if hasattr(self, "_stages") else None
            if stage is None or stage not in self._created or \
                    self._staged_files.get(repeat, set()) != set(self._files):
                return None
            link = "_parent_index" if repeat == level else "_index"
            source = (f"FROM {stage} _rc WHERE _rc._file = {table}._file AND "
                      f"{_link_key('_rc._parent_index')} = {_link_key(f'{table}.{link}')}")
            return source, "TRY_CAST(_rc._index AS BIGINT), _rc._row"

        return form_rules.repeat_scope(self.form, level, rows)

    def stage(
        self, eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report
    ) -> int:
        if self.form is None:
            raise RuntimeError("XlsformDataImporter.bind_form must run before stage")
        self._table = table
        self._headers, self._carried, self._staged_files = {}, {}, {}
        self._files = [f.name for f in files]
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
                if self.options.sheet and kind in ("csv", "csvzip"):
                    report.add(
                        Finding(
                            "sheet-missing",
                            f"--sheet {self.options.sheet!r} names a workbook sheet, but this is a CSV "
                            f"{'zip' if kind == 'csvzip' else 'file'}: ignored",
                            severity=WARNING,
                            file=f.name,
                        )
                    )
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
                elif kind == "csvzip":
                    total += self._stage_csvzip(eng, f, report)
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
        self._check_repeat_counts(ctx)
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
            lit = _repeat_name(self.form, repeat).replace("'", "''")
            eng.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT r.*, p._key AS _parent_record, "
                f"p._key || '/{lit}[' || row_number() OVER ("
                f"PARTITION BY r._file, {_link_key('r._parent_index')} "
                f"ORDER BY TRY_CAST(r._index AS BIGINT), r._row) || ']' AS _key "
                f"FROM {table} r JOIN {parent} p ON p._file = r._file "
                f"AND {_link_key('p._index')} = {_link_key('r._parent_index')}"
            )
            parents[repeat] = table
            linked.append((repeat, table, parent))
        self.repeat_stages = linked

    # ---------------------------------------------------------------- the form's shape

    @staticmethod
    def _parent_repeat(form: Form, repeat: str) -> str | None:
        """The repeat that encloses this one (None: the main records), from the repeats' export paths."""
        paths = {r: _repeat_path(form, r) for r in form.repeats}
        mine = paths[repeat]
        if not mine:
            return None
        enclosing = [r for r, p in paths.items() if r != repeat and p and mine.startswith(p + "/")]
        return max(enclosing, key=lambda r: len(paths[r])) if enclosing else None

    def _ancestors(self, repeat: str | None) -> list[str | None]:
        out: list[str | None] = []
        while repeat is not None:
            repeat = self._levels[repeat].parent
            out.append(repeat)
        return out

    def _level_for_sheet(self, title: str) -> _Level | None:
        t = title.strip().casefold()
        for r in self.form.repeats:
            name = _repeat_name(self.form, r).casefold()
            if t == name or (len(name) > SHEET_NAME_MAX and t == name[:SHEET_NAME_MAX]):
                return self._levels[r]
        return None

    # ---------------------------------------------------------------- headers

    def _match(self, h: str, level: _Level) -> Field | object | None:
        """The field a header names by its path (any group separator) or its bare XML name."""
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

    @staticmethod
    def _match_label(h: str, level: _Level) -> tuple[Field | object | None, str]:
        """The field a header names by its label (Kobo's "labels" export), and the label that matched: the
        whole header, else the longest tail after a group separator (group labels are not in the form)."""
        tails = [h] + [h[i + 1 :] for i, ch in enumerate(h) if ch in _SEPARATORS]
        for tail in tails:
            cands = level.by_label.get(_norm_label(tail), [])
            if len(cands) == 1:
                return cands[0], tail
            if cands:
                return _AMBIGUOUS, tail
        return None, ""

    def _other_level(self, h: str, level: _Level) -> _Level | None:
        for other in self._levels.values():
            if other is not level and self._match(h, other) not in (None, _AMBIGUOUS):
                return other
        return None

    def _any_field(self, h: str) -> bool:
        """A field of any level named by this header (its path, XML name or label)."""
        return any(
            isinstance(self._match(h, lv), Field) or isinstance(self._match_label(h, lv)[0], Field)
            for lv in self._levels.values()
        )

    def _option(self, h: str, level: _Level) -> tuple[Field, str | None] | None:
        """A select_multiple's 0/1 column for one choice (`needs/water`, or by labels `Needs/Water`);
        the choice is None when the column names it by a label the form does not hold."""
        for sep in _SEPARATORS:
            if sep not in h:
                continue
            head, choice = h.rsplit(sep, 1)
            f = self._match(head, level)
            by_label = not isinstance(f, Field)
            if by_label:
                f = self._match_label(head, level)[0]
            if not (isinstance(f, Field) and f.type == "select_multiple"):
                continue
            if f.choices is None or choice in f.choices:
                return f, choice
            folded = {c.casefold(): c for c in f.choices}
            if choice.strip().casefold() in folded:
                return f, folded[choice.strip().casefold()]
            if by_label:
                return f, None
        return None

    def _geo_part(self, h: str, level: _Level) -> tuple[Field, str] | None:
        """ODK Central's split geopoint column: `<path>-Latitude` (-Longitude, -Altitude, -Accuracy)."""
        for part in _GEO_PARTS:
            for sep in _SEPARATORS:
                suffix = sep + part
                if len(h) > len(suffix) and h[-len(suffix) :].casefold() == suffix.casefold():
                    f = self._match(h[: -len(suffix)], level)
                    if isinstance(f, Field) and f.type == "geopoint":
                        return f, part
        return None

    @staticmethod
    def _is_meta(h: str) -> bool:
        return (
            h in _ALL_ROLES
            or h in _META_NAMES
            or h.startswith(_META_PREFIXES)
            or h.startswith("_")
            or h.rsplit("/", 1)[-1].startswith("_")
            or "SET-OF-" in h  # ODK Briefcase's link from a record to its repeat rows
        )

    def _looks_like_path(self, h: str) -> bool:
        return "/" in h or any(sep in h and h.split(sep, 1)[0] in self._groups for sep in _SEPARATORS)

    def _map_header(
        self, headers: list[str], level: _Level, fname: str, sheet: str | None, report: Report
    ) -> _SheetMap:
        sm = _SheetMap()
        options: list[tuple[Field, str | None, int]] = []
        roles = _MAIN_ROLES if level.repeat is None else _REPEAT_ROLES

        def at(col: str, code: str, message: str, severity: str = "error") -> None:
            report.add(Finding(code, message, severity=severity, file=fname, sheet=sheet, row=1, column=col))

        def take(m: Field, h: str, i: int) -> None:
            if m.name in sm.fields:
                # A labels export of a form where one field's label is another's name (`Travellers`,
                # the label of `travellers`, and the name of its case twin labelled `Travellers (case
                # twin)`): the column taken by name was that label; it goes to its label's field.
                prev = sm.fields[m.name]
                alt, text = self._match_label(headers[prev], level)
                if isinstance(alt, Field) and alt.name not in sm.fields and text == headers[prev]:
                    sm.fields[alt.name] = prev
                    sm.fields[m.name] = i
                    return
                at(
                    h,
                    "column-duplicate",
                    f"column {h!r} is the field {m.path} again "
                    f"(already column {headers[sm.fields[m.name]]!r})",
                )
            else:
                sm.fields[m.name] = i

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
                take(m, h, i)
                continue
            if self._is_meta(h):
                for name, prio in roles.get(h, []):
                    if name in sm.meta and sm.meta[name][0] == prio:
                        at(h, "column-duplicate", f"column {h!r} appears twice")
                    elif name not in sm.meta or prio < sm.meta[name][0]:
                        sm.meta[name] = (prio, i)
                continue
            if h.endswith("_URL") and self._any_field(h[:-4]):
                continue  # Kobo's link to a media answer's file, beside the answer (the file name)
            geo = self._geo_part(h, level)
            if geo:
                parts = sm.geo.setdefault(geo[0].name, {})
                if geo[1] in parts:
                    at(h, "column-duplicate", f"column {h!r} is the {geo[1].lower()} of {geo[0].path} again")
                else:
                    parts[geo[1]] = i
                continue
            opt = self._option(h, level)
            if opt and opt[1] is not None:
                options.append((opt[0], opt[1], i))
                continue
            lab, text = self._match_label(h, level)
            if lab is _AMBIGUOUS:
                paths = ", ".join(f.path for f in level.by_label[_norm_label(text)])
                at(
                    h,
                    "column-unexpected",
                    f"column {h!r}: the label {text.strip()!r} is the label of several fields ({paths}), "
                    "so the column cannot be told apart: export with XML names as headers",
                )
                continue
            if isinstance(lab, Field):
                take(lab, h, i)
                continue
            if opt:
                options.append((opt[0], None, i))
                continue
            other = self._other_level(h, level)
            if other is not None:
                where = f"repeat group {other.xml_repeat or other.repeat!r}" if other.repeat else "the main records"
                how = (
                    "its rows are read from the export's sheet (or CSV) of that repeat"
                    if other.repeat
                    else "it is read from the main sheet"
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
            if f.name in sm.fields:
                continue  # the answer's own column holds the value; the 0/1 columns only repeat it
            if choice is None:
                at(
                    headers[i],
                    "column-unexpected",
                    f"column {headers[i]!r} is an option column of {f.path}, but its choice is not one of "
                    f"{', '.join(f.choices or [])}, and the export has no column with the answer itself: "
                    "export with XML values",
                )
                continue
            sm.options.setdefault(f.name, []).append((choice, i))
        for f, parts in sm.geo.items():
            fld = next(x for x in level.fields if x.name == f)
            if f in sm.fields:
                continue
            missing = [p for p in ("Latitude", "Longitude") if p not in parts]
            if missing:
                at(
                    fld.path,
                    "column-missing",
                    f"geopoint {fld.path} is split into columns but has no {' or '.join(missing)} column",
                )
        for name, i in sm.fields.items():
            self._headers.setdefault(name, headers[i])
        for name, opts in sm.options.items():  # `needs/water` -> `needs`
            h, choice = headers[opts[0][1]], opts[0][0]
            self._headers.setdefault(name, h[: -len(choice) - 1] if h.casefold().endswith(choice.casefold()) else h)
        for name, parts in sm.geo.items():  # `gps-Latitude` -> `gps`
            h = headers[next(iter(parts.values()))]
            self._headers.setdefault(name, h[: h.rfind(next(p for p in _GEO_PARTS if h.endswith(p))) - 1]
                                     if any(h.endswith(p) for p in _GEO_PARTS) else h)
        for f in level.fields:
            if f.name not in sm.fields and f.name not in sm.options and f.name not in sm.geo:
                report.add(
                    Finding(
                        "column-missing",
                        f"no column for field {f.path}: its values are empty "
                        "(with --update, each record keeps its stored value)",
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
            elif fld.name in sm.geo:
                # "lat lon alt acc", as the geopoint's own column holds it (altitude, accuracy when given)
                parts = sm.geo[fld.name]
                lat, lon = v(parts.get("Latitude", -1)), v(parts.get("Longitude", -1))
                rest = [v(parts[p]) for p in ("Altitude", "Accuracy") if p in parts]
                expr = (
                    f"CASE WHEN {lat} IS NULL AND {lon} IS NULL THEN NULL "
                    f"ELSE concat_ws(' ', coalesce({lat}, ''), coalesce({lon}, ''), {', '.join(rest) or 'NULL'}) "
                    "END"
                )
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
                    f"the sheet of repeat group {level.xml_repeat or level.repeat!r} needs a _parent_index "
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
            self._staged_files.setdefault(level.repeat, set()).add(f.name)
            self._carried.setdefault(level.repeat, set()).update(sm.fields, sm.options, sm.geo)
        return n

    # ---------------------------------------------------------------- CSV

    def _stage_csv(
        self,
        eng,
        f: SourceFile,
        report: Report,
        level: _Level | None = None,
        member: str | None = None,
        path: Path | None = None,
    ) -> int:
        """One CSV: a Kobo / ODK export of the main records, or (`member` of an ODK Central zip, extracted
        to `path`) the records or one repeat's rows; findings name the zip's member as the sheet."""
        level = level or self._levels[None]
        path = path or f.path
        sub = Report()  # findings of this CSV, located in the zip's member when it is one
        try:
            return self._stage_csv_rows(eng, f, path, level, member, sub)
        finally:
            for x in sub.findings:
                report.add(dataclasses.replace(x, sheet=x.sheet or member) if member else x)

    def _stage_csv_rows(self, eng, f: SourceFile, path: Path, level: _Level, member: str | None, report: Report) -> int:
        if csvfile.read_head(path, report, lines=1) is None:
            return 0
        got = _csv_header(path.open("rb").read(csvfile.HEAD_BYTES))
        if got is None:
            report.add(Finding("file-empty", "the file is empty", file=f.name))
            return 0
        header, delim = got
        if not header:  # a blank first line (a lone CR) before the data
            report.add(Finding("csv-malformed", "line 1 is empty: it must name the columns", file=f.name,
                               sheet=member, row=1))
            return 0
        sm = self._map_header(header, level, f.name, member, report)
        if not report.ok:
            return 0
        part = f if member is None else dataclasses.replace(f, path=path, shape=None, blank_lines=())
        counted = csvfile.count_records(part, report, delim)
        if not report.ok:
            return 0
        view = f"{self._table}_raw"
        named = ", ".join(f'c{i} AS "c{i}"' for i in range(len(header)))
        cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
        sheet_sql = "NULL::VARCHAR" if member is None else csvfile.sql_str(member)
        eng.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT row_number() OVER () + 1 AS _row, "
            f"{csvfile.sql_str(f.name)} AS _file, {sheet_sql} AS _sheet, {named} "
            f"FROM read_csv({csvfile.sql_str(str(path))}, auto_detect=false, header=false, skip=1, "
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
            if member is None:
                for r in self.form.repeats:
                    report.add(
                        Finding(
                            "sheet-missing",
                            f"a CSV export holds no rows of repeat group {_repeat_name(self.form, r)!r}: "
                            "import the XLSX export (or ODK Central's CSV zip) to keep them",
                            severity=WARNING,
                            file=f.name,
                        )
                    )
            n = self._materialise(eng, view, level, sm, f, member, report)
            csvfile.check_row_count(part, counted, n, skip=1, columns=len(header), report=report)
            return n
        finally:
            eng.execute(f"DROP VIEW IF EXISTS {view}")

    # ---------------------------------------------------------------- ODK Central CSV zip

    def _stage_csvzip(self, eng, f: SourceFile, report: Report) -> int:
        """ODK Central's "CSV zip": `<form>.csv` holds the records, `<form>-<repeat>.csv` each repeat's rows,
        linked by `PARENT_KEY` = the parent row's `KEY`; `media/` holds attachments (not read)."""
        import tempfile

        from passage.ingest.xlsx import check_workbook

        problem = check_workbook(f.path, f.name)  # the zip's declared sizes, before anything is inflated
        if problem is not None:
            report.add(problem)
            return 0
        names = {_repeat_name(self.form, r): r for r in self.form.repeats}
        main, by_name = _csv_members(f.path, list(names))
        by_repeat = {names[n]: m for n, m in by_name.items()}
        if len(main) != 1:
            report.add(
                Finding(
                    "sheet-missing",
                    "the zip holds no CSV of the records besides the repeats' CSVs"
                    if not main
                    else "the zip holds several CSVs that are not a repeat's: "
                    + ", ".join(repr(m) for m in main)
                    + " (a repeat's CSV is named <form id>-<repeat>.csv)",
                    file=f.name,
                )
            )
            return 0
        for r in self.form.repeats:
            if r not in by_repeat:
                report.add(
                    Finding(
                        "sheet-missing",
                        f"no CSV for repeat group {_repeat_name(self.form, r)!r} in the zip: no rows of it imported",
                        severity=WARNING,
                        file=f.name,
                        sheet=_repeat_name(self.form, r),
                    )
                )
        plan = [(main[0], self._levels[None])] + [
            (by_repeat[r], self._levels[r]) for r in self.form.repeats if r in by_repeat
        ]
        total = 0
        with tempfile.TemporaryDirectory(prefix="passage-zip-") as tmp, zipfile.ZipFile(f.path) as z:
            for k, (member, level) in enumerate(plan):
                target = Path(tmp) / f"{k}.csv"
                try:
                    with z.open(member) as src, target.open("wb") as dst:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
                    # a damaged member (bad CRC, broken deflate stream, an offset beyond the file), an unknown
                    # compression, a password; a full disk is no fault of the file
                    if disk_full(exc) is not None:
                        raise
                    report.add(Finding("file-unreadable", f"the zip's member cannot be read ({type(exc).__name__})",
                                       file=f.name, sheet=member))
                    break
                total += self._stage_csv(eng, f, report, level, member, target)
                if not report.ok:
                    break
        return total

    # ---------------------------------------------------------------- XLSX

    def _stage_xlsx(self, eng, f: SourceFile, report: Report) -> int:
        wb = open_workbook(f.path, report, f.name, data_only=False)  # zip bombs refused before openpyxl
        if wb is None:
            return 0
        total = 0
        sheet: str | None = None  # the sheet being read
        try:
            sheets = wb.worksheets
            if not sheets:
                report.add(Finding("file-empty", "the workbook has no sheets", file=f.name))
                return 0
            main = self._main_sheet(wb, report, f.name)
            if main is None:
                return 0
            if not self.options.sheet and not self._fields_in(main):
                better = [ws.title for ws in sheets if ws is not main and self._fields_in(ws)]
                if better:
                    report.add(
                        Finding(
                            "sheet-missing",
                            f"the first sheet {main.title!r} has no column of the form's fields; sheet "
                            f"{better[0]!r} has: import it with --sheet {better[0]!r}",
                            file=f.name,
                            sheet=main.title,
                        )
                    )
                    return 0
            plan: list[tuple[Any, _Level]] = [(main, self._levels[None])]
            stray = []
            for ws in sheets:
                if ws is main:
                    continue
                level = self._level_for_sheet(ws.title)
                if level is None:
                    stray.append(ws)
                elif any(lv is level for _, lv in plan):
                    report.add(
                        Finding(
                            "sheet-missing",
                            f"two sheets for repeat group {level.xml_repeat or level.repeat!r}",
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
                                f"no sheet for repeat group {_repeat_name(self.form, r)!r}, and sheet(s) "
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
                                f"no sheet for repeat group {_repeat_name(self.form, r)!r}: no rows of it imported",
                                severity=WARNING,
                                file=f.name,
                                sheet=_repeat_name(self.form, r),
                            )
                        )
            for ws, level in plan:
                sheet = ws.title
                total += self._stage_sheet(eng, f, ws, level, report)
        except Exception as exc:  # openpyxl reads a sheet's XML only as its rows are asked for
            if not isinstance(exc, _PART_UNREADABLE) and not _raised_by_openpyxl(exc):
                raise  # an error of Passage's own is a bug, not a damaged file
            report.add(Finding("file-unreadable", f"a part of the workbook cannot be read ({type(exc).__name__})",
                               file=f.name, sheet=sheet))
        finally:
            wb.close()
        return total

    def _fields_in(self, ws: Any) -> int:
        """How many header cells of a sheet name a top-level field (by path, name or label)."""
        level = self._levels[None]
        n = 0
        for row in ws.iter_rows(max_row=1, values_only=True):
            for v in row:
                h = (_cell_text(v) or "").strip()
                if h and (isinstance(self._match(h, level), Field) or isinstance(self._match_label(h, level)[0], Field)):
                    n += 1
        return n

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
            min_col, min_row, _, _ = range_boundaries(ref)
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
        refused = sm.value_columns()
        wanted = {i for _, i in sm.meta.values()}  # columns read though they are not form values
        cached: list[tuple[int, int]] = []  # (row, column) of formulas in those: their cached values are read
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
                        # A formula in a form value is refused; one in another column (a HYPERLINK an
                        # officer added) is no form data: ignored, or its cached value taken where the
                        # column is read (a submission id, an _index).
                        if ci in wanted and ci not in refused:
                            cached.append((rno, ci))
                            seen = True
                            continue
                        if ci not in refused:
                            continue
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
            if cached:
                self._cached_values(eng, raw, f, sheet, cached)
            return self._materialise(eng, raw, level, sm, f, sheet, report)
        finally:
            eng.execute(f"DROP TABLE IF EXISTS {raw}")

    @staticmethod
    def _cached_values(eng, raw: str, f: SourceFile, sheet: str, cells: list[tuple[int, int]]) -> None:
        """The values the workbook's writer stored for these formula cells (openpyxl's data_only), as the
        cells' text in the staged sheet; a formula never calculated has none (empty)."""
        wb = open_workbook(f.path, Report(), f.name, data_only=True)
        if wb is None:
            return
        want: dict[int, list[int]] = {}
        for r, c in cells:
            want.setdefault(r, []).append(c)
        last = max(want)
        updates: list[tuple[str | None, int, int]] = []
        try:
            ws = wb[sheet]
            ws.reset_dimensions()
            for rno, row in enumerate(ws.iter_rows(values_only=True), start=1):
                if rno > last:
                    break
                for c in want.get(rno, []):
                    value = _cell_text(row[c]) if c < len(row) else None
                    updates.append((value.strip() if value and value.strip() else None, rno, c))
        finally:
            wb.close()
        for col in sorted({c for _, _, c in updates}):
            rows = [(v, r) for v, r, c in updates if c == col]
            eng.executemany(f'UPDATE {raw} SET "c{col}" = ? WHERE _row = ?', rows)

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
                    f"CREATE OR REPLACE TEMP TABLE {dups} AS SELECT _file, {_link_key('_index')} AS i "
                    f"FROM {parent} WHERE {_link_key('_index')} IS NOT NULL GROUP BY 1, 2 "
                    "HAVING count(*) > 1"
                )
                try:
                    if eng.execute(f"SELECT count(*) FROM {dups}").fetchall()[0][0]:
                        flag(
                            Context(eng, parent, self.form, {}, report),
                            "duplicate-key",
                            f"EXISTS (SELECT 1 FROM {dups} d WHERE d._file = {parent}._file "
                            f"AND d.i = {_link_key(parent + '._index')})",
                            f"_index is not unique on this sheet, so rows of repeat group {_repeat_name(self.form, r)!r} cannot be "
                            "linked to it",
                            column="_index",
                            value="_index",
                        )
                finally:
                    eng.execute(f"DROP TABLE IF EXISTS {dups}")
                cond = (
                    f"NOT EXISTS (SELECT 1 FROM {parent} p WHERE p._file = {table}._file "
                    f"AND {_link_key('p._index')} = {_link_key(table + '._parent_index')})"
                )
            flag(
                Context(eng, table, self.form, {}, report),
                "parent-unknown",
                cond,
                f"_parent_index matches no _index of the parent sheet (repeat group {_repeat_name(self.form, r)!r})",
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
            for expr in (f.relevant, f.constraint, f.calculation):
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
                    f"AND {_link_key(f'a{k}._index')} = {_link_key(prev + '._parent_index')}"
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
        extra = {"file_columns": self.file_columns(), "absent": self.absent_fields(repeat),
                 "update": ctx.extra.get("update"), "repeat_scope": lambda t: self._scope(repeat, t),
                 **({"kept_per_check": ctx.extra["kept_per_check"]} if "kept_per_check" in ctx.extra else {})}
        try:
            form_rules.run(Context(eng, target, sub, {}, ctx.report, extra=extra))
        finally:
            if target != table:
                eng.execute(f"DROP TABLE IF EXISTS {target}")

    def _check_repeat_counts(self, ctx: Context) -> None:
        """`repeat_count`: ODK makes exactly that many instances, so a parent row whose export holds more or
        fewer rows of the repeat is a broken export (`repeat-count`, on the parent's row). Checked where every
        file held the repeat's rows, and where the count is known (an empty count is not checked)."""
        from passage.checks import form_rules
        from passage.forms.expr import to_sql

        for repeat, expression in self.form.repeat_counts.items():
            stage = self._stages.get(repeat)
            if stage not in self._created or self._staged_files.get(repeat, set()) != set(self._files):
                continue
            parent = self._levels[repeat].parent
            table = ctx.table if parent is None else self._stages[parent]
            fields = self.form.top_fields() if parent is None else self.form.repeat_fields(parent)
            target, helpers = self._with_outer(ctx.eng, parent, table, expression, fields)
            sub = dataclasses.replace(self.form, fields=fields + helpers, repeats=[])
            name = _repeat_name(self.form, repeat)
            try:
                opts = form_rules.options(sub, now=form_rules.now_sql(Context(ctx.eng, target, sub, {}, ctx.report)
                                                                      .columns(), sub),
                                          repeats=self._scope(parent, target))
                want = to_sql(expression, {f.name: f.type for f in sub.fields}, options=opts)
            except ExpressionError:
                continue  # said at install (expression-unsupported): not checked
            n = (f"(SELECT count(*) FROM {stage} _rc WHERE _rc._file = {target}._file AND "
                 f"{_link_key('_rc._parent_index')} = {_link_key(target + '._index')})")
            k = f"greatest(CAST(floor(TRY_CAST(({want}) AS DOUBLE)) AS BIGINT), 0)"
            rctx = Context(ctx.eng, target, sub, {}, ctx.report, extra=ctx.extra)
            try:
                flag(rctx, "repeat-count", f"{k} IS NOT NULL AND {n} <> {k}",
                     f"repeat group {name!r} has a number of rows here other than its repeat_count "
                     f"({expression}): ODK makes exactly that many",
                     column=name, value=f"{n} || ' rows, repeat_count ' || {k}")
            finally:
                if target != table:
                    ctx.eng.execute(f"DROP TABLE IF EXISTS {target}")

    def _with_outer(self, eng, level: str | None, table: str, expression: str,
                    fields: list[Field]) -> tuple[str, list[Field]]:
        """`table` (a level's staged rows) with the values of enclosing levels that `expression` names joined
        in from the parent rows (a temp table, else `table` itself), and the fields they are (without rules)."""
        try:
            refs = referenced_fields(expression)
        except ExpressionError:
            return table, []
        by_name = self.form.by_xlsform_name()
        own = {f.name for f in fields}
        chain = self._ancestors(level)
        outside = sorted({by_name.get(n, n) for n in refs} - own)
        outside = [n for n in outside if n in self._level_of and self._level_of[n] in chain]
        if not outside:
            return table, []
        joins, prev = [], "a0"
        for k, lv in enumerate(chain, start=1):
            joins.append(f"LEFT JOIN {self._stages[lv]} a{k} ON a{k}._file = {prev}._file "
                         f"AND {_link_key(f'a{k}._index')} = {_link_key(prev + '._parent_index')}")
            prev = f"a{k}"
        cols = [f"a{chain.index(self._level_of[n]) + 1}.{q(n)} AS {q(n)}" for n in outside]
        target = f"{table}_rc"
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT a0.*, {', '.join(cols)} "
                    f"FROM {table} a0 {' '.join(joins)}")
        helpers = [dataclasses.replace(self.form.field(n), required=False, constraint=None, relevant=None,
                                       choices=None, calculation=None) for n in outside]
        return target, helpers
