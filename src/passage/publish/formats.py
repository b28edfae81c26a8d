"""Writers: UTF-8, header row, ISO dates (XLSX: date cells), no index column.

Nothing written here opens as a live formula. XLSX cells holding text are always typed as text (a value
starting with `=` stays the text it was). CSV and HXL CSV meant for spreadsheets (every portal and API
download; `passage export --neutralise-formulas`) follow OWASP's rule against CSV injection: a text cell
starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, and a cell holding a
separator (`,` `;` tab), a quote or a line break is quoted. Only text is touched: numbers, negative ones
included, are written as they are; a number held as text (`"-5"` in a text column) is text and is prefixed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from passage.errors import UsageError

FORMATS = ("csv", "xlsx", "parquet", "json", "hxl")


def _cell(v: Any) -> Any:
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _rows(data: pa.Table, progress: Callable[[int], None] | None = None) -> Iterator[list[Any]]:
    for batch in data.to_batches(max_chunksize=65536):
        cols = [c.to_pylist() for c in batch.columns]
        for row in zip(*cols):
            yield [_cell(v) for v in row]
        if progress:
            progress(batch.num_rows)


def _text(v: Any) -> str:
    return "" if v is None else str(v)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = frozenset(',;"\t\r\n')


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, made inert with a leading `'` (OWASP: CSV injection).

        neutralise("=HYPERLINK(\"http://x\")")   # "'=HYPERLINK(\"http://x\")"
        neutralise("-5"), neutralise(-5)          # ("'-5", -5): only text is touched

    Numbers, dates and None come back unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SafeCsvWriter:
    """`csv.writer`'s `writerow` for files meant for spreadsheets: each text cell `neutralise`d, and quoted
    when it holds a separator (`,`, or `;` and tab, which spreadsheets in some locales split on), a quote or
    a line break, so no part of a cell can start a new one."""

    def __init__(self, out: IO[str]):
        self.out = out

    @staticmethod
    def field(value: Any) -> str:
        text = _text(neutralise(value))
        if _QUOTED.intersection(text):
            return '"' + text.replace('"', '""') + '"'
        return text

    def writerow(self, row: list[Any]) -> None:
        line = ",".join(self.field(v) for v in row)
        self.out.write((line or ('""' if len(row) == 1 else "")) + "\n")

    def writerows(self, rows: Any) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: IO[str], neutralise_formulas: bool = False) -> Any:
    """A CSV writer (`writerow`): the plain `csv` module's, or a `SafeCsvWriter` for spreadsheets."""
    return SafeCsvWriter(out) if neutralise_formulas else csv.writer(out, lineterminator="\n")


def write_csv(data: pa.Table, out: IO[str], hxl: dict[str, str] | None = None,
              progress: Callable[[int], None] | None = None, *, neutralise_formulas: bool = False) -> None:
    w = csv_writer(out, neutralise_formulas)
    w.writerow(data.column_names)
    if hxl is not None:
        w.writerow([hxl.get(c, "") for c in data.column_names])
    for row in _rows(data, progress):
        w.writerow(row if neutralise_formulas else [_text(v) for v in row])


BOM = "\ufeff"


def write(table: Any, fmt: str, path: Path | None, out: IO[str] | None = None,
          progress: Callable[[int], None] | None = None, *, neutralise_formulas: bool = False,
          bom: bool = False, metadata: list[list[Any]] | None = None) -> None:
    """Write a PublishedTable to `path` (or a text stream for csv, hxl and json); `progress` gets row counts.

    `neutralise_formulas` makes CSV and HXL safe to open in a spreadsheet (see the module's docstring);
    XLSX always types text as text, and JSON and Parquet carry types of their own. `bom` starts a CSV or HXL
    file with a UTF-8 byte order mark: Excel reads a CSV without one in the computer's legacy code page, so
    `Côte d'Ivoire` would open as `CÃ´te d'Ivoire`. `metadata`: rows of an XLSX's last sheet, `metadata`
    (what the file is, its licence and filters, when it was made: `passage.explore.metadata_rows`).
    """
    data: pa.Table = table.data
    if bom and fmt not in ("csv", "hxl"):
        raise UsageError(f"a byte order mark is for csv and hxl, not {fmt}", code="usage.bom")
    if fmt in ("csv", "hxl", "json"):
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                write(table, fmt, None, fh, progress, neutralise_formulas=neutralise_formulas, bom=bom)
            return
        assert out is not None
        if bom:
            out.write(BOM)
        if fmt == "json":
            names = data.column_names
            out.write("[\n")
            for i, row in enumerate(_rows(data, progress)):
                out.write(("," if i else "") + json.dumps(dict(zip(names, row)), ensure_ascii=False) + "\n")
            out.write("]\n")
        else:
            write_csv(data, out, table.hxl if fmt == "hxl" else None, progress,
                      neutralise_formulas=neutralise_formulas)
        return
    if path is None:
        raise UsageError(f"{fmt} needs an output file (-o FILE)", code="usage.output")
    if fmt == "parquet":
        pq.write_table(data, path)
        if progress:
            progress(data.num_rows)
    elif fmt == "xlsx":
        write_xlsx(data, path, table.name[:31], progress,
                   more=[(t.data, t.name[:31]) for t in getattr(table, "sheets", [])], metadata=metadata)
    else:
        raise UsageError(f"unknown format {fmt!r} (have: {', '.join(FORMATS)})", code="usage.format")


XLSX_DATE = "yyyy-mm-dd"
XLSX_DATETIME = "yyyy-mm-dd hh:mm:ss"
XLSX_MAX_CHARS = 32_767  # Excel's limit for one cell
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def write_xlsx(data: pa.Table, path: Path, sheet: str, progress: Callable[[int], None] | None = None,
               more: list[tuple[pa.Table, str]] = (), metadata: list[list[Any]] | None = None) -> None:
    """One sheet, row by row in constant memory (XlsxWriter: a 34,000-row table in a quarter of openpyxl's
    time). Each cell is written by its column's type, never guessed from its text, so a value starting with
    `=` or reading `#N/A` is the text it is. Dates and times are date cells (a serial number with a date
    format), so Excel sorts, filters and computes with them; shown ISO-style; times in UTC. `more`: further
    (table, sheet name) after it (a user form's repeats). `metadata`: rows of a last sheet named `metadata`,
    each cell text or a number (never a formula)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False,
                                         "nan_inf_to_errors": True})
    try:
        formats = {"date": wb.add_format({"num_format": XLSX_DATE}),
                   "datetime": wb.add_format({"num_format": XLSX_DATETIME})}
        for table, title in [(data, sheet), *more]:
            ws = wb.add_worksheet(title)
            for c, name in enumerate(table.column_names):
                ws.write_string(0, c, name)
            row = 1
            for batch in table.to_batches(max_chunksize=65536):
                cols = [_xlsx_column(col, formats) for col in batch.columns]
                for r in range(batch.num_rows):
                    for c, (values, write) in enumerate(cols):
                        v = values[r]
                        if v is not None:
                            write(ws, row, c, v)
                    row += 1
                if progress:
                    progress(batch.num_rows)
        if metadata is not None:
            ws = wb.add_worksheet("metadata")
            ws.set_column(0, 0, 16)
            ws.set_column(1, 2, 40)
            for r, cells in enumerate(metadata):
                for c, v in enumerate(cells):
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        ws.write_number(r, c, v)
                    elif v is not None:
                        ws.write_string(r, c, _text(v)[:XLSX_MAX_CHARS])
    finally:
        wb.close()


def _xlsx_column(col: pa.ChunkedArray | pa.Array, formats: dict[str, Any]) -> tuple[list[Any], Callable]:
    """The column's values and the writer of one of its cells."""
    t = col.type
    if pa.types.is_date(t):
        fmt = formats["date"]
        return [None if d is None else (d - _EXCEL_EPOCH.date()).days for d in col.to_pylist()], \
            lambda ws, r, c, v: ws.write_number(r, c, v, fmt)
    if pa.types.is_timestamp(t):
        fmt = formats["datetime"]

        def serial(v: dt.datetime) -> float:
            v = v.astimezone(dt.UTC).replace(tzinfo=None) if v.tzinfo else v
            return (v - _EXCEL_EPOCH) / dt.timedelta(days=1)
        return [None if v is None else serial(v) for v in col.to_pylist()], \
            lambda ws, r, c, v: ws.write_number(r, c, v, fmt)
    if pa.types.is_boolean(t):
        return col.to_pylist(), lambda ws, r, c, v: ws.write_boolean(r, c, v)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return [_cell(v) for v in col.to_pylist()], lambda ws, r, c, v: ws.write_number(r, c, v)
    return [None if v is None else _text(_cell(v))[:XLSX_MAX_CHARS] for v in col.to_pylist()], \
        lambda ws, r, c, v: ws.write_string(r, c, v)
