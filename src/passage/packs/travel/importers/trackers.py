"""What the travel trackers' importers (oxcgrt, cobap, acaps) share: country codes, file kinds, staging.

Trackers code countries with ISO 3166 alpha-3 and a few codes of their own (COBAP XKX, SOL, EUR; OxCGRT
RKS). Such codes are kept, with a warning, rather than rejected: the tracker's data is about them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pycountry

from passage.checks import Context, flag
from passage.findings import WARNING, Finding, Report
from passage.ingest import csvfile
from passage.ingest.files import SourceFile

ISO3 = frozenset(c.alpha_3 for c in pycountry.countries)
# Cell texts trackers write for "no value".
MISSING = ("", "na", "n/a", "nan", "none", ".", "-")


def file_kind(path: Path) -> str:
    """`xlsx`, `xls`, `empty` or `text`, from the first bytes (never from the file name)."""
    head = path.open("rb").read(8)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        return "empty" if path.stat().st_size < 64 else "text"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "text"


def csv_head(path: Path, name: str, report: Report, what: str) -> list[str] | None:
    """The header of a CSV tracker file (BOM and surrounding spaces removed), or None with a finding."""
    kind = file_kind(path)
    if kind in ("xlsx", "xls"):
        report.add(Finding("file-unreadable", f"this is an Excel workbook, not the {what} CSV: export it as CSV",
                           file=name))
        return None
    head = csvfile.read_head(path, report, lines=2)
    if head is None:
        return None
    if not head or not head[0] or all(not h.strip() for h in head[0]):
        report.add(Finding("file-empty", "the file has no header row", file=name, row=1))
        return None
    if len(head) < 2:
        report.add(Finding("file-empty", "the file has a header but no data rows", file=name, row=2))
        return None
    return [h.strip() for h in head[0]]


def find_columns(header: list[str], wanted: list[str]) -> dict[str, int]:
    """Positions of the wanted columns, matched by name case-insensitively (column order does not matter)."""
    pos: dict[str, int] = {}
    for i, h in enumerate(header):
        key = h.strip().casefold()
        for w in wanted:
            if w.casefold() == key and w not in pos:
                pos[w] = i
    return pos


def missing_columns(pos: dict[str, int], required: list[str], report: Report, name: str, what: str) -> bool:
    for col in required:
        if col not in pos:
            report.add(Finding("column-missing", f"column {col!r} of the {what} layout is missing", file=name,
                               row=1, column=col))
    return any(col not in pos for col in required)


def raw_csv_view(eng: duckdb.DuckDBPyConnection, path: Path, view: str, ncols: int, picks: dict[str, int],
                 skip: int = 1) -> None:
    """A view over a CSV's data lines with only the picked columns (alias -> position), all text.

    Columns are read by position: headers may repeat or be blank in the columns that are not picked.
    """
    named = ", ".join(f'c{i} AS "{alias}"' for alias, i in picks.items())
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    eng.execute("SET preserve_insertion_order = true")  # csvfile.number_rows relies on it
    eng.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT NULL::BIGINT AS _row, {named} "
        f"FROM read_csv({csvfile.sql_str(str(path))}, auto_detect=false, header=false, skip={skip}, "
        f"columns={cols}, delim=',', quote='\"', escape='\"', strict_mode=true, "
        f"max_line_size={csvfile.MAX_LINE_BYTES})")


def read_picked(eng: duckdb.DuckDBPyConnection, f: SourceFile, table: str, ncols: int, picks: dict[str, int],
                report: Report) -> int:
    """Stage a CSV's picked columns into `table`, each row numbered with its line; 0 (with a finding) when the
    file cannot be read or has no data rows."""
    counted = csvfile.count_records(f, report)
    if not report.ok:
        return 0
    view = f"{table}_view"
    raw_csv_view(eng, f.path, view, ncols, picks)
    try:
        n = csvfile.materialise(eng, view, table, "src.*", report, f.name, append=False)
    finally:
        eng.execute(f"DROP VIEW IF EXISTS {view}")
    csvfile.check_row_count(f, counted, n, skip=1, columns=ncols, report=report)
    if not report.ok:
        return 0
    if n == 0:
        report.add(Finding("file-empty", "the file has a header but no data rows", file=f.name, row=2))
        return 0
    csvfile.number_rows(eng, table, 0, skip=1, blank_lines=f.blank_lines, columns=ncols)
    return n


def stage_rows(eng: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list[Any]]) -> int:
    """Create the staging table from column lists (`_row` integers, everything else text)."""
    data = {c: pa.array(v, pa.int64() if c == "_row" else pa.string()) for c, v in columns.items()}
    arrow = pa.table(data)
    name = f"{table}_arrow"
    eng.register(name, arrow)
    try:
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {name}")
    finally:
        eng.unregister(name)
    return arrow.num_rows


def warn_nonstandard(eng: duckdb.DuckDBPyConnection, table: str, report: Report, column: str) -> None:
    """One warning per country code that is not ISO 3166 alpha-3, with its row count, at its first row;
    the rows carry `travel.country-code-nonstandard` in `_warnings`."""
    known = list(ISO3)
    rows = eng.execute(
        f"SELECT iso3, count(*), min(_file), arg_min(_sheet, _row), min(_row) FROM {table} "
        "WHERE iso3 IS NOT NULL AND NOT list_contains(?, iso3) GROUP BY iso3 ORDER BY iso3", [known]).fetchall()
    for code, n, file, sheet, row in rows:
        report.add(Finding("travel.country-code-nonstandard", f"{code} is not an ISO 3166 alpha-3 code: kept as the "
                           f"provider gives it ({n} rows)", severity=WARNING, file=file, sheet=sheet, row=row,
                           column=column, value=code))
    if rows:
        add_warning(eng, table, "iso3 IS NOT NULL AND NOT list_contains(?, iso3)", "travel.country-code-nonstandard",
                    [known])


def add_warning(eng: duckdb.DuckDBPyConnection, table: str, where: str, text: str,
                params: list[Any] | None = None) -> None:
    """Append `text` to the `_warnings` of the staged rows matching `where` (kept with the records)."""
    eng.execute(f"UPDATE {table} SET _warnings = concat_ws('|', _warnings, ?) WHERE {where}",
                [text, *(params or [])])


def flag_rows(eng: duckdb.DuckDBPyConnection, table: str, report: Report, code: str, where: str, message: str,
              column: str | None = None, value: str | None = None, severity: str = "error") -> int:
    """Report the staged rows matching `where` (located, the first few hundred, exact count)."""
    ctx = Context(eng, table, None, {}, report)  # type: ignore[arg-type]
    return flag(ctx, code, where, message, column=column, value=value, severity=severity)
