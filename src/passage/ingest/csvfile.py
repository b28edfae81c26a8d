"""Reading delimited files into a DuckDB staging table, every cell as text.

Everything stays VARCHAR here so that a bad cell becomes a located finding rather
than a failed cast; DuckDB's own CSV reader does the parsing (it is the fastest
thing on this machine), and its errors are turned into findings with line numbers.

DuckDB is not trusted to read every row: a file's records are counted without it while the file is
hashed (`csvscan`), a record over `MAX_LINE_BYTES` is reported before DuckDB reads the file
(`count_records`), and the rows staged must equal the rows counted (`check_row_count`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import duckdb

from passage.findings import Finding, Report
from passage.ingest.csvscan import MAX_RECORD_BYTES, Records, records
from passage.ingest.files import SourceFile

HEAD_BYTES = 1 << 16
MAX_LINE_BYTES = MAX_RECORD_BYTES  # 1 MiB: a cell this large is an accident, not data
_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")


def read_head(path: Path, report: Report, lines: int = 2) -> list[list[str]] | None:
    """The first lines of a CSV, parsed; None (with a finding) when the file cannot be a CSV."""
    name = path.name
    raw = path.open("rb").read(HEAD_BYTES)
    if not raw.strip(codecs.BOM_UTF8 + b" \r\n\t"):
        report.add(Finding("file-empty", "the file is empty", file=name))
        return None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.add(Finding("encoding", "the file is UTF-16; save it as UTF-8", file=name, row=1))
        return None
    if not _utf8_ok(raw, report, name):
        return None
    text = raw.decode("utf-8", errors="ignore").lstrip("\ufeff")
    rows = []
    for row in csv.reader(io.StringIO(text, newline="")):
        rows.append(row)
        if len(rows) == lines:
            break
    return rows


def _utf8_ok(raw: bytes, report: Report, name: str) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 4 and len(raw) == HEAD_BYTES:
            return True  # a character cut by the read window
        line = raw[: exc.start].count(b"\n") + 1
        report.add(Finding("encoding", f"byte {exc.start} is not valid UTF-8 (try saving the file as UTF-8)",
                           file=name, row=line))
        return False


def check_header(header: list[str], expected: list[str], required: list[str], report: Report, name: str) -> None:
    if len(header) == 1 and len(expected) > 1:
        for sep in (";", "\t", "|"):
            if sep in header[0]:
                report.add(Finding("csv-malformed", f"the delimiter seems to be {sep!r}: save the file as "
                                   "comma-separated CSV", file=name, row=1))
                return
    seen = set()
    for i, col in enumerate(header):
        if col in seen:
            report.add(Finding("column-duplicate", f"column {col!r} appears twice", file=name, row=1, column=col))
        seen.add(col)
        if col not in expected:
            report.add(Finding("column-unexpected", f"column {i + 1} {col!r} is not one of the known columns",
                               file=name, row=1, column=col))
    for col in required:
        if col not in seen:
            report.add(Finding("column-missing", f"column {col!r} is missing", file=name, row=1, column=col))


def check_hxl_row(header: list[str], tags: list[str], expected: dict[str, str], report: Report, name: str) -> bool:
    """Row 2 must be the HXL hashtag row and agree with the header; returns whether it is present."""
    if not tags or not any(t.strip().startswith("#") for t in tags):
        report.add(Finding("hxl-row-missing", "row 2 should hold the HXL hashtags", file=name, row=2))
        return False
    for col, tag in zip(header, tags + [""] * (len(header) - len(tags))):
        want = expected.get(col)
        if want is not None and _hxl_norm(tag) != _hxl_norm(want):
            report.add(Finding("hxl-row-mismatch", f"column {col!r} should be tagged {want}", file=name, row=2,
                               column=col, value=tag))
    return True


def _hxl_norm(tag: str) -> tuple:
    """HXL attributes are unordered and case-insensitive."""
    parts = tag.strip().lower().replace(" ", "").split("+")
    return (parts[0], frozenset(parts[1:]))


def count_records(f: SourceFile, report: Report, delimiter: str = ",") -> Records | None:
    """Before DuckDB reads a CSV: its records, counted without the parser (for `check_row_count`). The
    first record longer than MAX_LINE_BYTES is reported here as `cell-too-long` at its line: DuckDB's
    parallel reader fails on such a line, and drops it without a word when it is the last."""
    counted = records(f.path, f.shape, delimiter)
    if counted is not None and counted.long is not None:
        line, size = counted.long
        report.add(Finding("cell-too-long", f"line {line} is {size} bytes long, over the limit of {MAX_LINE_BYTES} "
                           "bytes (a cell this large is an accident, not data)", file=f.name, row=line))
    return counted


def check_row_count(f: SourceFile, counted: Records | None, staged: int, skip: int, columns: int,
                    report: Report) -> None:
    """The rows staged from a file must be the data rows it holds: any difference rejects the file."""
    if counted is None or not report.ok:
        return
    expected = counted.data_rows(skip, columns)
    if staged != expected:
        report.add(Finding("row-count-mismatch", f"the file holds {expected} data rows but {staged} were read: "
                           "rejected rather than lose rows", file=f.name, value=str(expected)))


def raw_view(eng: duckdb.DuckDBPyConnection, path: Path, view: str, header: list[str], skip: int) -> None:
    """A view over a CSV's data lines: `_row` (filled by `number_rows` once staged), `_file`, then the
    columns by their header names."""
    named = ", ".join(f'c{i} AS "{_ident(c)}"' for i, c in enumerate(header))
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
    eng.execute("SET preserve_insertion_order = true")  # number_rows relies on it
    eng.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT NULL::BIGINT AS _row, "
        f"{sql_str(path.name)} AS _file, {named} FROM read_csv({sql_str(str(path))}, auto_detect=false, "
        f"header=false, skip={skip}, columns={cols}, delim=',', quote='\"', escape='\"', strict_mode=true, "
        f"max_line_size={MAX_LINE_BYTES})"
    )


def number_rows(eng: duckdb.DuckDBPyConnection, table: str, first: int, skip: int, blank_lines: tuple[int, ...],
                columns: int) -> None:
    """Give each row staged from one file (rowids from `first` on) its line in that file.

    The staging table keeps the file's order (insertion order is preserved), so a row's line follows from
    its rowid: much cheaper than a window function, which would serialise DuckDB's parallel CSV read.
    The reader skips blank lines (in files of more than one column); each shifts the lines below it.
    """
    k = f"(rowid - {first} + {skip} + 1)"
    shifts = [b - j for j, b in enumerate(sorted(b for b in blank_lines if b > skip), start=1)]
    line = f"{k} + len(list_filter({shifts}, lambda d: d < {k}))" if shifts and columns > 1 else k
    eng.execute(f"UPDATE {table} SET _row = {line} WHERE rowid >= {first}")


def materialise(eng: duckdb.DuckDBPyConnection, view: str, table: str, select: str, report: Report,
                name: str, append: bool) -> int:
    """Create (or append to) the staging table from a raw view; parse errors become findings."""
    sql = f"SELECT {select} FROM {view} AS src"
    try:
        if append:
            before = eng.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            eng.execute(f"INSERT INTO {table} {sql}")
            return eng.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
        return eng.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.NotImplementedException) as exc:
        report.add(csv_error_finding(str(exc), name))  # NotImplemented: the parallel reader gave up on a line
        return 0


def sql_str(s: str) -> str:
    """A SQL string literal (for DDL where parameters are not allowed)."""
    return "'" + s.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return name.replace('"', '""')


def csv_error_finding(message: str, name: str) -> Finding:
    """Translate a DuckDB CSV error into a finding, without copying the offending line."""
    m = _LINE_RE.search(message)
    row = int(m.group(1)) if m else None
    if "unicode" in message.lower() or "utf-8" in message.lower():
        return Finding("encoding", "a line is not valid UTF-8 (save the file as UTF-8)", file=name, row=row)
    if "Maximum line size" in message or "max_line_size" in message:
        return Finding("cell-too-long", f"a line is longer than {MAX_LINE_BYTES} bytes", file=name, row=row)
    if "Expected Number of Columns" in message:
        detail = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
        text = f"expected {detail.group(1)} fields, found {detail.group(2)}" if detail else "wrong number of fields"
        return Finding("csv-malformed", text, file=name, row=row)
    if "unterminated quote" in message:
        return Finding("csv-malformed", "a quoted value is never closed (truncated file?)", file=name, row=row)
    first = message.split("\n", 1)[0][:200]
    return Finding("csv-malformed", first, file=name, row=row)
