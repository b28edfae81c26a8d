"""The year-end staff register (`passage import staff-register FILE`), mapped onto the `staff_member` form.

One row per staff member: `staff_id, category, grade, nationality, nationality_group, sex, appointment_type`,
and the year: a `year` column, else `--year`, else a 4-digit year in the file name. A register is a snapshot: every row gets the sha256
of the imported file(s) as `register`, so a later register of the same year is a new snapshot beside the
earlier one (tables use the latest; nothing is lost). Besides the form's own checks (choices for category,
grade, group, sex, appointment type; required values; a staff_id once per register) the importer checks that a
grade belongs to its category (error) and that a nationality is in the nationality list (a warning: the list
of Member States changes from year to year, the register decides who is employed, and the tables add an
unlisted nationality after its section's listed countries rather than drop anyone).
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from passage.checks import Context, flag, q
from passage.findings import WARNING, Finding, Report
from passage.ingest import csvfile
from passage.ingest.importer import Importer
from passage.ingest.files import SourceFile, combined_sha256

COLUMNS = ["staff_id", "category", "grade", "nationality", "nationality_group", "sex", "appointment_type"]
_YEAR = re.compile(r"(?<![0-9])(19[0-9]{2}|20[0-9]{2}|2100)(?![0-9])")


def file_year(name: str) -> tuple[int | None, str]:
    """The one 4-digit year in a file name, else None and why not."""
    found = sorted(set(_YEAR.findall(name)))
    if len(found) == 1:
        return int(found[0]), ""
    if found:
        return None, f"the file name holds several years ({', '.join(found)})"
    return None, "the file name holds no 4-digit year"


class YearOption(BaseModel):
    """The year a register or list is for, when its file has no year column."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    year: int | None = Field(None, ge=1900, le=2100)


def stage_csv(eng: duckdb.DuckDBPyConnection, f: SourceFile, table: str, report: Report, columns: list[str],
              snapshot: tuple[str, str], append: bool, what: str, year: int | None = None) -> int:
    """Stage one CSV whose `columns` are all required, plus an optional `year` column (else `year`, the import's
    `--year`, else the file name's year).

    `snapshot` is (field, value): the field naming the snapshot every row belongs to. Other columns are
    left out with a warning. Returns the rows staged.
    """
    head = csvfile.read_head(f.path, report, lines=1)
    if head is None:
        return 0
    header = [h.strip() for h in head[0]]
    for i, col in enumerate(header):
        if col not in columns and col != "year":
            report.add(Finding("column-unexpected", f"column {i + 1} {col!r} is not a {what} column; it is left out",
                               severity=WARNING, file=f.name, row=1, column=col))
    csvfile.check_header(header, header, columns, report, f.name)  # duplicates and missing columns
    if not report.ok:
        return 0
    why = ""
    if year is None:
        year, why = file_year(f.name)
    given = csvfile.sql_str(str(year)) if year else "NULL::VARCHAR"
    if "year" in header:
        year_sql = f"coalesce(nullif(trim(src.\"year\"), ''), {given})"
    elif year:
        year_sql = given
    else:
        report.add(Finding("staff.year_missing", f"no `year` column, no --year, and {why}", file=f.name, row=1,
                           column="year"))
        return 0
    select = ", ".join([
        "src._row AS _row", "src._file AS _file", "NULL::VARCHAR AS _sheet", f"{year_sql} AS year",
        f"{csvfile.sql_str(snapshot[1])} AS {q(snapshot[0])}",
        *(f"nullif(trim(src.{q(c)}), '') AS {q(c)}" for c in columns),
    ])
    counted = csvfile.count_records(f, report)
    if not report.ok:
        return 0
    view = f"{table}_raw"
    csvfile.raw_view(eng, f.path, view, [h or f"_unnamed_{i}" for i, h in enumerate(header)], skip=1)
    first = eng.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] if append else 0
    try:
        n = csvfile.materialise(eng, view, table, select, report, f.name, append)
    finally:
        eng.execute(f"DROP VIEW IF EXISTS {view}")
    csvfile.check_row_count(f, counted, n, skip=1, columns=len(header), report=report)
    if n:
        csvfile.number_rows(eng, table, first, skip=1, blank_lines=f.blank_lines, columns=len(header))
    elif report.ok:
        report.add(Finding("file-empty", "the file has a header but no data rows", file=f.name, row=2))
    return n


def stage_snapshot(eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report,
                   columns: list[str], field: str, what: str, year: int | None) -> int:
    """Stage every file as one snapshot: `field` holds the sha256 of the files together on every row."""
    snapshot = combined_sha256(files)
    total = 0
    for f in files:
        total += stage_csv(eng, f, table, report, columns, (field, snapshot), total > 0, what, year)
        if not report.ok:
            break
    return total


class StaffRegisterImporter(Importer):
    kind = "staff-register"
    pack = "staff"
    form_id = "staff_member"
    description = ("Year-end staff register CSV: staff_id, category, grade, nationality, nationality_group, sex, "
                   "appointment_type [, year]")
    examples = ("passage import staff-register staff_register_2020.csv",
                "passage import staff-register --year 2021 register.csv")
    Options = YearOption  # `passage import ... --year 2020 FILE`, for files without a year column

    def stage(self, eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report) -> int:
        return stage_snapshot(eng, files, table, report, COLUMNS, "register", "register", self.options.year)

    def after_checks(self, ctx: Context, import_id: int) -> None:
        """The pack's register checks: grades by category, nationalities in the list."""
        _check_grades(ctx)
        _check_nationalities(ctx, ctx.extra.get("store"))

    def check_edit(self, ctx: Context) -> None:
        """A record edit (`passage.edits`) meets the register checks an imported row meets."""
        self.after_checks(ctx, 0)


def _lit(values: list[str]) -> str:
    return "[" + ", ".join(csvfile.sql_str(v) for v in values) + "]"


def _check_grades(ctx: Context) -> None:
    from passage.packs.staff.reference import annexes

    cats = [a["category"] for a in annexes().values()]
    grades = sorted({g for a in annexes().values() for g in a["grades"]})
    pairs = [f"{a['category']}|{g}" for a in annexes().values() for g in a["grades"]]
    which = "; ".join(f"{a['category']}: {', '.join(a['grades'])}" for a in annexes().values())
    flag(ctx, "staff.grade_category",
         f"list_contains({_lit(cats)}, category) AND list_contains({_lit(grades)}, grade) "
         f"AND NOT list_contains({_lit(pairs)}, category || '|' || grade)",
         f"the grade is not a grade of the staff member's category ({which})", column="grade",
         value="category || ': ' || grade")


def _check_nationalities(ctx: Context, store: Any) -> None:
    from passage.packs.staff.reference import annexes, nationality_list

    eng, src = ctx.eng, ctx.table
    years = [r[0] for r in eng.execute(
        f"SELECT DISTINCT TRY_CAST(year AS INTEGER) AS y FROM {src} WHERE y IS NOT NULL").fetchall()]
    listed = f"{src}_listed".replace("_keyed", "")
    eng.execute(f"CREATE OR REPLACE TEMP TABLE {listed} (year INTEGER, category VARCHAR, section VARCHAR, "
                "country VARCHAR)")
    ctx.extra.setdefault("temp_tables", []).append(listed)
    sources = []
    for year in years:
        nat = nationality_list(store, year)
        sources.append(nat.source)
        rows = [(year, annexes()[name]["category"], section, country)
                for name, entries in nat.tables.items() if name in annexes() for section, country in entries]
        if rows:
            eng.executemany(f"INSERT INTO {listed} VALUES (?, ?, ?, ?)", rows)
    cats = [a["category"] for a in annexes().values()]
    flag(ctx, "staff.nationality_unlisted",
         f"list_contains({_lit(cats)}, category) AND nationality IS NOT NULL "
         f"AND list_contains(['member', 'observer_other'], nationality_group) "
         f"AND TRY_CAST(year AS INTEGER) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {listed} l "
         f"WHERE l.year = TRY_CAST({src}.year AS INTEGER) AND l.category = {src}.category "
         f"AND l.section = {src}.nationality_group AND l.country = {src}.nationality)",
         "the nationality is not in the nationality list under this category and group "
         f"({'; '.join(sorted(set(sources)))}); the tables add it after its section's listed countries "
         "(use Other, or import an updated list: passage import nationality-list FILE)",
         column="nationality", value="nationality_group || ': ' || nationality", severity=WARNING)
