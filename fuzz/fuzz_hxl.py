"""Fuzz the HXL path: records' values, whatever they hold, written as an HXL CSV and read back by libhxl
against the schema the export declares (`passage.publish.hxl.validate`, what `passage export --format hxl
--validate` runs). Record values are the officers' own text, so any cell may hold quotes, line breaks, a
leading `#`, or nothing.

The input is read as CSV rows of cells (the DTM HDX CSV layout: header and HXL row, then data), padded or cut
to the DTM export's columns. Handled: `validate` returns its list of problems. A crash: any exception.

    .venv/bin/python fuzz/fuzz_hxl.py -max_total_time=60 /tmp/corpus-hxl

Seeds: the bad-file corpus's CSV cases (their data rows become the records).
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h

with h.atheris.instrument_imports(include=["passage"]):
    from passage.publish.hxl import validate
    from passage.publish.tables import PublishedTable

import pyarrow as pa

_layout: list[list[str]] = []
_schema: list[dict[str, str]] = []


def seeds() -> dict[str, bytes]:
    return {"base.csv": h.bad_files().base_csv()} | h.seeds_from_corpus(".csv")


def setup() -> None:
    from passage.plugins import load_pack

    pack = load_pack("dtm")
    _layout[:] = pack.layouts["hdx_csv"]
    _schema[:] = pack.spec["exports"]["dtm_idps"]["hxl_schema"]


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))[2:]  # after the header and the HXL row
    except csv.Error:
        return  # not rows of cells (a NUL, a field over csv's limit): nothing to publish
    cols = [col for col, _, _ in _layout]
    values = {c: [(r[i] if i < len(r) else None) or None for r in rows] for i, c in enumerate(cols)}
    table = PublishedTable("dtm_idps", "IDPs", pa.table({c: pa.array(v, pa.string()) for c, v in values.items()}),
                           hxl={col: tag for col, _, tag in _layout if tag}, hxl_schema=_schema)
    problems = validate(table)
    assert isinstance(problems, list)


if __name__ == "__main__":
    h.run(seeds, one_input, setup)
