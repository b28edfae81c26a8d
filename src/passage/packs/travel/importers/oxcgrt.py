"""OxCGRT C8 international travel controls (0-4, daily) onto the `travel_level` form.

Two layouts, told apart by their header (column names, any order):

- the legacy wide timeseries (`c8_internationaltravel.csv`): an unnamed index column, `country_code`,
  `country_name`, then one column per day named like `01Jan2020`; a cell is the level, blank or `NA` = no data.
  Indicator `C8`.
- the long national file (`OxCGRT_nat_latest.csv` and kin): `CountryCode`, `Date` (YYYYMMDD), `Jurisdiction`
  (only `NAT_TOTAL` rows are national; `STATE_TOTAL` / RegionCode rows are subnational and skipped), and
  `C8_International travel controls` or, after July 2022, `C8EV_...`, `C8NV_...`, `C8V_...` (indicator = the part
  before `_`); values like `3.0`. The many other columns (C1..H8, flags, indices) are ignored.

Blank cells are not stored: a missing row means no data. Rows are file lines, the column is the date column
(wide) or the indicator column (long). Unpivoting runs in DuckDB.
"""

from __future__ import annotations

import re
from datetime import date

import duckdb

from passage.findings import Finding, Report
from passage.ingest.files import SourceFile
from passage.ingest.importer import Importer
from passage.packs.travel.importers import trackers

MONTHS = {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                      "dec"], start=1)}
WIDE_DATE = re.compile(r"(\d{1,2})([A-Za-z]{3})(\d{4})")
LONG_C8 = re.compile(r"(C8[A-Z]*)_International travel controls", re.IGNORECASE)
WIDE_KNOWN = ["country_code", "country_name"]
LONG_KNOWN = ["CountryCode", "CountryName", "RegionCode", "RegionName", "Jurisdiction", "Date"]
WIDE_OPTIONAL_TEXT = {"region_code", "region_name", "jurisdiction"}  # not dates, not used
LEVEL = r"[0-4](\.0*)?"
NUMBER = r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
FIELDS = ["source", "iso3", "country_name", "date", "indicator", "value"]


def parse_wide_date(text: str) -> str | None:
    m = WIDE_DATE.fullmatch(text.strip())
    if not m or m.group(2).lower() not in MONTHS:
        return None
    try:
        return date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1))).isoformat()
    except ValueError:
        return None


def _missing_sql(col: str) -> str:
    words = ", ".join(f"'{w}'" for w in trackers.MISSING)
    return f"(lower(trim(coalesce({col}, ''))) IN ({words}))"


class OxcgrtImporter(Importer):
    kind = "oxcgrt"
    pack = "travel"
    form_id = "travel_level"
    description = "OxCGRT C8 international travel controls: legacy wide timeseries or the long national file"
    examples = ("passage import oxcgrt c8_internationaltravel.csv",)

    def stage(self, eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report) -> int:
        total, code_column = 0, None
        for f in files:
            header = trackers.csv_head(f.path, f.name, report, "OxCGRT")
            if header is None:
                continue
            folded = {h.casefold() for h in header}
            if "countrycode" in folded and "date" in folded:
                code_column = code_column or "CountryCode"
                total += self._long(eng, f, header, table, report, append=total > 0)
            elif "country_code" in folded:
                code_column = code_column or "country_code"
                total += self._wide(eng, f, header, table, report, append=total > 0)
            else:
                report.add(Finding("column-missing", "neither OxCGRT layout: the wide timeseries needs "
                                   "`country_code` and date columns, the long file `CountryCode`, `Date` and a C8 "
                                   "column", file=f.name, row=1, column="country_code"))
        if not report.ok:
            return total
        if total == 0:
            report.add(Finding("file-empty", "no C8 level in the file(s): every cell is blank",
                               file=files[0].name if files else None))
            return 0
        trackers.warn_nonstandard(eng, table, report, code_column or "country_code")
        return total

    # ------------------------------------------------------------------ wide legacy timeseries

    def _wide(self, eng, f: SourceFile, header: list[str], table: str, report: Report, append: bool) -> int:
        pos = trackers.find_columns(header, WIDE_KNOWN)
        if trackers.missing_columns(pos, ["country_code"], report, f.name, "OxCGRT wide"):
            return 0
        dates: dict[str, tuple[int, str, str]] = {}  # alias -> (position, header, ISO date)
        seen: dict[str, str] = {}
        for i, h in enumerate(header):
            if i in pos.values() or not h or h.casefold() in WIDE_OPTIONAL_TEXT:
                continue  # the unnamed index column, a blank trailing column
            iso = parse_wide_date(h)
            if iso is None:
                report.add(Finding("travel.date-column-invalid", f"column {i + 1} {h!r} is not a date like 01Jan2020",
                                   file=f.name, row=1, column=h, value=h))
            elif iso in seen:
                report.add(Finding("column-duplicate", f"{h!r} is the same day as {seen[iso]!r}", file=f.name,
                                   row=1, column=h, value=h))
            else:
                seen[iso] = h
                dates[f"d{i}"] = (i, h, iso)
        if not report.ok:
            return 0
        if not dates:
            report.add(Finding("column-missing", "no date column (01Jan2020, ...) after country_code",
                               file=f.name, row=1))
            return 0
        picks = {"cc": pos["country_code"], **({"cn": pos["country_name"]} if "country_name" in pos else {}),
                 **{a: p for a, (p, _, _) in dates.items()}}
        wide, long = f"{table}_wide", f"{table}_long"
        try:
            if not trackers.read_picked(eng, f, wide, len(header), picks, report):
                return 0
            cols = ", ".join(f'"{a}"' for a in dates)
            eng.execute(
                f"CREATE OR REPLACE TEMP TABLE {long} AS SELECT _row, cc, {'cn' if 'cn' in picks else 'NULL'} AS cn, "
                f"col, trim(v) AS v FROM {wide} UNPIVOT (v FOR col IN ({cols})) WHERE NOT {_missing_sql('v')}")
            eng.execute(f"CREATE OR REPLACE TEMP TABLE {long}_dates (col VARCHAR, head VARCHAR, day VARCHAR)")
            eng.executemany(f"INSERT INTO {long}_dates VALUES (?, ?, ?)",
                            [[a, h, iso] for a, (_, h, iso) in dates.items()])
            ok = self._check_levels(eng, f"(SELECT l._row, l.v, d.head AS col FROM {long} l JOIN {long}_dates d "
                                    "USING (col))", report, f.name)
            if not ok:
                return 0
            return self._append(eng, table, f.name, "d.day", "'C8'", f"{long} l JOIN {long}_dates d USING (col)",
                                "d.day", append)
        finally:
            for t in (wide, long, f"{long}_dates"):
                eng.execute(f"DROP TABLE IF EXISTS {t}")

    # ------------------------------------------------------------------ long national file

    def _long(self, eng, f: SourceFile, header: list[str], table: str, report: Report, append: bool) -> int:
        pos = trackers.find_columns(header, LONG_KNOWN)
        if trackers.missing_columns(pos, ["CountryCode", "Date"], report, f.name, "OxCGRT long"):
            return 0
        indicators: dict[str, tuple[int, str]] = {}  # alias -> (position, indicator)
        for i, h in enumerate(header):
            m = LONG_C8.fullmatch(h)
            if m:
                ind = m.group(1).upper()
                if any(ind == x for _, x in indicators.values()):
                    report.add(Finding("column-duplicate", f"two columns for {ind}", file=f.name, row=1, column=h))
                indicators[f"i{i}"] = (i, ind)
        if not indicators:
            report.add(Finding("column-missing", "no C8 column (`C8_International travel controls`, `C8EV_...`, "
                               "`C8NV_...` or `C8V_...`)", file=f.name, row=1,
                               column="C8EV_International travel controls"))
        if not report.ok:
            return 0
        picks = {"cc": pos["CountryCode"], "dt": pos["Date"],
                 **{k: pos[c] for k, c in (("cn", "CountryName"), ("rc", "RegionCode"), ("ju", "Jurisdiction"))
                    if c in pos},
                 **{a: p for a, (p, _) in indicators.items()}}
        raw, long = f"{table}_lraw", f"{table}_long"
        try:
            if not trackers.read_picked(eng, f, raw, len(header), picks, report):
                return 0
            # National rows only: Jurisdiction NAT_TOTAL, or (older files) no region code.
            if "ju" in picks:
                national = "upper(trim(coalesce(ju, ''))) = 'NAT_TOTAL'"
            elif "rc" in picks:
                national = "trim(coalesce(rc, '')) = ''"
            else:
                national = "true"
            cn = "cn" if "cn" in picks else "NULL"
            cols = ", ".join(f'"{a}"' for a in indicators)
            eng.execute(f"CREATE OR REPLACE TEMP TABLE {long} AS SELECT _row, cc, {cn} AS cn, trim(dt) AS dt, col, "
                        f"trim(v) AS v FROM (SELECT * FROM {raw} WHERE {national}) "
                        f"UNPIVOT (v FOR col IN ({cols})) "
                        f"WHERE NOT {_missing_sql('v')}")
            eng.execute(f"CREATE OR REPLACE TEMP TABLE {long}_ind (col VARCHAR, head VARCHAR, indicator VARCHAR)")
            eng.executemany(f"INSERT INTO {long}_ind VALUES (?, ?, ?)",
                            [[a, header[p], ind] for a, (p, ind) in indicators.items()])
            ok = self._check_levels(eng, f"(SELECT l._row, l.v, i.head AS col FROM {long} l JOIN {long}_ind i "
                                    "USING (col))", report, f.name)
            day = "strftime(TRY_STRPTIME(l.dt, '%Y%m%d'), '%Y-%m-%d')"
            bad_dates = eng.execute(
                f"SELECT _row, dt FROM (SELECT DISTINCT l._row, l.dt FROM {long} l WHERE l.dt = '' OR l.dt IS NULL "
                f"OR NOT regexp_full_match(l.dt, '[0-9]{{8}}') OR {day} IS NULL) ORDER BY _row LIMIT 200").fetchall()
            for row, dt in bad_dates:
                if not dt:
                    report.add(Finding("travel.date-missing", "Date is empty", file=f.name, row=row, column="Date"))
                else:
                    report.add(Finding("travel.date-invalid", "Date must be YYYYMMDD", file=f.name, row=row, column="Date",
                                       value=dt))
            if not ok or bad_dates:
                return 0
            return self._append(eng, table, f.name, day, "i.indicator", f"{long} l JOIN {long}_ind i USING (col)",
                                "i.indicator", append)
        finally:
            for t in (raw, long, f"{long}_ind"):
                eng.execute(f"DROP TABLE IF EXISTS {t}")

    # ------------------------------------------------------------------ shared

    def _check_levels(self, eng, cells: str, report: Report, name: str) -> bool:
        """Levels are whole numbers 0-4 (`3.0` is 3); `cells` gives _row, v (text) and col (header)."""
        ok = True
        for code, where, text in [
            ("travel.level-out-of-range", f"regexp_full_match(v, '{NUMBER}')", "a C8 level is a whole number from 0 to 4"),
            ("travel.level-not-number", f"NOT regexp_full_match(v, '{NUMBER}')",
             "a C8 level is a number from 0 to 4 (blank or NA: no data)"),
        ]:
            cond = f"NOT regexp_full_match(v, '{LEVEL}') AND {where}"
            total = eng.execute(f"SELECT count(*) FROM {cells} AS c WHERE {cond}").fetchall()[0][0]
            if not total:
                continue
            ok = False
            for row, col, v in eng.execute(f"SELECT _row, col, v FROM {cells} AS c WHERE {cond} "
                                           f"ORDER BY _row, col LIMIT 200").fetchall():
                report.add(Finding(code, text, file=name, row=row, column=col, value=v))
            report.count(code, report.counts.get(code, 0) - min(total, 200) + total)
        return ok

    def _append(self, eng, table: str, name: str, day: str, indicator: str, cells: str, order: str,
                append: bool) -> int:
        """Stage the checked levels of one file as form rows; `cells` is the FROM clause (levels as `l`)."""
        select = ("SELECT l._row AS _row, ? AS _file, NULL::VARCHAR AS _sheet, 'oxcgrt' AS source, "
                  f"nullif(upper(trim(l.cc)), '') AS iso3, nullif(trim(l.cn), '') AS country_name, {day} AS date, "
                  f"{indicator} AS indicator, CAST(CAST(CAST(l.v AS DOUBLE) AS INTEGER) AS VARCHAR) AS value, "
                  "nullif(upper(trim(l.cc)), '') AS _place_code, NULL::VARCHAR AS _warnings "
                  f"FROM {cells} ORDER BY l._row, {order}")
        before = eng.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] if append else 0
        if append:
            eng.execute(f"INSERT INTO {table} {select}", [name])
        else:
            eng.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}", [name])
        return eng.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before
