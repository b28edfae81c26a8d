"""The nationality list (`passage import nationality-list FILE`): the Member States and observers/others each
staff annex lists, in the report's order, mapped onto the `staff_nationality` form.

Columns `annex, section, country` (the file's order is the table's order) and a `year` column or a 4-digit
year in the file name: the list applies from that year on, until a list of a later year is imported. Like a
register it is a snapshot (`list` = the file's sha256); the latest import of a year wins. A list must name
countries for every annex, and a country once per annex (the record key, `year, list, annex, country`).
"""

from __future__ import annotations

import duckdb

from passage.checks import Context
from passage.findings import Finding, Report
from passage.ingest.importer import Importer
from passage.ingest.files import SourceFile
from passage.packs.staff.importers.staff_register import YearOption, stage_snapshot

COLUMNS = ["annex", "section", "country"]


class NationalityListImporter(Importer):
    kind = "nationality-list"
    pack = "staff"
    form_id = "staff_nationality"
    description = "Member States and observers/others per staff annex, in order: annex, section, country [, year]"
    Options = YearOption  # `passage import ... --year 2020 FILE`, for files without a year column

    def stage(self, eng: duckdb.DuckDBPyConnection, files: list[SourceFile], table: str, report: Report) -> int:
        total = stage_snapshot(eng, files, table, report, COLUMNS, "list", "nationality list", self.options.year)
        if total and report.ok:  # the order of the lines is the order of the table
            eng.execute(f"ALTER TABLE {table} ADD COLUMN position VARCHAR")
            eng.execute(f"UPDATE {table} SET position = CAST(rowid + 1 AS VARCHAR)")
        return total

    def after_checks(self, ctx: Context, import_id: int) -> None:
        from passage.packs.staff.reference import annexes

        eng, src = ctx.eng, ctx.table  # a country twice in an annex, whatever its section: the key's duplicate-key
        for name in annexes():
            for (year,) in eng.execute(f"SELECT DISTINCT year FROM {src} WHERE year IS NOT NULL AND NOT EXISTS "
                                       f"(SELECT 1 FROM {src} o WHERE o.year = {src}.year AND o.annex = ?)",
                                       [name]).fetchall():
                ctx.report.add(Finding("staff.list_annex_missing", f"the list for {year} names no country for {name}",
                                       column="annex", value=name))
