"""The provider's CSV: semicolon-separated, its own column names (the pack's `fmp_csv` layout)."""

from __future__ import annotations

import csv
from typing import Any

from passage.findings import Finding, Report
from passage.ingest.files import SourceFile
from passage.ingest.importer import Importer
from passage.plugins import load_pack


class FlowCountImporter(Importer):
    kind = "fmp-csv"
    form_id = "fmp_count"
    pack = "flowcount"
    description = "Flow monitoring point counts: the provider's semicolon CSV (point;iso3;day;dir;total;children)"
    examples = ("passage import fmp-csv counts_2026-11.csv",)

    def stage(self, eng: Any, files: list[SourceFile], table: str, report: Report) -> int:
        layout = load_pack(self.pack).layouts["fmp_csv"]
        fields = [fld for _, fld, _ in layout]
        rows = []
        for f in files:
            with f.path.open(encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh, delimiter=";")
                header = next(reader, [])
                missing = [col for col, _, _ in layout if col not in header]
                for col in missing:
                    report.add(Finding("column-missing", f"the column {col!r} is missing", file=f.name, row=1,
                                       column=col))
                if missing:
                    continue
                at = [header.index(col) for col, _, _ in layout]
                for n, line in enumerate(reader, start=2):
                    rows.append([*(line[i].strip() if i < len(line) else "" for i in at), f.name, None, n])
        cols = ", ".join(f'"{c}" VARCHAR' for c in fields)
        eng.execute(f"CREATE TABLE {table} ({cols}, _file VARCHAR, _sheet VARCHAR, _row INTEGER)")
        if rows:
            eng.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in range(len(fields) + 3))})", rows)
        elif report.ok:
            report.add(Finding("file-empty", "the file holds no counts", file=files[0].name if files else None))
        return len(rows)
