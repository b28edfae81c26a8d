"""The bad-file corpus: every way a DTM file can be wrong, built from one valid base file.

Each case is one file (its exact bytes made here, so binary quirks such as a UTF-16 BOM
or a latin-1 byte are explicit in code) and what the import must say about it: the
finding codes, and where meaningful the row (file line) and column of the first finding
of the first code. `tests/test_bad_corpus.py` imports every case into a store that already
holds `earlier.csv` and checks the import is rejected, located and leaves the store as it was.

Write the corpus to a folder (with `expected.json`) to look at it or feed it to the CLI:

    python tests/bad_files/make.py OUT_DIR
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = [
    "id", "operation", "admin0Name", "admin0Pcode", "admin1Name", "admin1Pcode", "admin2Name", "admin2Pcode",
    "adminLevel", "numPresentIdpInd", "reportingDate", "yearReportingDate", "monthReportingDate", "roundNumber",
    "displacementReason", "numberMales", "numberFemales", "idpOriginAdmin1Name", "idpOriginAdmin1Pcode",
    "assessmentType", "operationStatus",
]
HXL = {
    "id": "", "operation": "#operation+name", "admin0Name": "#country+name", "admin0Pcode": "#country+code",
    "admin1Name": "#adm1+name", "admin1Pcode": "#adm1+code", "admin2Name": "#adm2+name", "admin2Pcode": "#adm2+code",
    "adminLevel": "#adm+level", "numPresentIdpInd": "#affected+idps", "reportingDate": "#date+reported",
    "yearReportingDate": "#date+year+reported", "monthReportingDate": "#date+month+reported",
    "roundNumber": "#round+code", "displacementReason": "#cause+type", "numberMales": "#affected+idps+m",
    "numberFemales": "#affected+idps+f", "idpOriginAdmin1Name": "#adm1+name+origin",
    "idpOriginAdmin1Pcode": "#adm1+code+origin", "assessmentType": "#assessment+type",
    "operationStatus": "#operation+status",
}

_NA = "Not available"
_TCD = ["Chad", "Chad", "TCD"]
_NGA = ["Nigeria - North-East", "Nigeria", "NGA"]
_BASE_ROWS = [
    # file line 3: an admin0 row (admin fields empty)
    ["", *_TCD, "", "", "", "", "0", "1000", "2023-05-31T00:00:00", "2023", "5", "10", "Conflict", "", "", _NA, _NA,
     "BA", "Active"],
    # line 4: DTM's Chad code TD07 (normalised to TCD07 with a warning), reasons joined with "; "
    ["1", *_TCD, "Lac", "TD07", "", "", "1", "800", "2023-05-31T00:00:00", "2023", "5", "10",
     "Conflict; Natural disaster", "", "", _NA, _NA, "BA", "Active"],
    # line 5: admin2 with males and females
    ["2", *_TCD, "Lac", "TCD07", "Fouli", "TCD0704", "2", "300", "2023-05-31T00:00:00", "2023", "5", "10", "conflict",
     "100", "150", _NA, _NA, "BA", "Active"],
    # line 6
    ["3", *_NGA, "Borno", "NG008", "", "", "1", "5000", "2023-06-30T00:00:00", "2023", "6", "45", "Conflict", "2400",
     "2500", _NA, _NA, "BA", "Active"],
    # line 7: origin given
    ["4", *_NGA, "Borno", "NG008", "Abadam", "NG008001", "2", "1200", "2023-06-30T00:00:00", "2023", "6", "45",
     "Conflict", "", "", "Borno", "NG008", "BA", "Active"],
    # line 8
    ["5", *_NGA, "Adamawa", "NG002", "Demsa", "NG002001", "2", "700", "2023-06-30T00:00:00", "2023", "6", "45",
     "Natural disaster", "", "", "Adamawa", "NG002", "ETT", "Active"],
]
FIRST_DATA_LINE = 3  # line 1 header, line 2 HXL hashtags


def base_rows() -> list[dict[str, str]]:
    """The valid base file's data rows, as dicts (a fresh copy each call)."""
    return [dict(zip(COLUMNS, r)) for r in _BASE_ROWS]


def earlier_rows() -> list[dict[str, str]]:
    """The round before the base file's: what the store already holds when a bad file arrives."""
    rows = base_rows()
    for r in rows:
        r["roundNumber"] = str(int(r["roundNumber"]) - 1)
        month = int(r["monthReportingDate"]) - 1
        r["monthReportingDate"] = str(month)
        r["reportingDate"] = f"2023-{month:02d}-{'30' if month != 2 else '28'}T00:00:00"
        r["numPresentIdpInd"] = str(int(r["numPresentIdpInd"]) - 50)
    return rows


def render(rows: list[dict[str, str]] | list[list[str]], columns: list[str] | None = None, *, hxl: bool = True,
           tags: dict[str, str] | None = None, newline: str = "\n", quoting: int = csv.QUOTE_MINIMAL) -> str:
    """A DTM HDX CSV (header, HXL row, data) as text."""
    columns = columns or COLUMNS
    tags = HXL if tags is None else tags
    out = io.StringIO()
    w = csv.writer(out, lineterminator=newline, quoting=quoting)
    w.writerow(columns)
    if hxl:
        w.writerow([tags.get(c, "") for c in columns])
    for r in rows:
        w.writerow([r.get(c, "") for c in columns] if isinstance(r, dict) else r)
    return out.getvalue()


def base_csv() -> bytes:
    return render(base_rows()).encode("utf-8")


def earlier_csv() -> bytes:
    return render(earlier_rows()).encode("utf-8")


def _api_row(r: dict[str, str]) -> dict:
    """A base row as the DTM API v3 returns it: numbers as numbers, nulls for empty cells, no adminLevel."""
    out: dict = {}
    for c in COLUMNS:
        if c in ("adminLevel", "operationStatus"):
            continue
        v = r[c]
        if c == "id" and not v:
            continue  # admin0 rows carry no id
        if c in ("id", "numPresentIdpInd", "yearReportingDate", "monthReportingDate", "roundNumber", "numberMales",
                 "numberFemales"):
            out[c] = int(v) if v else None
        else:
            out[c] = v or None
    return out


def api_doc(rows: list[dict[str, str]] | None = None) -> dict:
    result = [_api_row(r) for r in (rows if rows is not None else base_rows())]
    return {"result": result, "statusCode": 200, "isSuccess": True, "errorMessages": [], "totalRecordsCount": len(result)}


def _json(doc) -> bytes:
    return json.dumps(doc, indent=1).encode("utf-8")


def _line(n: int) -> int:
    """The index into base_rows() of file line n."""
    return n - FIRST_DATA_LINE


def _with(line: int, column: str, value: str, rows: list[dict[str, str]] | None = None) -> bytes:
    """The base file with one cell changed."""
    rows = rows or base_rows()
    rows[_line(line)][column] = value
    return render(rows).encode("utf-8")


def _many_rows(n: int) -> list[dict[str, str]]:
    """n valid rows with distinct keys (one admin1 place, one round per row)."""
    out = []
    for i in range(n):
        r = base_rows()[_line(6)]
        r["id"] = str(1000 + i)
        r["roundNumber"] = str(100 + i)
        out.append(r)
    return out


# --- the cases -----------------------------------------------------------------------------------------------


def _latin1() -> bytes:
    rows = base_rows()
    rows[_line(5)]["admin2Name"] = "Foulì"  # written by a latin-1 spreadsheet export: 0xEC, not UTF-8
    return render(rows).encode("latin-1")


def _latin1_late() -> bytes:
    """A latin-1 byte far beyond the first 64 KiB: DuckDB's reader must catch it, with its line."""
    rows = base_rows() + _many_rows(1500)
    rows[-1]["admin1Name"] = "Bornö"
    text = render(rows)
    return text.encode("latin-1")


def _utf16() -> bytes:
    return codecs.BOM_UTF16_LE + render(base_rows(), newline="\r\n").encode("utf-16-le")


def _truncated() -> bytes:
    data = render(base_rows(), quoting=csv.QUOTE_ALL).encode("utf-8")  # as some exporters quote every cell
    cut = data.index(b'"Conflict; Natural disaster"') + len(b'"Conflict; Nat')
    return data[:cut]  # the download stopped inside a quoted value on line 4


def _drop_column(column: str) -> bytes:
    cols = [c for c in COLUMNS if c != column]
    return render(base_rows(), cols).encode("utf-8")


def _rename_column(old: str, new: str) -> bytes:
    cols = [new if c == old else c for c in COLUMNS]
    rows = [{(new if k == old else k): v for k, v in r.items()} for r in base_rows()]
    tags = {(new if k == old else k): v for k, v in HXL.items()}
    return render(rows, cols, tags=tags).encode("utf-8")


def _duplicate_column() -> bytes:
    cols = COLUMNS + ["numberMales"]
    return render(base_rows(), cols).encode("utf-8")


def _extra_column() -> bytes:
    cols = COLUMNS + ["comment"]
    rows = base_rows()
    for r in rows:
        r["comment"] = "checked by phone"
    return render(rows, cols, tags={**HXL, "comment": "#meta+comment"}).encode("utf-8")


def _semicolons() -> bytes:
    """A European spreadsheet's "CSV": the delimiter is a semicolon."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerow([HXL[c] for c in COLUMNS])
    for r in base_rows():
        w.writerow([r[c] for c in COLUMNS])
    return out.getvalue().encode("utf-8")


def _no_hxl() -> bytes:
    return render(base_rows(), hxl=False).encode("utf-8")


def _hxl_mismatch() -> bytes:
    return render(base_rows(), tags={**HXL, "numPresentIdpInd": "#affected+refugees"}).encode("utf-8")


def _hxl_malformed() -> bytes:
    """The HXL row lost its last columns and one tag lost its '#'."""
    lines = render(base_rows()).split("\n")
    tags = [HXL[c] for c in COLUMNS]
    tags[5] = "adm1+code"
    lines[1] = ",".join(tags[:15])
    data = "\n".join(lines)
    return data.encode("utf-8")


def _duplicate_rows() -> bytes:
    rows = base_rows()
    again = dict(rows[_line(4)], id="99")  # line 4 again: same place, round, date, reason
    return render(rows + [again]).encode("utf-8")


def _duplicate_store() -> bytes:
    """A different file holding one row whose key is already in the store (from earlier.csv)."""
    rows = base_rows()
    overlap = dict(earlier_rows()[_line(6)], numPresentIdpInd="4999")
    return render(rows + [overlap]).encode("utf-8")


def _header_only() -> bytes:
    return render([]).encode("utf-8")


def _huge_cell() -> bytes:
    return _with(5, "admin2Name", "x" * (1_100_000))


def _long_cell() -> bytes:
    return _with(7, "operation", "Nigeria - North-East " * 1000)  # 21 000 characters, under DuckDB's line limit


def _extra_field() -> bytes:
    lines = base_csv().decode().split("\n")
    lines[4] += ",surplus"  # file line 5
    return "\n".join(lines).encode("utf-8")


def _missing_fields() -> bytes:
    lines = base_csv().decode().split("\n")
    lines[5] = lines[5].rsplit(",", 3)[0]  # file line 6 lost its last three fields
    return "\n".join(lines).encode("utf-8")


def _xlsx_renamed() -> bytes:
    """An Excel workbook saved under a .csv name: a zip archive (with fixed timestamps: the same bytes every run,
    so the first byte that is not UTF-8 is always on the same line)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("[Content_Types].xml", "<?xml version='1.0'?><Types/>" * 20),
                           ("xl/worksheets/sheet1.xml", render(base_rows()))):
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _nul_byte() -> bytes:
    """A NUL byte inside a cell: the mark of a binary or corrupted file (PostgreSQL cannot even store it)."""
    return _with(5, "admin2Name", "Fou\x00li")


def _headerless() -> bytes:
    """The header and HXL rows were deleted: the first line is data."""
    return "\n".join(base_csv().decode().split("\n")[2:]).encode("utf-8")


def _blank_line_then_error() -> bytes:
    """A blank line (file line 6) before a bad count on file line 8: the row must still be the file's line."""
    rows = base_rows()
    rows[_line(7)]["numPresentIdpInd"] = "1.200"
    lines = render(rows).split("\n")
    lines.insert(5, "")
    return "\n".join(lines).encode("utf-8")


def _json_truncated() -> bytes:
    data = _json(api_doc())
    return data[: len(data) // 2]


def _json_unsuccessful() -> bytes:
    return _json({"result": [], "statusCode": 401, "isSuccess": False,
                  "errorMessages": ["Unauthorized: invalid subscription key"], "totalRecordsCount": 0})


def _json_count_mismatch() -> bytes:
    doc = api_doc()
    doc["totalRecordsCount"] = 250  # a paged response: only the first page arrived
    return _json(doc)


def _json_not_objects() -> bytes:
    doc = api_doc()
    doc["result"] = [[1, "Chad", "TCD"], [2, "Chad", "TCD"]]
    doc["totalRecordsCount"] = 2
    return _json(doc)


def _json_result_not_list() -> bytes:
    doc = api_doc()
    doc["result"] = "no data for this operation"
    doc.pop("totalRecordsCount")
    return _json(doc)


def _json_not_envelope() -> bytes:
    return _json({"data": api_doc()["result"]})


def _json_empty_result() -> bytes:
    doc = api_doc([])
    return _json(doc)


def _json_nested_value() -> bytes:
    """A field holding an object instead of a value: must not be stored as the object's text."""
    doc = api_doc()
    doc["result"][1]["admin1Name"] = {"en": "Lac", "fr": "Lac"}
    return _json(doc)


def _json_deep(levels: int = 100_000, envelope: bool = False) -> bytes:
    """Arrays nested 100,000 deep: more than the JSON parser recurses (it must not become a server error)."""
    deep = b"[" * levels + b"]" * levels
    return b'{"result": ' + deep + b', "isSuccess": true}' if envelope else deep


def _json_latin1() -> bytes:
    doc = api_doc()
    doc["result"][1]["admin1Name"] = "Lâc"
    return json.dumps(doc, ensure_ascii=False).encode("latin-1")


def _json_bad_count() -> bytes:
    doc = api_doc()
    doc["result"][2]["numPresentIdpInd"] = "300 approx."
    return _json(doc)


def _json_unknown_field() -> bytes:
    doc = api_doc()
    for r in doc["result"]:
        r["numPresentIdpHh"] = 12
    return _json(doc)


def _json_missing_field() -> bytes:
    doc = api_doc()
    for r in doc["result"]:
        r.pop("roundNumber")
    return _json(doc)


def _json_future() -> bytes:
    doc = api_doc()
    doc["result"][4]["reportingDate"] = "2099-06-30T00:00:00"
    doc["result"][4]["yearReportingDate"] = 2099
    return _json(doc)


@dataclass
class Case:
    id: str
    filename: str
    build: Callable[[], bytes]
    codes: tuple[str, ...]  # each must be among the report's counts
    row: int | None = None  # of the first finding with codes[0]; None: not checked
    column: str | None = None  # of the same finding; None: not checked
    max_bytes: int | None = None  # the import's size limit, when the case is about it
    note: str = ""
    extra: dict = field(default_factory=dict)

    def write(self, folder: Path) -> Path:
        path = Path(folder) / self.filename
        path.write_bytes(self.build())
        return path


CASES: list[Case] = [
    # --- bytes and encodings
    Case("empty-file", "empty.csv", lambda: b"", ("file-empty",)),
    Case("whitespace-only", "blank.csv", lambda: codecs.BOM_UTF8 + b"\r\n  \r\n", ("file-empty",)),
    Case("latin1", "latin1.csv", _latin1, ("encoding",), row=5),
    Case("latin1-after-64k", "latin1_late.csv", _latin1_late, ("encoding",), row=1508),
    Case("utf16-bom", "utf16.csv", _utf16, ("encoding",), row=1),
    Case("xlsx-saved-as-csv", "workbook.csv", _xlsx_renamed, ("encoding",), row=1),
    Case("nul-byte", "nul.csv", _nul_byte, ("encoding",), row=5),
    Case("file-too-large", "big.csv", base_csv, ("file-too-large",), max_bytes=100),
    # --- CSV structure
    Case("truncated-mid-quote", "truncated.csv", _truncated, ("csv-malformed",), row=4),
    Case("extra-field-on-line", "extra_field.csv", _extra_field, ("csv-malformed",), row=5),
    Case("missing-fields-on-line", "short_line.csv", _missing_fields, ("csv-malformed",), row=6),
    Case("huge-cell-over-1mb", "huge_cell.csv", _huge_cell, ("cell-too-long",), row=5),
    Case("long-cell", "long_cell.csv", _long_cell, ("cell-too-long",), row=7, column="operation"),
    Case("blank-line-before-error", "blank_line.csv", _blank_line_then_error, ("type-integer",), row=8,
         column="numPresentIdpInd", note="row is the file's line (the line a spreadsheet shows), blank lines included"),
    Case("header-only", "header_only.csv", _header_only, ("file-empty",), row=3),
    Case("semicolon-delimited", "semicolons.csv", _semicolons, ("csv-malformed",), row=1),
    # --- header and HXL row
    Case("missing-column", "missing_column.csv", lambda: _drop_column("numPresentIdpInd"), ("column-missing",),
         row=1, column="numPresentIdpInd"),
    Case("renamed-column", "renamed_column.csv", lambda: _rename_column("numPresentIdpInd", "numPresentIDPs"),
         ("column-unexpected", "column-missing"), row=1, column="numPresentIDPs"),
    Case("duplicate-column", "duplicate_column.csv", _duplicate_column, ("column-duplicate",), row=1,
         column="numberMales"),
    Case("unexpected-column", "extra_column.csv", _extra_column, ("column-unexpected",), row=1, column="comment"),
    Case("header-row-missing", "headerless.csv", _headerless, ("column-missing", "column-unexpected"), row=1,
         column="operation"),
    Case("hxl-row-missing", "no_hxl.csv", _no_hxl, ("hxl-row-missing",), row=2),
    Case("hxl-tag-mismatch", "hxl_mismatch.csv", _hxl_mismatch, ("hxl-row-mismatch",), row=2,
         column="numPresentIdpInd"),
    Case("hxl-row-malformed", "hxl_malformed.csv", _hxl_malformed, ("hxl-row-mismatch",), row=2,
         column="admin1Pcode"),
    # --- places
    Case("pcode-unknown", "pcode_unknown.csv", lambda: _with(6, "admin1Pcode", "NG099"), ("pcode-unknown",),
         row=6, column="admin1Pcode"),
    Case("country-unknown", "country_unknown.csv", lambda: _with(3, "admin0Pcode", "XKX"), ("pcode-unknown",),
         row=3, column="admin0Pcode"),
    Case("origin-pcode-unknown", "origin_unknown.csv", lambda: _with(7, "idpOriginAdmin1Pcode", "NG999"),
         ("pcode-unknown",), row=7, column="idpOriginAdmin1Pcode"),
    Case("pcode-wrong-level", "pcode_level.csv", lambda: _with(6, "admin1Pcode", "NG008001"), ("pcode-wrong-level",),
         row=6, column="admin1Pcode"),
    Case("pcode-parent-mismatch", "pcode_parent.csv", lambda: _with(7, "admin2Pcode", "NG002005"),
         ("pcode-parent-mismatch",), row=7, column="admin2Pcode"),
    Case("pcode-parent-lower-case", "pcode_parent_lower.csv", lambda: _with(7, "admin1Pcode", "ng002"),
         ("pcode-parent-mismatch",), row=7, column="admin2Pcode",
         note="a parent written in lower case is still the parent the row is checked against"),
    Case("admin2-code-missing", "admin2_code_missing.csv", lambda: _with(7, "admin2Pcode", ""), ("required",), row=7,
         column="admin2Pcode", note="an admin 2 row (adminLevel 2) without its admin 2 code has no place to be on"),
    Case("admin1-code-missing", "admin1_code_missing.csv", lambda: _with(6, "admin1Pcode", ""), ("required",), row=6,
         column="admin1Pcode"),
    # --- values
    Case("text-in-count", "count_12a.csv", lambda: _with(5, "numPresentIdpInd", "12a"), ("type-integer",), row=5,
         column="numPresentIdpInd"),
    Case("words-in-count", "count_about.csv", lambda: _with(6, "numPresentIdpInd", "about 300"), ("type-integer",),
         row=6, column="numPresentIdpInd"),
    Case("thousands-separator", "count_thousands.csv", lambda: _with(6, "numPresentIdpInd", "5,000"),
         ("type-integer",), row=6, column="numPresentIdpInd"),
    Case("count-overflow", "count_overflow.csv", lambda: _with(6, "numPresentIdpInd", "99999999999999999999"),
         ("type-integer",), row=6, column="numPresentIdpInd"),
    Case("decimal-in-count", "count_decimal.csv", lambda: _with(5, "numberMales", "100.5"), ("type-integer",), row=5,
         column="numberMales"),
    Case("negative-count", "negative.csv", lambda: _with(7, "numPresentIdpInd", "-40"), ("negative-count",), row=7,
         column="numPresentIdpInd"),
    Case("sex-exceeds-total", "sex_total.csv", lambda: _with(6, "numberFemales", "2700"), ("sex-exceeds-total",),
         row=6, column="numberFemales"),
    Case("future-date", "future.csv", lambda: _with(8, "reportingDate", "2099-06-30T00:00:00"), ("future-date",),
         row=8, column="reportingDate"),
    Case("invalid-date", "bad_date.csv", lambda: _with(4, "reportingDate", "2023-02-30T00:00:00"), ("type-date",),
         row=4, column="reportingDate"),
    Case("date-not-iso", "date_dmy.csv", lambda: _with(4, "reportingDate", "31/05/2023"), ("type-date",),
         row=4, column="reportingDate"),
    Case("required-empty", "required.csv", lambda: _with(5, "operation", ""), ("required",), row=5,
         column="operation"),
    Case("constraint-month", "month_13.csv", lambda: _with(6, "monthReportingDate", "13"), ("constraint",), row=6,
         column="monthReportingDate"),
    Case("country-code-lowercase", "country_lower.csv", lambda: _with(4, "admin0Pcode", "tcd"), ("constraint",),
         row=4, column="admin0Pcode"),
    Case("not-relevant", "not_relevant.csv", lambda: _with(3, "admin1Pcode", "TCD07"), ("not-relevant",), row=3,
         column="admin1Pcode"),
    Case("assessment-type-unknown", "assessment.csv", lambda: _with(8, "assessmentType", "Household survey"),
         ("choice-unknown",), row=8, column="assessmentType"),
    # --- keys
    Case("duplicate-key-in-file", "dup_rows.csv", _duplicate_rows, ("duplicate-key",), row=9),
    Case("duplicate-key-in-store", "dup_store.csv", _duplicate_store, ("duplicate-key-store",), row=9),
    # --- DTM API v3 JSON
    Case("json-truncated", "truncated.json", _json_truncated, ("json-malformed",)),
    Case("json-api-unsuccessful", "unsuccessful.json", _json_unsuccessful, ("dtm.api-unsuccessful",)),
    Case("json-count-mismatch", "paged.json", _json_count_mismatch, ("dtm.api-count-mismatch",)),
    Case("json-result-not-objects", "arrays.json", _json_not_objects, ("json-malformed",)),
    Case("json-result-not-a-list", "string_result.json", _json_result_not_list, ("json-malformed",)),
    Case("json-not-an-envelope", "no_envelope.json", _json_not_envelope, ("json-malformed",)),
    Case("json-empty-result", "empty_result.json", _json_empty_result, ("file-empty",)),
    Case("json-unknown-field", "unknown_field.json", _json_unknown_field, ("column-unexpected",),
         column="numPresentIdpHh"),
    Case("json-missing-field", "missing_field.json", _json_missing_field, ("column-missing",), column="roundNumber"),
    Case("json-nested-value", "nested.json", _json_nested_value, ("json-malformed",), row=2, column="admin1Name"),
    Case("json-latin1", "latin1.json", _json_latin1, ("encoding",)),
    Case("json-deeply-nested", "deep.json", _json_deep, ("json-malformed",)),
    Case("json-deeply-nested-result", "deep_result.json", lambda: _json_deep(envelope=True), ("json-malformed",)),
    Case("json-text-in-count", "json_count.json", _json_bad_count, ("type-integer",), row=3,
         column="numPresentIdpInd"),
    Case("json-future-date", "json_future.json", _json_future, ("future-date",), row=5, column="reportingDate"),
]


def write_corpus(folder: Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [c.write(folder) for c in CASES]
    (folder / "valid_base.csv").write_bytes(base_csv())
    (folder / "valid_earlier.csv").write_bytes(earlier_csv())
    manifest = [{"id": c.id, "file": c.filename, "codes": list(c.codes), "row": c.row, "column": c.column,
                 "max_bytes": c.max_bytes} for c in CASES]
    (folder / "expected.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/bad_files/make.py OUT_DIR")
    written = write_corpus(Path(sys.argv[1]))
    print(f"wrote {len(written)} bad files and expected.json to {sys.argv[1]}")
