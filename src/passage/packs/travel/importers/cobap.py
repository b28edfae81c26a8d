"""COBAP's policy list (COVID Border Accountability Project) onto the `travel_measure` form.

Columns are found by name, in any order and any case (`ID, COUNTRY_NAME, ISO3, ISO2, POLICY_TYPE,
POLICY_SUBTYPE, START_DATE, END_DATE, AIR, AIR_TYPE, ..., COMMENTS, OLD_ID`; source columns differ between
releases and are read when present). Quirks handled here, once:

- Dates: COBAP's documentation says DD_MM_YY, its files hold MM_DD_YY. The order is read from the values of
  the whole file (START_DATE and END_DATE together): a first part above 12 means day first, a second part above
  12 month first; both seen is `travel.date-order-mixed`; neither (and not ISO) is `travel.date-order-ambiguous`, unless the
  order is given (`passage import cobap-dmy` / `cobap-mdy`). Separators `_ / - .`, two- or four-digit years
  and ISO dates are read.
- `END_DATE` is the last day a policy is in force (Saint Lucia's LC03 ends 04_15_20, LC05 starts 04_16_20), while
  the form's `date_lifted` is the first day it no longer is (ACAPS's phase-out day): `date_lifted` = END_DATE + 1.
  NONE (or blank, NA) = still in force: `date_lifted` NULL. An end before the start is kept, warned.
- Non-ISO codes (XKX Kosovo, SOL Somaliland, EUR Schengen area) are kept with a warning.
- `NA` means "not applicable" in the type and list columns, but is Namibia in ISO2: only the former read it so.
- POLICY_TYPE / POLICY_SUBTYPE map to IOM categories by the pack's `cobap_policy_type` and
  `cobap_policy_subtype` tables; the native values are kept (native_category, native_measure, native_value).
Rows are the file's lines (a record's first line, so multi-line comments keep later lines true).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date, timedelta
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict

from passage.findings import WARNING, Finding, Report
from passage.ingest.files import SourceFile
from passage.ingest.importer import Importer
from passage.packs.travel.importers import trackers
from passage.packs.travel.importers.mappings import load_mappings

REQUIRED = ["ID", "ISO3", "POLICY_TYPE", "START_DATE"]
OPTIONAL = ["COUNTRY_NAME", "ISO2", "POLICY_SUBTYPE", "END_DATE", "AIR", "AIR_TYPE", "TARGETS_AIR", "LAND",
            "LAND_TYPE", "TARGETS_LAND", "SEA", "SEA_TYPE", "TARGETS_SEA", "CITIZEN", "CITIZEN_LIST", "HISTORY_BAN",
            "HISTORY_BAN_LIST", "REFUGEE", "REFUGEE_LIST", "VISA_BAN", "VISA_BAN_TYPE", "VISA_BAN_LIST",
            "CITIZEN_EXCEP", "CITIZEN_EXCEP_LIST", "COUNTRY_EXCEP", "COUNTRY_EXCEP_LIST", "WORK_EXCEP",
            "SOURCE_QUALITY", "SOURCE_TYPE", "COMMENTS", "OLD_ID"]
# Where a policy's source link is, in the order tried (releases name them differently).
URL_COLUMNS = ["INTERNAL_GOVT_SOURCE", "GOVT_SOCIAL_MED_SOURCE", "EXT_GOVT_SOURCE", "INTERNAL_MEDIA_SOURCE",
               "EXT_MEDIA_SOURCE", "AIRLINE_SOURCE", "INSURANCE_SOURCE", "OTHER_SOURCE", "SOURCE0", "SOURCE1",
               "SOURCE2", "SOURCE3", "SOURCE4", "SOURCE5"]
DATE_COLUMNS = ["START_DATE", "END_DATE"]
OPEN_END = {"", "none", "na", "n/a", "ongoing"}
# A date in any order and separator, with a time of day some exports add ("2020-03-16 00:00:00", "3/16/2020 0:00").
DATE_RE = re.compile(r"(\d{1,4})[_/.\- ](\d{1,2})[_/.\- ](\d{2,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
ORDERS = {"dmy": "day first (DD_MM_YY)", "mdy": "month first (MM_DD_YY)"}
FIELDS = ["source", "source_id", "iso3", "country_name", "applies_to", "category", "subcategory", "exceptions",
          "action", "date_in_force", "date_lifted", "native_category", "native_measure", "native_value",
          "source_name", "source_url", "notes"]


def split_date(text: str) -> tuple[str, int, int, int] | None:
    """('iso', y, m, d) for a year-first date, ('?', a, b, y) for the others; None if it is no date at all."""
    m = DATE_RE.fullmatch(text.strip())
    if not m:
        return None
    a, b, c = m.groups()
    if len(a) == 4:
        return ("iso", int(a), int(b), int(c)) if len(c) <= 2 else None
    if len(a) > 2 or len(c) == 3:
        return None
    year = int(c) + (2000 if len(c) == 2 else 0)
    return ("?", int(a), int(b), year)


def to_iso(parts: tuple[str, int, int, int], order: str | None) -> str | None:
    kind, a, b, c = parts
    try:
        if kind == "iso":
            return date(a, b, c).isoformat()
        if order is None:
            return None
        day, month = (a, b) if order == "dmy" else (b, a)
        return date(c, month, day).isoformat()
    except ValueError:
        return None


def lifted(end: str | None) -> str | None:
    """The form's `date_lifted` (first day no longer in force) of an ISO END_DATE (last day in force)."""
    return None if end is None else (date.fromisoformat(end) + timedelta(days=1)).isoformat()


class CobapImporter(Importer):
    kind = "cobap"
    pack = "travel"
    form_id = "travel_measure"
    description = "COBAP policy list (policy_list.csv): border closure policies, dates in the file's own order"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        date_order: Literal["dmy", "mdy"] | None = None  # for files whose dates no value tells the order of

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.date_order = self.options.date_order
        if self.date_order:  # cobap-dmy, cobap-mdy
            self.description = f"{self.description}; every date read {'day' if self.date_order == 'dmy' else 'month'} first"

    def stage(self, eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report) -> int:
        rows: list[tuple[SourceFile, int, dict[str, str]]] = []  # (file, line, column -> text)
        for f in files:
            rows += self._read(f, report)
        if not report.ok:
            return len(rows)
        if not rows:
            report.add(Finding("file-empty", "the file has a header but no data rows", file=files[0].name, row=2))
            return 0
        days = self._dates(rows, report)
        if days is None:  # the file's date order cannot be told: no row can be read
            return len(rows)
        # Rows whose own dates are wrong are staged too (their dates empty), located by their findings: an
        # import that quarantines sets them aside; one that rejects stops after staging.
        return self._stage(eng, table, rows, days, report)

    # ------------------------------------------------------------------ reading

    def _read(self, f: SourceFile, report: Report) -> list[tuple[SourceFile, int, dict[str, str]]]:
        header = trackers.csv_head(f.path, f.name, report, "COBAP")
        if header is None:
            return []
        pos = trackers.find_columns(header, REQUIRED + OPTIONAL + URL_COLUMNS)
        if trackers.missing_columns(pos, REQUIRED, report, f.name, "COBAP"):
            return []
        out = []
        try:
            with f.path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh)
                next(reader)
                line = reader.line_num + 1
                for rec in reader:
                    start, line = line, reader.line_num + 1
                    if not any(c.strip() for c in rec):
                        continue
                    if len(rec) != len(header):
                        report.add(Finding("csv-malformed", f"expected {len(header)} fields, found {len(rec)}",
                                           file=f.name, row=start))
                        continue
                    out.append((f, start, {c: rec[i].strip() for c, i in pos.items()}))
        except UnicodeDecodeError as exc:
            report.add(Finding("encoding", f"byte {exc.start} is not valid UTF-8 (save the file as UTF-8)",
                               file=f.name))
        except csv.Error as exc:
            report.add(Finding("csv-malformed", str(exc)[:200], file=f.name))
        return out

    # ------------------------------------------------------------------ dates

    def _dates(self, rows, report: Report) -> dict[str, str | None] | None:
        """Each distinct date text -> ISO date (None: open end or not a date); detects the file's order first.
        None when the order cannot be told (a problem of the whole file)."""
        seen: dict[str, tuple] = {}
        first: dict[str, tuple] = {}  # evidence: 'dmy'/'mdy' -> (file, row, column, value)
        for f, line, rec in rows:
            for col in DATE_COLUMNS:
                text = rec.get(col, "")
                if text.casefold() in OPEN_END:
                    if col == "START_DATE":
                        said = f"START_DATE is {text}" if text else "START_DATE is empty"
                        report.add(Finding("travel.date-missing", f"{said}: a policy needs its start date",
                                           file=f.name, row=line, column=col, value=text or None))
                    continue
                parts = seen.get(text) if text in seen else seen.setdefault(text, split_date(text))
                if parts is None:
                    report.add(Finding("travel.date-invalid", f"{col} is not a date (like 03_23_20 or 2020-03-23)",
                                       file=f.name, row=line, column=col, value=text))
                    continue
                if parts[0] == "?":
                    if parts[1] > 12 and parts[2] <= 12:
                        first.setdefault("dmy", (f.name, line, col, text))
                    elif parts[2] > 12 and parts[1] <= 12:
                        first.setdefault("mdy", (f.name, line, col, text))
        order = self.date_order
        if order is None:
            if len(first) == 2:
                for o, (name, line, col, text) in sorted(first.items()):
                    report.add(Finding("travel.date-order-mixed", f"this date can only be {ORDERS[o]}, while another row's "
                                       f"can only be {ORDERS['mdy' if o == 'dmy' else 'dmy']}", file=name, row=line,
                                       column=col, value=text))
                return None
            if first:
                order = next(iter(first))
            elif any(p and p[0] == "?" for p in seen.values()):
                names = sorted({f.name for f, _, _ in rows})
                for col in DATE_COLUMNS:
                    report.add(Finding("travel.date-order-ambiguous", f"no {col} in {', '.join(names)} has a part above 12: "
                                       "day first and month first both fit; give the order (cobap-dmy or cobap-mdy)",
                                       file=names[0], column=col))
                return None
        days: dict[str, str | None] = {}
        for f, line, rec in rows:
            for col in DATE_COLUMNS:
                text = rec.get(col, "")
                if text.casefold() in OPEN_END:
                    days[text] = None
                    continue
                if seen.get(text) is None:  # not a date at all: reported above
                    days[text] = None
                    continue
                iso = to_iso(seen[text], order)
                if iso is None:
                    report.add(Finding("travel.date-invalid", f"{col} {text!r} is no calendar date read "
                                       f"{ORDERS.get(order or '', 'year first')}", file=f.name, row=line, column=col,
                                       value=text))
                days[text] = iso
        return days

    # ------------------------------------------------------------------ mapping

    def _stage(self, eng, table: str, rows, days: dict[str, str | None], report: Report) -> int:
        maps = load_mappings()
        types = {k.upper(): v or {} for k, v in (maps.get("cobap_policy_type") or {}).items()}
        subtypes = {k.upper(): v or {} for k, v in (maps.get("cobap_policy_subtype") or {}).items()}
        cols: dict[str, list] = {c: [] for c in ["_row", "_file", "_sheet", *FIELDS, "_place_code", "_warnings"]}
        unmapped: dict[str, list] = defaultdict(list)  # native value -> [(file, row)]
        backwards = []
        for f, line, rec in rows:
            ptype, sub = rec.get("POLICY_TYPE", ""), rec.get("POLICY_SUBTYPE", "")
            t, s = types.get(ptype.upper()), subtypes.get(sub.upper(), {})
            category = (t or {}).get("category")
            subcategory = (t or {}).get("subcategory") or (s.get("subcategory") if category == "entry_restriction"
                                                           else None)
            warnings = []
            if t is None or (category == "entry_restriction" and not subcategory):
                unmapped[f"{ptype}/{sub}" if t is not None else ptype].append((f.name, line))
                warnings.append("travel.category-unmapped")
            start, end = days.get(rec.get("START_DATE", "")), days.get(rec.get("END_DATE", ""))
            if start and end and end < start:
                backwards.append((f.name, line, f"{rec.get('START_DATE')} -> {rec.get('END_DATE')}"))
                warnings.append("travel.date-lifted-before-in-force")
            iso3 = rec.get("ISO3", "").upper() or None
            ports = [p.lower() for p in ("AIR", "LAND", "SEA") if rec.get(p) == "1"]
            listed = any(rec.get(c) == "1" for c in ("CITIZEN", "HISTORY_BAN", "REFUGEE")) or any(
                rec.get(c, "").casefold() == "specific" for c in ("AIR_TYPE", "LAND_TYPE", "SEA_TYPE", "VISA_BAN_TYPE"))
            url = next((rec[c] for c in URL_COLUMNS if rec.get(c)), None)
            values = {
                "source": "cobap", "source_id": rec.get("ID") or None, "iso3": iso3,
                "country_name": rec.get("COUNTRY_NAME") or None, "applies_to": "listed" if listed else "all",
                "category": category, "subcategory": subcategory,
                "exceptions": (" ".join(s.get("exceptions") or []) or None) if category != "not_travel" else None,
                "action": "introduce", "date_in_force": start, "date_lifted": lifted(end),
                "native_category": ptype or None, "native_measure": sub or None,
                "native_value": (f"{ptype}/{sub}" + (f" {','.join(ports)}" if ports else "")) or None,
                "source_name": f"COBAP ({rec['SOURCE_QUALITY']})" if rec.get("SOURCE_QUALITY") else "COBAP",
                "source_url": url, "notes": rec.get("COMMENTS") or None,
            }
            for c in FIELDS:
                cols[c].append(values[c])
            cols["_row"].append(line)
            cols["_file"].append(f.name)
            cols["_sheet"].append(None)
            cols["_place_code"].append(iso3)
            cols["_warnings"].append("|".join(warnings) or None)
        n = trackers.stage_rows(eng, table, cols)
        for value, where in sorted(unmapped.items()):
            report.add(Finding("travel.category-unmapped", f"POLICY_TYPE/POLICY_SUBTYPE {value!r} maps to no IOM category"
                               f" (cobap_policy_type / cobap_policy_subtype in the travel pack): {len(where)} rows "
                               "kept with an empty category", severity=WARNING, file=where[0][0], row=where[0][1],
                               column="POLICY_TYPE", value=value))
        for name, line, value in backwards[:200]:
            report.add(Finding("travel.date-lifted-before-in-force", "END_DATE is before START_DATE: never in force",
                               severity=WARNING, file=name, row=line, column="END_DATE", value=value))
        if len(backwards) > 200:
            report.count("travel.date-lifted-before-in-force", len(backwards))
        trackers.warn_nonstandard(eng, table, report, "ISO3")
        return n

