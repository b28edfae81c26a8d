"""DTM mobility tracking: the two layouts IOM publishes, mapped onto the `dtm_idps` form.

- API v3 JSON (`/v3/displacement/admin0|admin1|admin2`): an envelope around `result`.
- The HDX CSV: a header row, then an HXL hashtag row.
Quirks handled here, once: several rows per place and round (one per displacement
reason), reasons in mixed case joined with `; `, `Not available` for a missing
origin, ISO timestamps as reporting dates, empty admin fields on admin0 rows.
The normalised values serve keys, checks and indicators; the provider's text is kept beside
them (`*_as_given`) for the `dtm_idps` export, which writes the values as IOM wrote them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml

from passage.findings import Finding, Report
from passage.ingest import csvfile
from passage.ingest.files import SourceFile
from passage.ingest.importer import Importer, cell_facts

GIVEN = "_as_given"  # the suffix of a field keeping the provider's text of a normalised one


def _layout() -> list[list[str]]:
    """The DTM pack's `layouts.hdx_csv`: provider column, form field, HXL hashtag. Where the importer normalises
    a column, the layout names the field keeping the text as given (`displacement_reason_as_given`)."""
    spec = yaml.safe_load((Path(__file__).parent / "pack.yaml").read_text(encoding="utf-8"))
    return spec["layouts"]["hdx_csv"]


LAYOUT = _layout()
# Provider column -> (form field, HXL hashtag): the normalised field of a column kept as given as well
COLUMNS: dict[str, tuple[str, str]] = {col: (field.removesuffix(GIVEN), tag) for col, field, tag in LAYOUT}
OPTIONAL = {"id", "adminLevel", "operationStatus"}
REQUIRED = [c for c in COLUMNS if c not in OPTIONAL]
HXL_TAGS = {c: tag for c, (_, tag) in COLUMNS.items() if tag}
MISSING_WORDS = ("not available", "n/a", "na", "unknown", "-")
# The API leaves out the fields a level does not have: an admin0 response carries no admin1*/admin2*
# field at all, an admin1 response no admin2* field.
JSON_ABSENT_BY_LEVEL = {"admin1Name", "admin1Pcode", "admin2Name", "admin2Pcode"}


def _text(value: object) -> str:
    """A JSON value as text for a message: a nested array or object is named, not printed (it may be
    nested deeper than printing can go)."""
    return f"(a JSON {'array' if isinstance(value, list) else 'object'})" if isinstance(value, (list, dict)) \
        else str(value)


def _v(col: str, present: set[str]) -> str:
    return f"nullif(trim(src.\"{col}\"), '')" if col in present else "NULL::VARCHAR"


def _date(e: str) -> str:
    """"2017-09-30T00:00:00" -> "2017-09-30"; anything else is left for the date check to flag."""
    return f"CASE WHEN {e} LIKE '____-__-__T%' THEN left({e}, 10) ELSE {e} END"


def _reason(e: str) -> str:
    """"Conflict; Natural disaster", "conflict" -> lower case, trimmed, sorted, "; "-joined."""
    return (f"CASE WHEN NOT contains({e}, ';') THEN lower({e}) ELSE nullif(array_to_string(list_sort(list_filter("
            f"list_transform(string_split(lower({e}), ';'), lambda s: trim(s)), lambda s: s <> '')), '; '), '') END")


def _missing(e: str) -> str:
    """"Not available" (and the other missing words) -> NULL."""
    words = ", ".join(f"'{w}'" for w in MISSING_WORDS)
    return f"CASE WHEN lower({e}) IN ({words}) THEN NULL ELSE {e} END"


# Fields the importer normalises, each with the field keeping the provider's text (what the `dtm_idps` export
# writes) and how the text is normalised: provider column -> (field, field as given, normalisation).
AS_GIVEN: dict[str, tuple[str, str, Callable[[str], str]]] = {
    "reportingDate": ("reporting_date", "reporting_date_as_given", _date),
    "displacementReason": ("displacement_reason", "displacement_reason_as_given", _reason),
    "idpOriginAdmin1Name": ("idp_origin_admin1_name", "idp_origin_admin1_name_as_given", _missing),
    "idpOriginAdmin1Pcode": ("idp_origin_admin1_pcode", "idp_origin_admin1_pcode_as_given", _missing),
}
if {(col, field) for col, field, _ in LAYOUT if field.endswith(GIVEN)} != {(c, g) for c, (_, g, _) in AS_GIVEN.items()}:
    raise RuntimeError("the DTM pack's hdx_csv layout and the importer's AS_GIVEN name different fields kept as given")


def mapping_sql(present: set[str], kept: set[str] = frozenset()) -> str:
    """The SELECT list turning provider columns (text) into form fields (text, normalised), and the text as
    given beside each normalised field (`AS_GIVEN`).

    `kept`: as-given fields the source already holds (a record edit's row): a kept text stays while it still
    normalises to the field's value (an edit elsewhere in the record keeps `Conflict; Natural disaster`), and
    gives way to the field's new value when the edit changed it. The origin code also stays when it is the
    provider's code the P-code check converted (`TD07` for `TCD07`)."""
    v = lambda c: _v(c, present)
    level_given = v("adminLevel")
    out = [
        "src._row AS _row",
        "src._file AS _file",
        "NULL::VARCHAR AS _sheet",
    ]
    for col, (field, _) in COLUMNS.items():
        if field == "admin_level" or col in AS_GIVEN:
            continue
        out.append(f"{v(col)} AS {field}")
    for col, (field, given, normalise) in AS_GIVEN.items():
        out.append(f"{normalise(v(col))} AS {field}")
        text = v(col)
        if field == "reporting_date":  # stored as a timestamp (a date cell in XLSX): what is one, else nothing
            text = f"CASE WHEN TRY_CAST({text} AS TIMESTAMP) IS NOT NULL THEN {text} END"
        if given not in kept:
            out.append(f"{text} AS {given}")
            continue
        same = f"({normalise(f'src.{given}')}) IS NOT DISTINCT FROM ({normalise(v(col))})"
        if field == "idp_origin_admin1_pcode" and "provider_idp_origin_admin1_pcode" in kept:
            same += f" OR upper(src.{given}) = upper(src.provider_idp_origin_admin1_pcode)"
        out.append(f"CASE WHEN {same} THEN src.{given} ELSE {text} END AS {given}")
    # The level is implied by which codes are filled; a level given by the file wins.
    out.append(f"coalesce({level_given}, CASE WHEN {v('admin2Pcode')} IS NOT NULL THEN '2' "
               f"WHEN {v('admin1Pcode')} IS NOT NULL THEN '1' ELSE '0' END) AS admin_level")
    return ",\n  ".join(out)


class DtmImporter(Importer):
    kind = "dtm"
    pack = "dtm"
    form_id = "dtm_idps"
    description = "DTM API v3 JSON responses or the HDX CSV (header + HXL row)"
    examples = ("passage import dtm nigeria_admin2.json nigeria_admin1.json",)

    def file_columns(self) -> dict[str, str]:
        """Findings name DTM's columns (`numPresentIdpInd`), as the file and the API do, not the form's fields."""
        named = {field: col for col, (field, _) in COLUMNS.items() if field != col}
        return named | {given: col for col, (_, given, _) in AS_GIVEN.items()}

    def normalise_edit(self, eng: duckdb.DuckDBPyConnection, table: str) -> str:
        """A record edit's row, staged by form field (`passage.edits`), normalised as a file's row is
        (trimmed cells, reasons, dates, missing words, the level), the text as given kept where the edit left
        the field as it was; returns the table holding it."""
        have = [r[0] for r in eng.execute(f"DESCRIBE {table}").fetchall()]
        layout = {field: col for col, (field, _) in COLUMNS.items()}
        given = {g for _, g, _ in AS_GIVEN.values()}
        renamed = [f'"{f}" AS "{layout[f]}"' for f in have if f in layout]
        others = [f'"{c}"' for c in have if c not in layout and c not in ("_row", "_file", "_sheet")]
        out = f"{table}_dtm"
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT "
                    + mapping_sql({layout[f] for f in have if f in layout}, set(have))
                    + "".join(f", src.{c}" for c in others if c.strip('"') not in given)
                    + f" FROM (SELECT _row, _file, {', '.join(renamed + others)} FROM {table}) AS src")
        return out

    def stage(self, eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report) -> int:
        total = 0
        self._carried: set[str] = set()  # provider columns some file holds (an API response has no operationStatus)
        self._csv_only = True  # every cell staged is a CSV file's own text (`rule_context`)
        self._files = files
        for i, f in enumerate(files):
            head = f.path.open("rb").read(64).lstrip(b"\xef\xbb\xbf \r\n\t")
            if head.startswith((b"{", b"[")):
                self._csv_only = False
                n = self._stage_json(eng, f, table, report, append=i > 0 and total > 0)
            else:
                n = self._stage_csv(eng, f, table, report, append=i > 0 and total > 0)
            total += n
            if not report.ok:
                return total
        return total

    def rule_context(self) -> dict[str, object]:
        """HDX CSV cells are the file's own text: its scan rules out NUL bytes and overlong cells at once."""
        return cell_facts(self._files) if getattr(self, "_csv_only", False) else {}

    def absent_fields(self, repeat: str | None = None) -> set[str]:
        """The optional fields no file carried: `--update` from API JSON keeps the stored operation status."""
        carried = getattr(self, "_carried", set(COLUMNS))
        return {COLUMNS[c][0] for c in OPTIONAL - {"adminLevel"} if c not in carried} if repeat is None else set()

    def _stage_csv(self, eng, f: SourceFile, table: str, report: Report, append: bool) -> int:
        head = csvfile.read_head(f.path, report)
        if head is None:
            return 0
        header = [h.strip() for h in head[0]]
        csvfile.check_header(header, list(COLUMNS), REQUIRED, report, f.name)
        if not report.ok:
            return 0
        self._carried |= set(header)
        tags = head[1] if len(head) > 1 else []
        if not csvfile.check_hxl_row(header, tags, HXL_TAGS, report, f.name) or not report.ok:
            return 0
        counted = csvfile.count_records(f, report)
        if not report.ok:
            return 0
        view = f"{table}_raw"
        csvfile.raw_view(eng, f.path, view, header, skip=2)
        first = eng.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] if append else 0
        try:
            n = csvfile.materialise(eng, view, table, mapping_sql(set(header)), report, f.name, append)
        finally:
            eng.execute(f"DROP VIEW IF EXISTS {view}")
        csvfile.check_row_count(f, counted, n, skip=2, columns=len(header), report=report)
        if n:
            csvfile.number_rows(eng, table, first, skip=2, blank_lines=f.blank_lines, columns=len(header))
        if n == 0 and report.ok:
            report.add(Finding("file-empty", "the file has a header but no data rows", file=f.name, row=3))
        return n

    def _stage_json(self, eng, f: SourceFile, table: str, report: Report, append: bool) -> int:
        try:
            doc = json.loads(f.path.read_bytes().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            report.add(Finding("encoding", f"byte {exc.start} is not valid UTF-8", file=f.name))
            return 0
        except RecursionError:  # arrays or objects nested deeper than the parser goes (~1,000 levels)
            report.add(Finding("json-malformed", "the document is nested too deeply (a DTM response is 3 levels "
                               "deep)", file=f.name))
            return 0
        except json.JSONDecodeError as exc:
            report.add(Finding("json-malformed", f"{exc.msg} (line {exc.lineno}, column {exc.colno})",
                               file=f.name, row=exc.lineno))
            return 0
        if isinstance(doc, list):
            rows = doc
        elif isinstance(doc, dict) and "result" in doc:
            if doc.get("isSuccess") is False:
                msgs = "; ".join(map(_text, doc.get("errorMessages") or [])) or "no message"
                report.add(Finding("dtm.api-unsuccessful", f"isSuccess is false: {msgs}", file=f.name))
                return 0
            rows = doc.get("result") or []
            expected = doc.get("totalRecordsCount")
            try:
                expected = None if expected is None else int(expected)
            except (TypeError, ValueError):
                report.add(Finding("json-malformed", "totalRecordsCount is not a number", file=f.name,
                                   value=_text(expected)))
                return 0
            if expected is not None and expected != len(rows):
                report.add(Finding("dtm.api-count-mismatch", f"totalRecordsCount is {expected} but result holds {len(rows)} rows",
                                   file=f.name, value=str(expected)))
                return 0
        else:
            report.add(Finding("json-malformed", "expected a DTM API response ({result: [...], isSuccess, ...})",
                               file=f.name))
            return 0
        if not rows:
            report.add(Finding("file-empty", "the response holds no rows", file=f.name))
            return 0
        if not all(isinstance(r, dict) for r in rows):
            report.add(Finding("json-malformed", "every item of result must be an object", file=f.name))
            return 0
        for i, r in enumerate(rows, start=1):
            for col, val in r.items():
                if isinstance(val, (dict, list)):
                    report.add(Finding("json-malformed", f"{col} holds a nested {type(val).__name__}, not a value",
                                       file=f.name, row=i, column=col))
        if not report.ok:
            return 0
        present = set().union(*(r.keys() for r in rows))
        unknown = sorted(present - set(COLUMNS))
        for col in unknown:
            report.add(Finding("column-unexpected", f"field {col!r} is not a DTM API field", file=f.name, column=col))
        for col in REQUIRED:
            if col not in present and col not in JSON_ABSENT_BY_LEVEL:
                report.add(Finding("column-missing", f"field {col!r} is missing from every row", file=f.name, column=col))
        if not report.ok:
            return 0
        self._carried |= present
        cols = [c for c in COLUMNS if c in present]
        data = {c: pa.array([None if r.get(c) is None else str(r.get(c)) for r in rows], pa.string()) for c in cols}
        data["_row"] = pa.array(range(1, len(rows) + 1), pa.int64())
        data["_file"] = pa.array([f.name] * len(rows), pa.string())
        arrow = pa.table(data)
        view = f"{table}_raw"
        eng.register(view + "_arrow", arrow)
        try:
            eng.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM {view}_arrow")
            return csvfile.materialise(eng, view, table, mapping_sql(set(cols)), report, f.name, append)
        finally:
            eng.execute(f"DROP VIEW IF EXISTS {view}")
            eng.unregister(view + "_arrow")
