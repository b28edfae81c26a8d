"""ACAPS COVID-19 government measures (the workbook's `Dataset` sheet) onto the `travel_measure` form.

Every row becomes a measure (`source` acaps, `source_id` = ID), travel or not: MEASURE maps to an IOM category
by the travel pack's `acaps_measure` table (then `acaps_category` for whole non-travel categories); schools,
economic measures and the like get `not_travel`; a value neither table maps keeps an empty category and is
warned (`travel.category-unmapped`, with its row count). Quirks handled here, once:

- Text is matched trimmed and case-folded ("Not available " = "Not Available"); the native text is kept,
  trimmed, in the spelling first seen in the file.
- LOG_TYPE "Introduction / extension of measures" -> action introduce, "Phase-out measure" -> phase_out
  (the `acaps_log_type` table); any other log type is rejected.
- DATE_IMPLEMENTED: an Excel date, an Excel serial number, or text DD/MM/YYYY (the workbook's Dictionary) or
  YYYY-MM-DD. A blank one is kept with a warning: such a measure is never in force.
- date_lifted of an introduced measure = the date of the next phase-out row (on or after its date in force) of
  the same country and MEASURE in the same import.
The header is found by name (ID, ISO, LOG_TYPE, MEASURE, DATE_IMPLEMENTED required) in the sheet's first rows;
columns may come in any order. Rows are the sheet's rows. The workbook is read with openpyxl in read-only mode.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from passage.findings import WARNING, Finding, Report
from passage.ingest.files import SourceFile
from passage.ingest.importer import Importer
from passage.ingest.xlsx import open_workbook
from passage.packs.travel.importers import trackers
from passage.packs.travel.importers.mappings import fold, folded, load_mappings

SHEET = "Dataset"
REQUIRED = ["ID", "ISO", "LOG_TYPE", "MEASURE", "DATE_IMPLEMENTED"]
OPTIONAL = ["COUNTRY", "REGION", "ADMIN_LEVEL_NAME", "PCODE", "CATEGORY", "TARGETED_POP_GROUP", "COMMENTS",
            "NON_COMPLIANCE", "SOURCE", "SOURCE_TYPE", "LINK", "ENTRY_DATE", "Alternative source"]
HEADER_SEARCH_ROWS = 10
FIELDS = ["source", "source_id", "iso3", "country_name", "applies_to", "category", "subcategory", "condition_group",
          "action", "date_in_force", "date_lifted", "native_category", "native_measure", "native_value",
          "source_name", "source_url", "notes"]


def _text(v: Any) -> str | None:
    """A cell as trimmed text (whole numbers without `.0`); None when empty."""
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, datetime):
        v = v.date() if v.time() == datetime.min.time() else v
    text = v.isoformat() if isinstance(v, (date, datetime)) else str(v)
    return text.strip() or None


def to_date(v: Any) -> tuple[str | None, bool]:
    """(ISO date, readable): Excel dates, serial numbers, DD/MM/YYYY and YYYY-MM-DD text."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None, True
    if isinstance(v, datetime):
        return v.date().isoformat(), True
    if isinstance(v, date):
        return v.isoformat(), True
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if 1 <= v < 2958466:  # Excel's 1900 date system, up to 9999-12-31
            return (date(1899, 12, 30) + timedelta(days=int(v))).isoformat(), True
        return None, False
    text = str(v).strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat(), True
        except ValueError:
            continue
    return None, False


class AcapsImporter(Importer):
    kind = "acaps"
    pack = "travel"
    form_id = "travel_measure"
    description = "ACAPS COVID-19 government measures workbook (.xlsx, sheet Dataset)"

    def stage(self, eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report) -> int:
        rows: list[tuple[str, int, dict[str, Any]]] = []
        for f in files:
            rows += self._read(f, report)
        if not report.ok:
            return len(rows)
        if not rows:
            report.add(Finding("file-empty", f"sheet {SHEET} holds no measures", file=files[0].name, sheet=SHEET,
                               row=2))
            return 0
        return self._stage(eng, table, rows, report)

    # ------------------------------------------------------------------ reading

    def _read(self, f: SourceFile, report: Report) -> list[tuple[str, int, dict[str, Any]]]:
        kind = trackers.file_kind(f.path)
        if kind == "empty":
            report.add(Finding("file-empty", "the file is empty", file=f.name))
            return []
        if kind != "xlsx":
            what = "a legacy .xls workbook" if kind == "xls" else "not an Excel workbook (a text or CSV file?)"
            report.add(Finding("file-unreadable", f"{what}: the ACAPS dataset is read from its .xlsx workbook",
                               file=f.name))
            return []
        wb = open_workbook(f.path, report, f.name)  # zip bombs refused before openpyxl
        if wb is None:
            return []
        try:
            sheet = next((s for s in wb.sheetnames if s.strip().casefold() == SHEET.casefold()), None)
            if sheet is None:
                report.add(Finding("sheet-missing", f"no sheet {SHEET!r} (sheets: {', '.join(wb.sheetnames)})",
                                   file=f.name, sheet=SHEET))
                return []
            return self._read_sheet(f, wb[sheet], sheet, report)
        finally:
            wb.close()

    def _read_sheet(self, f: SourceFile, ws, sheet: str, report: Report) -> list[tuple[str, int, dict[str, Any]]]:
        it = ws.iter_rows(values_only=True)
        pos: dict[str, int] = {}
        header_row = 0
        for n, values in enumerate(it, start=1):
            header = [str(v).strip() if v is not None else "" for v in values]
            found = trackers.find_columns(header, REQUIRED + OPTIONAL)
            if len(found) > len(pos):
                pos, header_row = found, n
            if all(c in found for c in REQUIRED) or n >= HEADER_SEARCH_ROWS:
                break
        if header_row == 0:
            report.add(Finding("file-empty", f"sheet {sheet} is empty", file=f.name, sheet=sheet))
            return []
        missing = [c for c in REQUIRED if c not in pos]
        for col in missing:
            report.add(Finding("column-missing", f"column {col!r} of the ACAPS dataset is missing", file=f.name,
                               sheet=sheet, row=header_row, column=col))
        if missing:
            return []
        out = []
        for n, values in enumerate(it, start=header_row + 1):
            if not any(v is not None and str(v).strip() for v in values):
                continue
            out.append((f.name, n, {c: values[i] if i < len(values) else None for c, i in pos.items()}))
        return out

    # ------------------------------------------------------------------ mapping

    def _stage(self, eng, table: str, rows, report: Report) -> int:
        by_measure, by_category = folded("acaps_measure"), folded("acaps_category")
        log_types = folded("acaps_log_type")
        spelling: dict[str, str] = {}  # folded -> the first spelling seen (trimmed)

        def native(v: Any) -> str | None:
            text = _text(v)
            if text is None:
                return None
            text = " ".join(text.split())
            return spelling.setdefault(fold(text), text)

        cols: dict[str, list] = {c: [] for c in ["_row", "_file", "_sheet", *FIELDS, "_place_code", "_warnings"]}
        unmapped: dict[str, list] = defaultdict(list)
        phase_outs: dict[tuple, list[str]] = defaultdict(list)
        for name, line, rec in rows:
            log = _text(rec["LOG_TYPE"])
            action = log_types.get(fold(log))
            if action is None:
                report.add(Finding("travel.native-value-unknown", "LOG_TYPE must be one of "
                                   + " / ".join(repr(k) for k in _log_types()), file=name, sheet=SHEET,
                                   row=line, column="LOG_TYPE", value=log))
            day, readable = to_date(rec["DATE_IMPLEMENTED"])
            if not readable:
                report.add(Finding("travel.date-invalid", "DATE_IMPLEMENTED is not a date (DD/MM/YYYY)", file=name,
                                   sheet=SHEET, row=line, column="DATE_IMPLEMENTED",
                                   value=_text(rec["DATE_IMPLEMENTED"])))
            measure, category_text = native(rec["MEASURE"]), native(rec.get("CATEGORY"))
            mapping = by_measure.get(fold(measure))
            if mapping is None:
                mapping = by_category.get(fold(category_text))
            mapping = mapping or {}
            warnings = []
            if not mapping.get("category"):
                unmapped[measure or ""].append((name, line))
                warnings.append("travel.category-unmapped")
            if day is None and readable:
                warnings.append("travel.date-in-force-missing")
            iso3 = (_text(rec["ISO"]) or "").upper() or None
            if action == "phase_out" and day:
                phase_outs[(iso3, fold(measure))].append(day)
            admin = _text(rec.get("ADMIN_LEVEL_NAME"))
            values = {
                "source": "acaps", "source_id": _text(rec["ID"]), "iso3": iso3,
                "country_name": _text(rec.get("COUNTRY")),
                "applies_to": "listed" if fold(_text(rec.get("TARGETED_POP_GROUP"))) in ("checked", "yes", "1")
                else "all",
                "category": mapping.get("category"), "subcategory": mapping.get("subcategory"),
                "condition_group": mapping.get("condition_group"), "action": action,
                "date_in_force": day, "date_lifted": None,
                "native_category": category_text, "native_measure": measure,
                "native_value": " / ".join(x for x in (category_text, measure) if x) + (f" ({admin})" if admin
                                                                                        else "") or None,
                "source_name": _text(rec.get("SOURCE")), "source_url": _text(rec.get("LINK")),
                "notes": _text(rec.get("COMMENTS")),
            }
            for c in FIELDS:
                cols[c].append(values[c])
            cols["_row"].append(line)
            cols["_file"].append(name)
            cols["_sheet"].append(SHEET)
            cols["_place_code"].append(iso3)
            cols["_warnings"].append("|".join(warnings) or None)
        if not report.ok:
            return len(rows)
        # A measure is lifted by the next phase-out of the same country and MEASURE.
        for dates in phase_outs.values():
            dates.sort()
        for i in range(len(cols["_row"])):
            start = cols["date_in_force"][i]
            if cols["action"][i] != "introduce" or start is None:
                continue
            later = phase_outs.get((cols["iso3"][i], fold(cols["native_measure"][i])))
            if later:
                k = bisect.bisect_left(later, start)
                cols["date_lifted"][i] = later[k] if k < len(later) else None
        n = trackers.stage_rows(eng, table, cols)
        for value, where in sorted(unmapped.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            report.add(Finding("travel.category-unmapped", f"MEASURE {value!r} maps to no IOM category (acaps_measure in "
                               f"the travel pack): {len(where)} rows kept with an empty category", severity=WARNING,
                               file=where[0][0], sheet=SHEET, row=where[0][1], column="MEASURE", value=value or None))
        trackers.flag_rows(eng, table, report, "travel.date-in-force-missing", "date_in_force IS NULL",
                           "DATE_IMPLEMENTED is empty: the measure is kept but never in force",
                           column="DATE_IMPLEMENTED", severity=WARNING)
        trackers.warn_nonstandard(eng, table, report, "ISO")
        return n



def _log_types() -> list[str]:
    return list((load_mappings().get("acaps_log_type") or {}).keys())
