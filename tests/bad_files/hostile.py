"""Hostile files too large to keep: written on demand, cheaply, by the tests that need them.

- `xlsx_bomb(path)`: a ~1 MB .xlsx whose one sheet expands to 1 GiB of XML (a single cell of "x"s).
  The deflate stream is built from three independently compressed pieces (the sheet's head, one MiB of
  "x", its tail), each ended with a full flush so that they can be concatenated: the middle piece is
  repeated 1024 times. The archive is a genuine workbook (openpyxl would open it and read the cell),
  with true CRC-32 and sizes in its directory.
- `huge_cell_file(...)`: a CSV with one cell of many MiB, in the line asked for.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MIB = 1 << 20

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>start</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>'
)
SHEET_TAIL = "</t></is></c></row></sheetData></worksheet>"


def _deflate(data: bytes, last: bool) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)


def _part(name: str, data: bytes) -> tuple[str, bytes, int, int]:
    return name, _deflate(data, True), zlib.crc32(data), len(data)


def _bomb_sheet(mib: int) -> tuple[str, bytes, int, int]:
    head, chunk, tail = SHEET_HEAD.encode(), b"x" * MIB, SHEET_TAIL.encode()
    body = _deflate(head, False) + _deflate(chunk, False) * mib + _deflate(tail, True)
    crc = zlib.crc32(head)
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    return "xl/worksheets/sheet1.xml", body, crc, len(head) + mib * MIB + len(tail)


def write_zip(path: Path, parts: list[tuple[str, bytes, int, int]]) -> Path:
    """A zip archive of already deflated parts: (name, deflated bytes, crc32, uncompressed size)."""
    local, central = bytearray(), bytearray()
    for name, body, crc, size in parts:
        raw = name.encode()
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x5021, crc, len(body), size, len(raw), 0)
        local += raw + body
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x5021, crc, len(body), size,
                               len(raw), 0, 0, 0, 0, 0, offset)
        central += raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(central), len(local), 0)
    Path(path).write_bytes(bytes(local + central + end))
    return Path(path)


def xlsx_bomb(path: Path, mib: int = 1024, sheet: str = "Sheet1") -> Path:
    """A workbook of about `mib` KiB whose first sheet expands to `mib` MiB."""
    return write_zip(path, [
        _part("[Content_Types].xml", CONTENT_TYPES.encode()),
        _part("_rels/.rels", ROOT_RELS.encode()),
        _part("xl/workbook.xml", WORKBOOK.format(sheet=sheet).encode()),
        _part("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.encode()),
        _bomb_sheet(mib),
    ])


def huge_cell_file(path: Path, lines: list[bytes], line: int, marker: bytes, cell_bytes: int = 50 * MIB) -> Path:
    """`lines` written as they are, but for `marker` in lines[line] (0-based), replaced by a cell of
    `cell_bytes` "x"s. Written in pieces: the huge cell is never one Python object."""
    with Path(path).open("wb") as fh:
        for i, text in enumerate(lines):
            if i != line:
                fh.write(text)
                continue
            head, tail = text.split(marker, 1)
            fh.write(head)
            chunk = b"x" * MIB
            fh.writelines(chunk for _ in range(cell_bytes // MIB))
            fh.write(b"x" * (cell_bytes % MIB))
            fh.write(tail)
    return Path(path)
