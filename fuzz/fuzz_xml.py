"""Fuzz the XML readers inside workbooks: one XML part of a valid workbook replaced by the input.

The first byte picks the workbook (high bit clear: KoboToolbox's XLSX export, read by `xlsform-data`'s
parse-and-stage step; set: the household survey XLSForm, compiled by `compile_xlsform` through pyxform) and
which of its XML parts (sheets, workbook, relationships, content types, styles) the rest of the input
replaces. The same bytes also go to the document reader (`documents.extract`) as an `.svg` upload, whose
XML sniffing decides what an upload is.

    .venv/bin/python fuzz/fuzz_xml.py -max_total_time=60 /tmp/corpus-xml

Seeds: every XML part of both fixture workbooks, unchanged.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h

KOBO = h.TESTS / "fixtures" / "xlsform"
FORM_BIT = 0x80
PARTS = ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
         "[Content_Types].xml", "xl/styles.xml", "_rels/.rels", "xl/worksheets/sheet3.xml")
_books: dict[bool, dict[str, bytes]] = {}


def book(form: bool) -> dict[str, bytes]:
    if form not in _books:
        with zipfile.ZipFile(KOBO / ("household_survey.xlsx" if form else "export.xlsx")) as z:
            _books[form] = {n: z.read(n) for n in z.namelist()}
    return _books[form]


def parts(form: bool) -> list[str]:
    return [p for p in PARTS if p in book(form)]


def seeds() -> dict[str, bytes]:
    out = {}
    for form in (False, True):
        for i, part in enumerate(parts(form)):
            out[f"{'form' if form else 'export'}-{part.replace('/', '_')}"] = \
                bytes([(FORM_BIT if form else 0) | i]) + book(form)[part]
    return out


def setup() -> None:
    h.store(xlsforms=(KOBO / "household_survey.xlsx",))


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    form = bool(data[0] & FORM_BIT)
    names = parts(form)
    part = names[(data[0] & ~FORM_BIT) % len(names)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in book(form).items():
            z.writestr(name, data[1:] if name == part else content)
    path = h.write_input(buf.getvalue(), "fuzz.xlsx")
    if form:
        compile_form(path)
    else:
        h.stage("xlsform-data", path, form_id="household_survey")
    extract_document(h.write_input(data[1:], "fuzz.svg"))


def compile_form(path: Path) -> None:
    from passage.findings import Report
    from passage.forms import compile_xlsform

    report = Report()
    try:
        compile_xlsform(path, report=report)
    except h.HANDLED as exc:
        if getattr(exc, "report", None) is not None:
            h.check_report(exc.report, path.name)
    h.check_report(report, path.name)


def extract_document(path: Path) -> None:
    from passage.documents.extract import extract
    from passage.findings import Report

    _, findings = extract(path, max_bytes=1 << 20)
    report = Report()
    for f in findings:
        report.add(f)
    h.check_report(report, path.name)


if __name__ == "__main__":
    h.run(seeds, one_input, setup)
