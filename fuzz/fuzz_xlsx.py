"""Fuzz the workbook and zip readers' parse-and-stage step: KoboToolbox's XLSX export and ODK Central's CSV
zip (`xlsform-data`, the household survey form), told apart by their members as the reader does.

    .venv/bin/python fuzz/fuzz_xlsx.py -max_total_time=60 /tmp/corpus-xlsx

Byte-level mutation of a zip mostly breaks its CRCs (the reader's `file-unreadable`); fuzz_xml.py mutates
the XML inside a valid workbook. Seeds: the Kobo XLSX export fixture, an ODK Central zip built from the CSV
export, the XLSForm corpus's workbooks and the bad-file corpus's xlsx-named case.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h

KOBO = h.TESTS / "fixtures" / "xlsform"
SEED_LIMIT = 64_000


def odk_zip() -> bytes:
    """An ODK Central "CSV zip": the records' CSV (commas) under the form's id."""
    buf = io.BytesIO()
    text = (KOBO / "export.csv").read_text(encoding="utf-8").replace('";"', '","')
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("household_survey.csv", text)
    return buf.getvalue()


def seeds() -> dict[str, bytes]:
    out = {"export.xlsx": (KOBO / "export.xlsx").read_bytes(), "odk.zip": odk_zip(),
           "form.xlsx": (KOBO / "household_survey.xlsx").read_bytes()}
    for p in sorted((h.TESTS / "fixtures" / "xlsform_corpus").rglob("*.xlsx")):
        if p.stat().st_size <= SEED_LIMIT:
            out[p.name] = p.read_bytes()
    return out


def setup() -> None:
    h.store(xlsforms=(KOBO / "household_survey.xlsx",))


def one_input(data: bytes) -> None:
    if not data.startswith(b"PK"):
        return  # not a zip: fuzz_csv's target
    h.stage("xlsform-data", h.write_input(data, "fuzz.xlsx"), form_id="household_survey")


if __name__ == "__main__":
    h.run(seeds, one_input, setup)
