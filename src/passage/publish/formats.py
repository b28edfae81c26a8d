"""Writers: UTF-8, header row, ISO dates, no index column."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

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


def write_csv(data: pa.Table, out: IO[str], hxl: dict[str, str] | None = None,
              progress: Callable[[int], None] | None = None) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(data.column_names)
    if hxl is not None:
        w.writerow([hxl.get(c, "") for c in data.column_names])
    for row in _rows(data, progress):
        w.writerow([_text(v) for v in row])


def write(table: Any, fmt: str, path: Path | None, out: IO[str] | None = None,
          progress: Callable[[int], None] | None = None) -> None:
    """Write a PublishedTable to `path` (or a text stream for csv, hxl and json); `progress` gets row counts."""
    data: pa.Table = table.data
    if fmt in ("csv", "hxl", "json"):
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                write(table, fmt, None, fh, progress)
            return
        assert out is not None
        if fmt == "json":
            names = data.column_names
            out.write("[\n")
            for i, row in enumerate(_rows(data, progress)):
                out.write(("," if i else "") + json.dumps(dict(zip(names, row)), ensure_ascii=False) + "\n")
            out.write("]\n")
        else:
            write_csv(data, out, table.hxl if fmt == "hxl" else None, progress)
        return
    if path is None:
        raise ValueError(f"{fmt} needs an output file (-o FILE)")
    if fmt == "parquet":
        pq.write_table(data, path)
        if progress:
            progress(data.num_rows)
    elif fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(table.name[:31])
        ws.append(data.column_names)
        for row in _rows(data, progress):
            ws.append(row)
        wb.save(path)
    else:
        raise ValueError(f"unknown format {fmt!r}")
