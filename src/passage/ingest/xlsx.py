"""Opening .xlsx workbooks safely: the zip directory is checked before openpyxl (or pyxform) reads a byte.

    wb = open_workbook(path, report, name)        # None, with a finding, when it must not be opened
    finding = check_workbook(path, name)          # the check alone (XLSForm install uses it before pyxform)

An .xlsx is a zip archive of XML parts. A small file can expand enormously (a "zip bomb": a 1 MB
workbook holding 1 GiB of sheet XML cost 4.6 GB of memory and 22 s before openpyxl gave up), so the
sizes the zip's central directory declares are checked first: Python's zipfile (which openpyxl uses)
never inflates a part beyond its declared size (a part that lies fails its CRC check), so the
declared sizes bound what parsing can cost.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from passage.findings import Finding, Report

MAX_PARTS = 10_000  # a workbook of a few sheets holds a few dozen parts
MAX_EXPANDED_BYTES = 1 << 30  # 1 GiB of XML in all: about a million rows of twenty columns
MAX_RATIO = 100  # uncompressed / compressed; sheet XML compresses 5-20 to 1, a bomb ~1000 to 1
RATIO_FROM_BYTES = 1 << 20  # parts smaller than this once unzipped are not held to the ratio


def check_workbook(path: Path, name: str | None = None, *, max_parts: int = MAX_PARTS,
                   max_expanded: int = MAX_EXPANDED_BYTES, max_ratio: float = MAX_RATIO) -> Finding | None:
    """A `workbook-too-large` (or `file-unreadable`) finding when the workbook must not be opened, else None.

    Reads only the zip's central directory: nothing is inflated.
    """
    name = name or Path(path).name
    try:
        with zipfile.ZipFile(path) as z:
            parts = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        return Finding("file-unreadable", f"not a readable .xlsx workbook ({type(exc).__name__})", file=name)
    if len(parts) > max_parts:
        return Finding("workbook-too-large", f"the workbook holds {len(parts)} parts, over the limit of {max_parts}",
                       file=name)
    total = 0
    for p in parts:
        total += p.file_size
        if p.file_size >= RATIO_FROM_BYTES and p.file_size > max_ratio * max(p.compress_size, 1):
            return Finding("workbook-too-large",
                           f"part {p.filename[:80]} expands {p.file_size // max(p.compress_size, 1)} to 1 "
                           f"({p.compress_size} bytes to {p.file_size}), over the limit of {max_ratio:g} to 1: "
                           "refused before it is opened", file=name)
    if total > max_expanded:
        return Finding("workbook-too-large", f"the workbook expands to {total} bytes, over the limit of "
                       f"{max_expanded}: refused before it is opened", file=name)
    return None


def open_workbook(path: Path, report: Report, name: str | None = None, *, data_only: bool = True) -> Any | None:
    """openpyxl's read-only workbook, or None with a finding (`workbook-too-large`, `file-unreadable`)."""
    name = name or Path(path).name
    problem = check_workbook(path, name)
    if problem is not None:
        report.add(problem)
        return None
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types on broken workbooks
        report.add(Finding("file-unreadable", f"not a readable .xlsx workbook ({type(exc).__name__})", file=name))
        return None
